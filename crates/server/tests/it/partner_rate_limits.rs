//! Each partner API client has its own request rate: past its burst it is told to wait (429 with
//! `Retry-After`, in our JSON error format), and other partners are not slowed down by it.

use crate::common;

use common::{Backend, CODE_A, CODE_B, TestApp, application};
use serde_json::json;

on_both_backends!(a_client_over_its_rate_waits_and_others_do_not,);

/// An approved partner's OAuth2 access token.
async fn access_token(app: &TestApp, admin: &str, code: &str) -> String {
    let (id, portal) = app.register(&application(code)).await;
    let (status, body) = app.post(&format!("/api/admin/v1/partners/{id}/approve"), Some(admin), &json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (_, creds) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    let (status, token) = app.token(creds["api"][0]["client_id"].as_str().unwrap(), creds["api"][0]["client_secret"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{token}");
    token["access_token"].as_str().unwrap().to_owned()
}

async fn a_client_over_its_rate_waits_and_others_do_not(backend: Backend) {
    let app = TestApp::start_with(backend, |c| {
        c.partners.api_requests_per_second = 1;
        c.partners.api_burst = 3;
    })
    .await;
    let admin = app.admin_token().await;
    let busy = access_token(&app, &admin, CODE_A).await;
    let calm = access_token(&app, &admin, CODE_B).await;

    for _ in 0..3 {
        let (status, body) = app.get("/api/partner/v1/me", Some(&busy)).await;
        assert_eq!(status, 200, "{body}");
    }
    let response = app.http.get(app.url("/api/partner/v1/me")).bearer_auth(&busy).send().await.expect("request sent");
    let retry_after: u64 = response.headers().get("retry-after").expect("Retry-After").to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let (status, body) = common::read(response).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert!(body["error"]["message_zh"].as_str().unwrap().contains("请求过于频繁"), "{body}");

    let (status, body) = app.get("/api/partner/v1/me", Some(&calm)).await;
    assert_eq!(status, 200, "another client keeps its own budget: {body}");

    let (_, doc) = app.get("/openapi.json", None).await;
    assert!(doc["paths"]["/api/partner/v1/me"]["get"]["responses"].get("429").is_some());
    app.cleanup().await;
}
