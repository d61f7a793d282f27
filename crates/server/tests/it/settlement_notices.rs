//! Flow A's last step (通知第三方结算): when our driver pays, the operator partner is told what to
//! settle. T/CEC 102 has no message for it, so it goes as a signed webhook, and only to a webhook
//! the partner registered with its endpoint; nothing waits in the outbox for an address that
//! cannot serve it.

use crate::common;

use std::time::Duration;

use serde_json::{Value, json};

on_both_backends!(settlement_notices_go_to_a_registered_webhook_only);

async fn settlement_notices(w: &common::billed::FlowA) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind = 'settlement.order_paid'").fetch_one(w.app.services.db.pool()).await.unwrap()
}

/// A webhook endpoint of the partner's: every request's signature header and body.
async fn webhook_receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<(String, String)>) {
    let (sender, received) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hooks/chargebridge",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let signature = headers.get("x-chargebridge-signature").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            let _ = sender.send((signature, body));
            async { "ok" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/chargebridge", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

async fn pay(w: &common::billed::FlowA, order: &str) {
    let (status, paid) = w.app.post(&format!("/api/app/v1/orders/{order}/pay"), Some(&w.driver), &json!({})).await;
    assert_eq!((status, paid["state"].as_str()), (200, Some("paid")), "{paid}");
}

async fn settlement_notices_go_to_a_registered_webhook_only(backend: common::Backend) {
    let w = common::billed::flow_a(backend, |c| c.workers.outbox_poll = Duration::from_millis(50)).await;

    // The partner's endpoint without a webhook: the order is paid and settled, nobody is told.
    let mut peer = w.peer.clone();
    peer.as_object_mut().unwrap().remove("webhook_url");
    let (status, registered) = w.app.put("/api/portal/v1/partners/me/cec-peer", Some(&w.portal), &peer).await;
    assert_eq!((status, &registered["webhook_url"]), (200, &Value::Null), "{registered}");
    let (first, _) = w.billed_order().await;
    pay(&w, &first).await;
    let lines: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM settlement_lines").fetch_one(w.app.services.db.pool()).await.unwrap();
    assert_eq!(lines, 1, "the settlement line is recorded");
    assert_eq!(settlement_notices(&w).await, 0, "no notice queued without a webhook");

    // With a webhook registered, the next payment's notice arrives there, signed.
    let (url, mut received) = webhook_receiver().await;
    peer["webhook_url"] = json!(url);
    let (status, registered) = w.app.put("/api/portal/v1/partners/me/cec-peer", Some(&w.portal), &peer).await;
    assert_eq!((status, registered["webhook_url"].as_str()), (200, Some(url.as_str())), "{registered}");
    let (second, _) = w.billed_order().await;
    pay(&w, &second).await;
    assert_eq!(settlement_notices(&w).await, 1);
    let (signature, body) = tokio::time::timeout(Duration::from_secs(30), received.recv()).await.expect("the notice arrives").unwrap();
    let notice: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(notice["kind"], "settlement.order_paid", "{notice}");
    let (_, order) = w.app.get(&format!("/api/app/v1/orders/{second}"), Some(&w.driver)).await;
    assert_eq!(notice["data"]["seq"], order["seq"], "{notice}");
    let (_, creds) = w.app.get("/api/portal/v1/partners/me/credentials", Some(&w.portal)).await;
    let t: i64 = signature.strip_prefix("t=").and_then(|s| s.split(',').next()).and_then(|t| t.parse().ok()).expect("t=<seconds>");
    assert_eq!(signature, server::webhooks::signature(creds["webhook_secret"].as_str().unwrap(), t, &body));
    w.app.cleanup().await;
}
