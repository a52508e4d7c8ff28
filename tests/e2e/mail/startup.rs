//! An operator's broken template stops Berth at start, naming the file.

use std::time::Duration;

use crate::common::TestEnv;

#[tokio::test]
async fn a_broken_template_override_stops_the_start_naming_its_file() {
    // Arrange: an override that names a variable no sender passes.
    let env = TestEnv::new().await;
    let dir = std::env::temp_dir().join(format!("berth-templates-{}", env.db_name));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("invoice_issued.subject");
    std::fs::write(&file, "Invoice {{ number }} for {{ customer_id }}").unwrap();

    // Act
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("serve")
            .envs(env.env_vars())
            .env("BERTH_MAIL__TEMPLATES_DIR", &dir)
            .output(),
    )
    .await
    .expect("berth exits by itself")
    .unwrap();

    // Assert
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("invalid mail settings"), "{stderr}");
    assert!(stderr.contains(&file.display().to_string()) && stderr.contains("undefined"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
    env.cleanup().await;
}
