use reqwest::Method;
use serde_json::{json, Value};

use crate::api::{problem, Api};

/// Create, read your own write, change, filter, page through and delete sites; a domain is
/// unique across the platform until its site is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sites_are_created_read_changed_listed_and_deleted() {
    let api = Api::start().await;
    let owner = api.register("Sites Ltd").await;
    let created = api
        .send(
            Method::POST,
            "/v1/sites",
            Some(&owner.token),
            Some(json!({"domain": "Blog.Sites.test", "type": "wordpress", "php_version": "8.2"})),
        )
        .await;
    assert_eq!(created.status(), 202);
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["version"], 1);
    let (status, site) = api.read(&format!("/v1/sites/{id}?min_version=1"), &owner.token).await;
    assert_eq!(status, 200);
    assert_eq!(
        (site["domain"].as_str(), site["type"].as_str(), site["status"].as_str()),
        (Some("blog.sites.test"), Some("wordpress"), Some("requested"))
    );

    let changed = api
        .send(
            Method::PATCH,
            &format!("/v1/sites/{id}"),
            Some(&owner.token),
            Some(json!({"php_version": "8.4", "label": "Main blog"})),
        )
        .await;
    assert_eq!(changed.status(), 202);
    let version = changed.json::<Value>().await.unwrap()["version"].clone();
    assert_eq!(version, 2);
    let (_, site) = api.read(&format!("/v1/sites/{id}?min_version=2"), &owner.token).await;
    assert_eq!((site["php_version"].as_str(), site["label"].as_str()), (Some("8.4"), Some("Main blog")));

    // The same domain is refused, here and for any other tenant.
    let other = api.register("Squatter").await;
    for token in [&owner.token, &other.token] {
        let taken = api
            .send(
                Method::POST,
                "/v1/sites",
                Some(token),
                Some(json!({"domain": "blog.sites.test", "type": "static"})),
            )
            .await;
        assert!(problem(taken, 409).await["detail"].as_str().unwrap().contains("blog.sites.test"));
    }

    // Internationalized names are stored in their ASCII (punycode) form.
    let idn = api
        .send(
            Method::POST,
            "/v1/sites",
            Some(&owner.token),
            Some(json!({"domain": "Bücher.Sites.test", "type": "php", "php_version": "8.3"})),
        )
        .await;
    assert_eq!(idn.status(), 202);
    let idn: Value = idn.json().await.unwrap();
    let (_, idn_site) =
        api.read(&format!("/v1/sites/{}?min_version=1", idn["id"].as_str().unwrap()), &owner.token).await;
    assert_eq!(idn_site["domain"], "xn--bcher-kva.sites.test");

    // Filters and cursor pagination.
    for i in 0..4 {
        let body = json!({"domain": format!("s{i}.sites.test"), "type": "static"});
        assert_eq!(api.send(Method::POST, "/v1/sites", Some(&owner.token), Some(body)).await.status(), 202);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/sites?type=static&limit=3&cursor={c}"),
            None => "/v1/sites?type=static&limit=3".to_owned(),
        };
        let (status, page) = api.read(&path, &owner.token).await;
        assert_eq!(status, 200);
        seen.extend(
            page["items"].as_array().unwrap().iter().map(|s| s["domain"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    // The static sites may still be on their way into the view; wait for them, then check.
    if seen.len() < 4 {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let (_, page) = api.read("/v1/sites?type=static&limit=200", &owner.token).await;
        seen = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["domain"].as_str().unwrap().to_owned())
            .collect();
    }
    seen.sort();
    assert_eq!(seen, vec!["s0.sites.test", "s1.sites.test", "s2.sites.test", "s3.sites.test"]);
    let (_, wordpress) = api.read("/v1/sites?type=wordpress&status=requested", &owner.token).await;
    assert_eq!(wordpress["items"].as_array().unwrap().len(), 1);

    // Delete while provisioning is under way (no sagas run here, so it stays requested) is
    // refused: two node-side changes to one site must not race. The domain stays taken.
    let deleted = api.send(Method::DELETE, &format!("/v1/sites/{id}"), Some(&owner.token), None).await;
    let body = problem(deleted, 409).await;
    assert!(body["detail"].as_str().unwrap().contains("provisioning"), "{body}");
    let body = serde_json::json!({"domain": "blog.sites.test", "type": "static"});
    let taken = api.send(Method::POST, "/v1/sites", Some(&other.token), Some(body)).await;
    assert_eq!(problem(taken, 409).await["title"], "Already in use");
    let (_, overview) = api.read("/v1/tenant", &owner.token).await;
    assert_eq!(overview["counts"]["sites"], 6);
    api.stop().await;
}

/// An Idempotency-Key retry returns the first answer and appends nothing; the same key with
/// another body is a 422.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_retry_appends_nothing() {
    let api = Api::start().await;
    let owner = api.register("Retry Co").await;
    let body = json!({"domain": "once.retry.test", "type": "static"});
    let post = |body: Value| {
        api.http
            .post(format!("{}/v1/sites", api.command))
            .bearer_auth(&owner.token)
            .header("Idempotency-Key", "create-once-1")
            .json(&body)
            .send()
    };
    let first = post(body.clone()).await.unwrap();
    assert_eq!(first.status(), 202);
    let location = first.headers()["location"].clone();
    let first: Value = first.json().await.unwrap();
    let events = api.events().await;

    let retry = post(body.clone()).await.unwrap();
    assert_eq!(retry.status(), 202);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.headers()["location"], location, "the replay repeats the first answer's Location");
    assert_eq!(retry.json::<Value>().await.unwrap(), first);
    assert_eq!(api.events().await, events);

    let other = post(json!({"domain": "twice.retry.test", "type": "static"})).await.unwrap();
    problem(other, 422).await;
    assert_eq!(api.events().await, events);

    // Registration honours the header too.
    let register = |key: &'static str| {
        api.http
            .post(format!("{}/v1/auth/register", api.command))
            .header("Idempotency-Key", key)
            .json(&json!({"name": "Once", "email": "once@retry.test", "password": "a long enough password"}))
            .send()
    };
    let first = register("reg-1").await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let events = api.events().await;
    let again: Value = register("reg-1").await.unwrap().json().await.unwrap();
    assert_eq!(again, first);
    assert_eq!(api.events().await, events);
    api.stop().await;
}

/// Bad input is a 4xx problem+json naming the field or the problem, and appends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_a_problem_naming_it() {
    let api = Api::start().await;
    let owner = api.register("Strict").await;
    let before = api.events().await;
    let raw = |body: &'static str, content_type: &'static str| {
        api.http
            .post(format!("{}/v1/sites", api.command))
            .bearer_auth(&owner.token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    problem(raw("{\"domain\": ", "application/json").await.unwrap(), 400).await;
    problem(raw("{}", "text/plain").await.unwrap(), 415).await;
    let unknown = problem(
        raw(r#"{"domain":"a.test","type":"static","colour":"red"}"#, "application/json").await.unwrap(),
        400,
    )
    .await;
    assert_eq!(unknown["field"], "colour");
    let missing = problem(raw(r#"{"type":"static"}"#, "application/json").await.unwrap(), 400).await;
    assert_eq!(missing["field"], "domain");
    let huge = format!(r#"{{"domain":"a.test","type":"static","php_version":"{}"}}"#, "9".repeat(100_000));
    let too_large = api
        .http
        .post(format!("{}/v1/sites", api.command))
        .bearer_auth(&owner.token)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    problem(too_large, 413).await;

    let cases = [
        (json!({"domain": "not a domain", "type": "static"}), "domain"),
        (json!({"domain": "-bad-.test", "type": "static"}), "domain"),
        (json!({"domain": "ok.test", "type": "joomla"}), "type"),
        (json!({"domain": "ok.test", "type": "php", "php_version": "7.4"}), "php_version"),
        (json!({"domain": "ok.test", "type": "php"}), "php_version"),
        (json!({"domain": "ok.test", "type": "static", "php_version": "8.3"}), "php_version"),
    ];
    for (body, field) in cases {
        let response = api.send(Method::POST, "/v1/sites", Some(&owner.token), Some(body.clone())).await;
        assert_eq!(problem(response, 400).await["field"], field, "{body}");
    }
    let register = api
        .send(
            Method::POST,
            "/v1/auth/register",
            None,
            Some(json!({"name": "X", "email": "nope", "password": "a long enough password"})),
        )
        .await;
    assert_eq!(problem(register, 400).await["field"], "email");
    let short = api
        .send(
            Method::POST,
            "/v1/auth/register",
            None,
            Some(json!({"name": "X", "email": "a@b.test", "password": "short"})),
        )
        .await;
    assert_eq!(problem(short, 400).await["field"], "password");

    // Missing and bad tokens.
    problem(
        api.send(Method::POST, "/v1/sites", None, Some(json!({"domain": "a.test", "type": "static"}))).await,
        401,
    )
    .await;
    problem(
        api.send(
            Method::POST,
            "/v1/sites",
            Some("brt_nonsense"),
            Some(json!({"domain": "a.test", "type": "static"})),
        )
        .await,
        401,
    )
    .await;
    let (status, _) = api.read("/v1/sites", "brt_nonsense").await;
    assert_eq!(status, 401);
    let (status, body) = api.read("/v1/sites?type=joomla", &owner.token).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("type")));
    let (status, body) = api.read("/v1/sites?limit=0", &owner.token).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("limit")));
    assert_eq!(api.events().await, before);
    api.stop().await;
}

/// Authentication is limited per client and account, the API per token: 429 with Retry-After.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_429_with_retry_after() {
    let api =
        Api::start_with(&[("BERTH_LIMITS__API_PER_MINUTE", "4"), ("BERTH_LIMITS__AUTH_PER_MINUTE", "5")])
            .await;
    let owner = api.register("Limited").await;
    for _ in 0..4 {
        let login = api
            .send(
                Method::POST,
                "/v1/auth/login",
                None,
                Some(json!({"email": owner.email, "password": "wrong password!"})),
            )
            .await;
        assert_eq!(login.status(), 401);
    }
    let limited = api
        .send(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"email": owner.email, "password": "a long enough password"})),
        )
        .await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);

    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(api.read("/v1/sites", &owner.token).await.0);
    }
    assert_eq!(&statuses[..4], &[200, 200, 200, 200]);
    assert_eq!(statuses[4], 429);
    api.stop().await;
}
