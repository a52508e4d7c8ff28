use super::*;
use secrecy::ExposeSecret;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[test]
fn defaults_load_and_environment_overrides_them() {
    let settings = Settings::load_from(
        None,
        env(&[("BERTH_DATABASE__URL", "postgres://x@h/db"), ("BERTH_NATS__REPLICAS", "3")]),
    )
    .unwrap();
    assert_eq!(settings.database.url.expose_secret(), "postgres://x@h/db");
    assert_eq!(settings.nats.replicas, 3);
    assert_eq!(settings.command_api.addr.to_string(), "127.0.0.1:8080");
    assert_eq!(settings.query_api.addr.to_string(), "127.0.0.1:8081");
}

#[test]
fn the_cluster_settings_have_defaults_and_read_from_the_environment() {
    let defaults = Settings::load_from(None, Vec::new()).unwrap();
    assert!(defaults.database.read_url.expose_secret().is_empty());
    assert_eq!(defaults.database.idle_in_transaction_timeout_ms, 5000);
    assert_eq!(defaults.telemetry.addr.to_string(), "127.0.0.1:9464");
    let set = Settings::load_from(
        None,
        env(&[
            ("BERTH_NATS__URL", "nats://a:1,nats://b:2"),
            ("BERTH_NATS__TLS_REQUIRED", "true"),
            ("BERTH_DATABASE__READ_URL", "postgres://r@h/db"),
            ("BERTH_TELEMETRY__ADDR", "0.0.0.0:9465"),
            ("BERTH_PROJECTIONS__BATCH_MAX_MS", "250"),
        ]),
    )
    .unwrap();
    assert_eq!(set.nats.url, "nats://a:1,nats://b:2");
    assert!(set.nats.tls_required);
    assert_eq!(set.database.read_url.expose_secret(), "postgres://r@h/db");
    assert_eq!(set.telemetry.addr.port(), 9465);
    assert_eq!(set.projections.batch_max_ms, 250);
    assert!(Settings::unknown_variables(env(&[("BERTH_TELEMETRY__ADDR", "x")])).is_empty());
}

#[test]
fn berth_config_names_the_file_and_is_no_setting() {
    let settings = Settings::load_from(None, env(&[("BERTH_CONFIG", "/etc/berth.toml")])).unwrap();
    assert_eq!(settings.command_api.addr.to_string(), "127.0.0.1:8080");
    assert!(Settings::unknown_variables(env(&[("BERTH_CONFIG", "/etc/berth.toml")])).is_empty());
}

#[test]
fn a_value_of_the_wrong_type_fails_fast() {
    let error = Settings::load_from(None, env(&[("BERTH_NATS__REPLICAS", "three")])).unwrap_err();
    assert!(error.to_string().contains("replicas"), "{error}");
}

#[test]
fn unknown_variables_are_reported() {
    let unknown = Settings::unknown_variables(env(&[
        ("BERTH_DATABASE__URL", "x"),
        ("BERTH_DATABSE__URL", "x"),
        ("BERTH_DEV_PG_PORT", "1"),
        ("BERTH_SAGAS__PROVISIONING__TAKEOVER_SECS", "3"),
        ("BERTH_SAGAS__PROVISIONING__TAKEOVR_SECS", "3"),
        ("PATH", "/bin"),
    ]));
    assert_eq!(
        unknown,
        vec!["BERTH_DATABSE__URL".to_owned(), "BERTH_SAGAS__PROVISIONING__TAKEOVR_SECS".to_owned()]
    );
}

#[test]
fn saga_sections_are_checked_against_the_registry() {
    let good = Settings::load_from(None, env(&[("BERTH_SAGAS__HEALTH__PROBE_INTERVAL_SECS", "2")])).unwrap();
    assert_eq!(good.check_sagas(), Ok(()));
    let typo = Settings::load_from(None, env(&[("BERTH_SAGAS__HEALTH__PROBE_EVERY", "2")])).unwrap();
    assert!(typo.check_sagas().unwrap_err().contains("sagas.health"));
    let unknown = Settings::load_from(None, env(&[("BERTH_SAGAS__BILLNG__X", "2")])).unwrap();
    assert!(unknown.check_sagas().unwrap_err().contains("no such saga"));
    let wrong =
        Settings::load_from(None, env(&[("BERTH_SAGAS__PROVISIONING__CONCURRENCY", "many")])).unwrap();
    assert!(wrong.check_sagas().unwrap_err().contains("sagas.provisioning"));
}

#[test]
fn mail_settings_read_from_the_environment_keep_the_password_secret_and_are_checked() {
    let dir = std::env::temp_dir().join(format!("berth-mail-settings-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("payment_failed.txt"), "{{ amount }} {% if %}").unwrap();
    let dir_name = dir.display().to_string();
    let vars = env(&[
        ("BERTH_MAIL__HOST", "smtp.example.test"),
        ("BERTH_MAIL__TLS", "tls"),
        ("BERTH_MAIL__PASSWORD", "hunter2-mail"),
        ("BERTH_MAIL__TEMPLATES_DIR", dir_name.as_str()),
    ]);
    assert!(Settings::unknown_variables(vars.clone()).is_empty());
    let settings = Settings::load_from(None, vars).unwrap();
    assert_eq!(settings.mail.tls, berth_sagas::mail::TlsMode::Tls);
    assert_eq!(settings.mail.password.expose_secret(), "hunter2-mail");
    assert!(!format!("{settings:?}").contains("hunter2-mail"), "the password shows in Debug");

    let error = settings.check_mail().unwrap_err();
    assert!(error.starts_with("mail.templates_dir: ") && error.contains("payment_failed.txt"), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();

    let defaults = Settings::load_from(None, Vec::new()).unwrap();
    assert!(defaults.mail.host.is_empty(), "no mail server unless one is configured");
    assert!(defaults.check_mail().is_ok());
    let bad_sender =
        Settings::load_from(None, env(&[("BERTH_MAIL__FROM_ADDRESS", "billing at example")])).unwrap();
    assert!(bad_sender.check_mail().unwrap_err().starts_with("mail.from_address: "));
    assert!(Settings::load_from(None, env(&[("BERTH_MAIL__TLS", "ssl")])).is_err());
}
