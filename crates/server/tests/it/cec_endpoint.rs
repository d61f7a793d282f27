//! Our T/CEC 102 endpoint with the credentials the portal issues: an approved partner obtains a
//! token with them; rotation keeps the old set working; others are refused in protocol terms.

use crate::common;

use cec::{CecClient, ClientConfig, ClientError, Ret, Secrets};
use common::{Backend, CODE_A, TestApp, application};
use serde_json::{Value, json};

fn client(app: &TestApp, operator_id: &str, set: &Value) -> CecClient {
    let secrets = Secrets::new(
        set["operator_secret"].as_str().unwrap(),
        set["data_secret"].as_str().unwrap(),
        set["data_secret_iv"].as_str().unwrap(),
        set["sig_secret"].as_str().unwrap(),
    );
    let mut config = ClientConfig::new(&app.base, set["version_segment"].as_str().unwrap_or("v1.0"), operator_id, secrets);
    config.max_attempts = 1;
    CecClient::new(config, reqwest::Client::new()).unwrap()
}

on_both_backends!(issued_credentials_open_the_cec_endpoint);

async fn issued_credentials_open_the_cec_endpoint(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin_token().await;
    let (id, portal) = app.register(&application(CODE_A)).await;

    // Before approval there are no secrets: a caller with made-up ones is an unknown operator.
    let fake = json!({"operator_secret": "x", "data_secret": "1234567890abcdef", "data_secret_iv": "1234567890abcdef", "sig_secret": "s"});
    let err = client(&app, "MA5FCTXX0", &fake).token().await.unwrap_err();
    assert!(matches!(err, ClientError::Ret { ret: Ret::Envelope, .. }), "{err}");

    app.post(&format!("/api/admin/v1/partners/{id}/approve"), Some(&admin), &json!({})).await;
    let (_, creds) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    let issued = creds["cec_issued"][0].clone();
    assert_eq!(creds["cec_endpoint_path"], "/evcs/v1.0/");
    let token = client(&app, "MA5FCTXX0", &issued).token().await.expect("token with the issued secrets");
    assert!(!token.is_empty());

    // Wrong OperatorSecret: a valid reply saying no.
    let mut wrong = issued.clone();
    wrong["operator_secret"] = json!("not-the-secret");
    assert_eq!(client(&app, "MA5FCTXX0", &wrong).token().await.unwrap_err(), ClientError::TokenRefused(2));
    // Wrong SigSecret: 4001.
    let mut wrong = issued.clone();
    wrong["sig_secret"] = json!("not-the-sig-secret");
    assert!(matches!(client(&app, "MA5FCTXX0", &wrong).token().await.unwrap_err(), ClientError::Ret { ret: Ret::Signature, .. }));

    // Rotation: the new set works at once, the old one through the overlap.
    let (_, rotated) = app.post("/api/portal/v1/partners/me/credentials/rotate", Some(&portal), &json!({"kind": "cec"})).await;
    let newest = rotated["cec_issued"][0].clone();
    assert_ne!(newest["sig_secret"], issued["sig_secret"]);
    assert!(client(&app, "MA5FCTXX0", &newest).token().await.is_ok());
    assert!(client(&app, "MA5FCTXX0", &issued).token().await.is_ok());
    app.cleanup().await;
}
