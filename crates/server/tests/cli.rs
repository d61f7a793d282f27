//! The operator CLI against a real SQLite data directory: what `--json` prints is what scripts
//! rely on, and it enforces the same review rules as the HTTP API.

mod common;

use std::process::Command;

use common::{Backend, CODE_A, TestApp, application};

fn chargebridge(config: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_chargebridge"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .expect("binary runs");
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into(), String::from_utf8_lossy(&output.stderr).into())
}

#[tokio::test]
async fn operator_reviews_from_the_command_line() {
    let app = TestApp::start(Backend::Sqlite).await;
    let (id, portal) = app.register(&application(CODE_A)).await;
    let config = app.config.data_dir.join("chargebridge.toml");
    std::fs::write(&config, format!("data_dir = {:?}\n", app.config.data_dir.display().to_string())).unwrap();

    let (ok, out, err) = chargebridge(&config, &["partner", "list", "--state", "submitted", "--json"]);
    assert!(ok, "{err}");
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["items"][0]["id"].as_str(), Some(id.as_str()));

    // Refused: a rejection needs a reason of at least two characters; nothing changes.
    let (ok, _, err) = chargebridge(&config, &["partner", "reject", &id, "--reason", "x"]);
    assert!(!ok && err.contains("reason"), "{err}");

    // By OperatorID, as operators type it.
    let (ok, out, err) = chargebridge(&config, &["partner", "approve", "ma5fctxx0", "--json"]);
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["state"], "approved");
    let (ok, _, err) = chargebridge(&config, &["partner", "approve", &id]);
    assert!(!ok && err.contains("cannot approve a partner that is approved"), "{err}");

    // The partner sees the approval through the running server (same database).
    let (_, me) = app.get("/api/portal/v1/partners/me", Some(&portal)).await;
    assert_eq!(me["state"], "approved");

    let (ok, out, err) = chargebridge(&config, &["partner", "credentials", &id, "--json"]);
    assert!(ok, "{err}");
    let creds: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(creds["api_client_ids"][0]["secret_not_yet_shown"], true);
    assert!(!out.contains("cbs_"), "secrets are never printed");

    let (ok, out, _) = chargebridge(&config, &["partner", "show", &id]);
    assert!(ok && out.contains("approve"), "{out}");
    let (ok, _, err) = chargebridge(&config, &["partner", "show", "NOSUCH001"]);
    assert!(!ok && err.contains("not found"), "{err}");
}
