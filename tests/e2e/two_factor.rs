//! Two-factor login: enrol from the otpauth URI, confirm, log in with and without a code, a
//! code and a recovery code each used once, an organization that requires a second factor,
//! disabling it; and the security log every step leaves, read by owners, refused to members,
//! hidden from other tenants, and whole for operators.

use std::time::Duration;

use berth::app::Roles;
use berth_eventstore::clock::ManualClock;
use reqwest::{Method, Response};
use serde_json::{json, Value};
use time::OffsetDateTime;
use totp_rs::TOTP;

use crate::api::{problem, Account, Api};
use crate::nodes_harness::operator_token;

const PASSWORD: &str = "a long enough password";
const MEMBER_PASSWORD: &str = "another long password";

async fn post(api: &Api, path: &str, body: Value) -> Response {
    api.http
        .post(format!("{}{path}", api.command))
        .header("user-agent", "berth-tests/1")
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn login(api: &Api, email: &str, password: &str, code: Option<&str>) -> Response {
    post(api, "/v1/auth/login", json!({"email": email, "password": password, "code": code})).await
}

/// The code an authenticator shows at the clock's time.
fn code(totp: &TOTP, clock: &ManualClock) -> String {
    use berth_eventstore::clock::Clock;
    totp.generate(u64::try_from(clock.now().unix_timestamp()).unwrap())
}

/// Enrols `email` and confirms it with the authenticator's code: the generator and the
/// recovery codes.
async fn enrol(api: &Api, clock: &ManualClock, email: &str, password: &str) -> (TOTP, Vec<String>) {
    let enrolment =
        post(api, "/v1/auth/two-factor/enrol", json!({"email": email, "password": password})).await;
    assert_eq!(enrolment.status(), 200);
    let enrolment: Value = enrolment.json().await.unwrap();
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    let totp = TOTP::from_url(uri).unwrap();
    assert_eq!(totp.get_secret_base32(), enrolment["secret"].as_str().unwrap());

    // A wrong code confirms nothing, and names the field.
    let wrong = if code(&totp, clock) == "000000" { "111111" } else { "000000" };
    let refused = post(
        api,
        "/v1/auth/two-factor/confirm",
        json!({"email": email, "password": password, "code": wrong}),
    )
    .await;
    assert!(problem(refused, 401).await["detail"].as_str().unwrap().starts_with("code:"));

    let body = json!({"email": email, "password": password, "code": code(&totp, clock)});
    let confirmed = post(api, "/v1/auth/two-factor/confirm", body).await;
    assert_eq!(confirmed.status(), 200);
    let confirmed: Value = confirmed.json().await.unwrap();
    let codes: Vec<String> = confirmed["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    (totp, codes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_factor_login_with_codes_recovery_and_an_organization_that_requires_it() {
    let clock = ManualClock::at(OffsetDateTime::now_utc());
    let limits = [("BERTH_LIMITS__API_PER_MINUTE", "100000"), ("BERTH_LIMITS__AUTH_PER_MINUTE", "100000")];
    let api = Api::start_with_clock(&limits, Roles { sagas: false, ..Roles::ALL }, clock.clone()).await;
    let owner: Account = api.register("Two Factor Hosting").await;
    let member_email = format!("dev-{}@twofactor.test", uuid::Uuid::now_v7().simple());
    let (member_token, member_id, _) = api.invite_and_join(&owner, &member_email, "member").await;

    let (totp, recovery) = enrol(&api, &clock, &owner.email, PASSWORD).await;
    // Enrolling again while it is on is refused.
    let again =
        post(&api, "/v1/auth/two-factor/enrol", json!({"email": owner.email, "password": PASSWORD})).await;
    assert_eq!(problem(again, 409).await["type"], "https://berth.dev/problems/two-factor-enabled");

    // Without the code, no login; the confirming code does not work twice.
    let missing = login(&api, &owner.email, PASSWORD, None).await;
    assert!(problem(missing, 401).await["detail"].as_str().unwrap().starts_with("code:"));
    let reused = login(&api, &owner.email, PASSWORD, Some(&code(&totp, &clock))).await;
    assert!(problem(reused, 401).await["detail"].as_str().unwrap().contains("used already"));

    // Next step, next code: in; the same code again: out. A wrong password with a good code: out.
    clock.advance(time::Duration::seconds(30));
    let current = code(&totp, &clock);
    let ok = login(&api, &owner.email, PASSWORD, Some(&current)).await;
    assert_eq!(ok.status(), 200);
    let ok: Value = ok.json().await.unwrap();
    assert_eq!(ok["second_factor"], "totp");
    let owner_session = ok["token"].as_str().unwrap().to_owned();
    problem(login(&api, &owner.email, PASSWORD, Some(&current)).await, 401).await;
    problem(login(&api, &owner.email, "not the password", Some(&current)).await, 401).await;

    // A recovery code works once, whatever its case; a made-up one never.
    let ok = login(&api, &owner.email, PASSWORD, Some(&recovery[3].to_uppercase())).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.json::<Value>().await.unwrap()["second_factor"], "recovery_code");
    let used = login(&api, &owner.email, PASSWORD, Some(&recovery[3])).await;
    assert!(problem(used, 401).await["detail"].as_str().unwrap().contains("recovery code"));
    problem(login(&api, &owner.email, PASSWORD, Some("abcde-fghij")).await, 401).await;

    // Only owners set the requirement; an owner without a second factor cannot lock themselves out.
    let by_member = api
        .send(Method::PUT, "/v1/tenant/two-factor", Some(&member_token), Some(json!({"required": true})))
        .await;
    problem(by_member, 403).await;
    let bad = api
        .send(Method::PUT, "/v1/tenant/two-factor", Some(&owner_session), Some(json!({"required": "yes"})))
        .await;
    assert_eq!(bad.status().as_u16() / 100, 4);
    let required = api
        .send(Method::PUT, "/v1/tenant/two-factor", Some(&owner_session), Some(json!({"required": true})))
        .await;
    assert_eq!(required.status(), 202, "{}", required.text().await.unwrap());
    let version = required.json::<Value>().await.unwrap()["version"].as_i64().unwrap();
    api.wait_for_tenant(&owner_session, version).await;
    let (_, tenant) = api.read("/v1/tenant", &owner_session).await;
    assert_eq!(tenant["two_factor_required"], true);

    // The member without a second factor is logged out and cannot log in until they enrol.
    let (status, _) = api.read("/v1/tenant", &member_token).await;
    assert_eq!(status, 401, "the member's session outlived the requirement");
    let refused = login(&api, &member_email, MEMBER_PASSWORD, None).await;
    assert!(problem(refused, 403).await["detail"].as_str().unwrap().contains("requires two-factor"));
    let (member_totp, _) = enrol(&api, &clock, &member_email, MEMBER_PASSWORD).await;
    clock.advance(time::Duration::seconds(30));
    let member_in = login(&api, &member_email, MEMBER_PASSWORD, Some(&code(&member_totp, &clock))).await;
    assert_eq!(member_in.status(), 200);
    let member_session = member_in.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();

    // Disabling takes a right code; then the organization's requirement stops the login.
    let wrong = post(
        &api,
        "/v1/auth/two-factor/disable",
        json!({"email": member_email, "password": MEMBER_PASSWORD, "code": "12345"}),
    )
    .await;
    problem(wrong, 401).await;
    clock.advance(time::Duration::seconds(30));
    let body =
        json!({"email": member_email, "password": MEMBER_PASSWORD, "code": code(&member_totp, &clock)});
    assert_eq!(post(&api, "/v1/auth/two-factor/disable", body).await.status(), 200);
    problem(login(&api, &member_email, MEMBER_PASSWORD, None).await, 403).await;

    // A failed login to an address no account has, for the operators' log.
    let stranger = format!("nobody-{}@twofactor.test", uuid::Uuid::now_v7().simple());
    problem(login(&api, &stranger, PASSWORD, None).await, 401).await;

    security_log_is_shown_to_whom_it_concerns(
        &api,
        &owner,
        &owner_session,
        &member_id,
        &member_session,
        &stranger,
    )
    .await;
    api.stop().await;
}

async fn security_log_is_shown_to_whom_it_concerns(
    api: &Api,
    owner: &Account,
    owner_session: &str,
    member_id: &str,
    member_session: &str,
    stranger: &str,
) {
    let kinds = |log: &Value| -> Vec<String> {
        log["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect()
    };
    let expected = [
        "LoginFailed",
        "LoginSucceeded",
        "TwoFactorEnabled",
        "TwoFactorDisabled",
        "RecoveryCodeUsed",
        "TwoFactorRequirementChanged",
        "AccessDenied",
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let log = loop {
        let (_, log) = api.read("/v1/security-log?limit=200", owner_session).await;
        let seen = log["items"].is_array() && expected.iter().all(|k| kinds(&log).iter().any(|s| s == k));
        if seen {
            break log;
        }
        assert!(std::time::Instant::now() < deadline, "the security log lacks some of {expected:?}: {log}");
        tokio::task::yield_now().await;
    };
    let items = log["items"].as_array().unwrap();
    let failed =
        items.iter().find(|e| e["kind"] == "LoginFailed" && e["user_id"] == owner.user_id.as_str()).unwrap();
    assert_eq!(failed["address"], "127.0.0.1");
    assert_eq!(failed["user_agent"], "berth-tests/1");
    assert!(failed["details"]["reason"].is_string(), "{failed}");
    let denied = items.iter().find(|e| e["kind"] == "AccessDenied").unwrap();
    assert_eq!(denied["user_id"], Value::Null);
    assert_eq!(denied["actor"], format!("user:{member_id}"));
    assert_eq!(denied["details"]["path"], "/v1/tenant/two-factor");
    assert!(items.iter().any(|e| e["kind"] == "TwoFactorDisabled" && e["user_id"] == member_id), "{log}");
    assert!(!log.to_string().contains(stranger), "a stranger's failure is not the tenant's");

    // Members may not read it; another organization sees none of it.
    let (status, _) = api.read("/v1/security-log", member_session).await;
    assert_eq!(status, 403);
    let other = api.register("Other Hosting").await;
    let (_, theirs) = api.read("/v1/security-log?limit=200", &other.token).await;
    assert!(
        theirs["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["user_id"] != owner.user_id.as_str() && e["tenant_id"] != owner.tenant_id.as_str()),
        "another tenant read this one's security log: {theirs}"
    );
    let (status, _) =
        api.read("/v1/security-log?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", owner_session).await;
    assert_eq!(status, 400);

    // Operators read everything, the stranger's failure too, and can narrow it to one tenant.
    let operator = operator_token(api).await;
    let (_, all) = api.read("/v1/security-log?kind=LoginFailed&limit=200", &operator).await;
    assert!(
        all["items"].as_array().unwrap().iter().any(|e| e["user_id"].is_null() && e["actor"] == "anonymous"),
        "{all}"
    );
    let (_, narrowed) =
        api.read(&format!("/v1/security-log?tenant={}&limit=200", owner.tenant_id), &operator).await;
    assert!(narrowed["items"].as_array().unwrap().iter().all(|e| e["tenant_id"] == owner.tenant_id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_failed_logins_for_one_account_is_counted_for_the_alert() {
    let api = Api::start_with(&[
        ("BERTH_LIMITS__API_PER_MINUTE", "100000"),
        ("BERTH_LIMITS__AUTH_PER_MINUTE", "100000"),
        ("BERTH_AUTH__LOGIN_FAILURE_BURST", "4"),
    ])
    .await;
    let owner = api.register("Guessed Hosting").await;
    let bursts = || async {
        let text =
            api.http.get(format!("{}/metrics", api.command)).send().await.unwrap().text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("berth_login_failure_bursts_total"))
            .and_then(|rest| rest.split_whitespace().last())
            .map_or(0.0, |v| v.parse::<f64>().unwrap())
    };
    let before = bursts().await;
    for _ in 0..3 {
        problem(login(&api, &owner.email, "a wrong password guess", None).await, 401).await;
    }
    assert_eq!(bursts().await, before, "three failures are not a burst of four");
    problem(login(&api, &owner.email, "a wrong password guess", None).await, 401).await;
    assert!(bursts().await > before, "the fourth failure within the window makes a burst");
    api.stop().await;
}
