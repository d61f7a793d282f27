//! What people read when something is refused, through real HTTP: plain words in each language,
//! no internal event names, no bare codes, the field that is wrong named as the API names it.

use crate::common;

use common::{Backend, CODE_A, TestApp, application};
use serde_json::{Value, json};

on_both_backends!(review_refusals_say_what_to_fix, a_suspended_partners_token_is_told_so, order_refusals_in_plain_words);

/// Raw JSON text posted as is (for bodies `json!` cannot make: syntax errors).
async fn post_raw(app: &TestApp, path: &str, bearer: &str, body: &'static str) -> (u16, Value) {
    let request = app.http.post(app.url(path)).bearer_auth(bearer).header("content-type", "application/json").body(body);
    common::read(request.send().await.unwrap()).await
}

fn error(body: &Value) -> (&str, &str, &str) {
    let e = &body["error"];
    (e["code"].as_str().unwrap_or_default(), e["message"].as_str().unwrap_or_default(), e["message_zh"].as_str().unwrap_or_default())
}

/// A rejection without a reason, with a reason of the wrong type or one too short: each is bad
/// input (422) that names the field and says which of the three it is; nothing changes.
async fn review_refusals_say_what_to_fix(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin_token().await;
    let (id, _portal) = app.register(&application(CODE_A)).await;
    let reject = format!("/api/admin/v1/partners/{id}/reject");

    let (status, body) = app.post(&reject, Some(&admin), &json!({})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "reason", "{body}");
    let (_, message, zh) = error(&body);
    assert!(message.contains("reason") && message.contains("missing") && !message.contains("type"), "{body}");
    assert!(zh.contains("必填") && !zh.contains("类型"), "{body}");

    let (status, body) = app.post(&reject, Some(&admin), &json!({"reason": 5})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "reason", "{body}");
    let (_, message, zh) = error(&body);
    assert!(message.contains("string") && !message.contains("missing"), "{body}");
    assert!(zh.contains("字符串"), "{body}");

    let (status, body) = post_raw(&app, &reject, &admin, "{\"reason\": ").await;
    assert_eq!((status, error(&body).0), (400, "malformed_request"), "{body}");
    assert!(error(&body).1.contains("JSON"), "{body}");

    let (status, body) = app.post(&reject, Some(&admin), &json!({"reason": " "})).await;
    assert_eq!((status, error(&body).0), (422, "reason_required"), "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "reason", "{body}");

    let (status, body) = app.post(&reject, Some(&admin), &json!({"reason": "x"})).await;
    assert_eq!((status, error(&body).0), (422, "reason_too_short"), "{body}");
    let (_, message, zh) = error(&body);
    assert!(message.contains("too short") && message.contains("at least 2"), "{body}");
    assert!(zh.contains("太短") && zh.contains("驳回"), "{body}");

    let (_, partner) = app.get(&format!("/api/admin/v1/partners/{id}"), Some(&admin)).await;
    assert_eq!(partner["state"], "submitted", "nothing changed: {partner}");

    // Something that does not exist is named in each language.
    let (status, body) = app.get(&format!("/api/admin/v1/partners/{}", uuid::Uuid::now_v7()), Some(&admin)).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(error(&body), ("not_found", "partner not found", "未找到合作商"));
    app.cleanup().await;
}

/// A suspended partner's token is refused because the partner is suspended, which is what it
/// must act on; it is not told to fetch a new token (it would be refused one).
async fn a_suspended_partners_token_is_told_so(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin_token().await;
    let (id, portal) = app.register(&application(CODE_A)).await;
    let (status, _) = app.post(&format!("/api/admin/v1/partners/{id}/approve"), Some(&admin), &json!({})).await;
    assert_eq!(status, 200);
    let (_, creds) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    let (client_id, secret) = (creds["api"][0]["client_id"].as_str().unwrap(), creds["api"][0]["client_secret"].as_str().unwrap());
    let (_, token) = app.token(client_id, secret).await;
    let access = token["access_token"].as_str().unwrap().to_owned();

    let (status, _) = app.post(&format!("/api/admin/v1/partners/{id}/suspend"), Some(&admin), &json!({"reason": "结算逾期 / settlement overdue"})).await;
    assert_eq!(status, 200);
    let (status, body) = app.get("/api/partner/v1/me", Some(&access)).await;
    assert_eq!((status, error(&body).0), (401, "partner_suspended"), "{body}");
    let (_, message, zh) = error(&body);
    assert!(message.contains("suspended") && !message.contains("expired") && !message.contains("request a new"), "{body}");
    assert!(zh.contains("暂停") && !zh.contains("重新获取"), "{body}");
    app.cleanup().await;
}

/// A driver's order refused by its state says what the order is and what cannot be done, in
/// words; an operator's refusal is told without its numeric code.
async fn order_refusals_in_plain_words(backend: Backend) {
    let w = common::billed::flow_a(backend, |_| {}).await;
    let (order, _) = w.billed_order().await;
    let (status, body) = w.app.post(&format!("/api/app/v1/orders/{order}/stop"), Some(&w.driver), &json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(error(&body), ("order_state", "this order is already billed; it cannot be stopped", "订单已结算，无法停止"));

    let (status, body) = w.app.get(&format!("/api/app/v1/orders/{}", uuid::Uuid::now_v7()), Some(&w.driver)).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(error(&body), ("not_found", "order not found", "未找到订单"));

    // Our view says free, the operator's pile is busy: it refuses with its own code 3.
    let (_, nearby) = w.app.get("/api/app/v1/stations/nearby?lat=22.55&lng=114.05&radius_m=50000", None).await;
    let station = nearby["items"][0]["id"].as_str().unwrap().to_owned();
    let (_, detail) = w.app.get(&format!("/api/app/v1/stations/{station}"), None).await;
    let connector = detail["connectors"][0]["id"].as_str().unwrap().to_owned();
    let external = detail["connectors"][0]["external_id"].as_str().unwrap().to_owned();
    assert!(w.cpo.set_connector_status(&external, cec::messages::ConnectorStatusCode::Charging));
    let mut refused = Value::Null;
    for _ in 0..100 {
        w.app.services.hub.apply(connector.parse().unwrap(), domain::station::ConnectorStatus::Available, w.app.services.now());
        let (status, order) = w.app.post("/api/app/v1/charging/start", Some(&w.driver), &json!({"connector_id": connector})).await;
        if status == 201 {
            refused = order;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(refused["state"], "failed", "{refused}");
    let (en, zh) = (refused["message_en"].as_str().unwrap(), refused["message_zh"].as_str().unwrap());
    assert!(en.contains("refused") && !en.contains("code") && !en.contains('3'), "{refused}");
    assert!(zh.contains("拒绝") && !zh.contains("代码") && !zh.contains('3'), "{refused}");
    w.app.cleanup().await;
}
