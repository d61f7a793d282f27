//! Partners may not point us at our own network: endpoints on loopback, private, link-local and
//! other non-public addresses are refused at registration (the host is resolved), unless
//! `partners.allow_private_endpoints` is set, and a refused endpoint changes nothing.

use crate::common;

use common::{Backend, CODE_A, CODE_B, TestApp, application};
use serde_json::{Value, json};

on_both_backends!(non_public_endpoints_are_refused);

fn assert_refused(status: u16, body: &Value, field: &str) {
    assert_eq!(status, 422, "{body}");
    let f = &body["error"]["fields"][0];
    assert_eq!(f["field"], field, "{body}");
    assert!(f["message"].as_str().is_some_and(|m| m.contains("public")), "{body}");
    assert!(f["message_zh"].as_str().is_some_and(|m| m.contains("公网")), "{body}");
}

/// 注册回调地址、对接地址指向回环/内网/链路本地地址 → 422，不做任何变更。
async fn non_public_endpoints_are_refused(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.partners.allow_private_endpoints = false).await;
    let admin = app.admin_token().await;
    for url in ["http://127.0.0.1:9001/evcs", "http://10.0.0.5/evcs", "https://192.168.1.20/evcs", "http://[::1]:8080/", "http://localhost:9001/evcs"] {
        let mut input = application(CODE_A);
        input["callback_base_url"] = json!(url);
        let (status, body) = app.post("/api/portal/v1/partners", None, &input).await;
        assert_refused(status, &body, "callback_base_url");
    }
    let (_, list) = app.get("/api/admin/v1/partners", Some(&admin)).await;
    assert_eq!(list["total"], 0, "nothing was registered: {list}");

    let (id, portal) = app.register(&application(CODE_B)).await;
    let (status, _) = app.post(&format!("/api/admin/v1/partners/{id}/approve"), Some(&admin), &json!({})).await;
    assert_eq!(status, 200);
    for url in ["http://127.0.0.1:9001/evcs", "http://169.254.169.254/evcs", "http://100.64.1.1/evcs", "http://[fd00::1]/evcs", "http://0.0.0.0:80/evcs"] {
        let peer = json!({"base_url": url, "operator_secret": "1234567890abcdef", "data_secret": "1234567890abcdef",
                          "data_secret_iv": "1234567890abcdef", "sig_secret": "1234567890abcdef"});
        let (status, body) = app.put("/api/portal/v1/partners/me/cec-peer", Some(&portal), &peer).await;
        assert_refused(status, &body, "base_url");
    }
    let (_, creds) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    assert!(creds["cec_received"].is_null() || creds["cec_received"].as_array().is_some_and(Vec::is_empty), "nothing was stored: {creds}");
    app.cleanup().await;
}
