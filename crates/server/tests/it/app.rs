//! Driver accounts in the app API.

use crate::common;

use common::{Backend, TestApp};
use serde_json::json;

on_both_backends!(drivers_sign_up_and_log_in);

async fn drivers_sign_up_and_log_in(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (status, session) = app.post("/api/app/v1/users", None, &json!({"phone": "+86 138-0013-8000", "password": "s3cret-pass"})).await;
    assert_eq!(status, 201, "{session}");
    assert_eq!(session["user"]["phone"], "13800138000");
    assert_eq!(session["user"]["display_name"], "用户8000");
    assert!(session["user"].get("password_hash").is_none());

    let (status, body) = app.post("/api/app/v1/users", None, &json!({"phone": "13800138000", "password": "another-pass"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("phone_taken")));
    let (status, body) = app.post("/api/app/v1/users", None, &json!({"phone": "12345", "password": "another-pass"})).await;
    assert_eq!((status, body["error"]["fields"][0]["field"].as_str()), (422, Some("phone")));

    let (status, _) = app.post("/api/app/v1/sessions", None, &json!({"phone": "13800138000", "password": "wrong-pass"})).await;
    assert_eq!(status, 401);
    let (status, login) = app.post("/api/app/v1/sessions", None, &json!({"phone": "13800138000", "password": "s3cret-pass"})).await;
    assert_eq!(status, 200);
    let (status, me) = app.get("/api/app/v1/me", login["token"].as_str()).await;
    assert_eq!((status, me["phone"].as_str()), (200, Some("13800138000")));
    let (status, _) = app.get("/api/app/v1/me", None).await;
    assert_eq!(status, 401);
    app.cleanup().await;
}
