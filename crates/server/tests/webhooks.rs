//! Deliveries to a partner that is down, then back: every message arrives exactly once, in
//! order, signed with the partner's webhook secret.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::{Backend, CODE_A, TestApp, application};
use serde_json::{Value, json};

#[derive(Default)]
struct Partner {
    /// Requests still to refuse with 503 (the partner is "down").
    refuse: Mutex<usize>,
    received: Mutex<Vec<(Value, String)>>,
    attempts: Mutex<usize>,
}

async fn partner_endpoint(partner: Arc<Partner>) -> String {
    let app = axum::Router::new().route(
        "/chargebridge/webhook",
        post(move |headers: HeaderMap, body: String| {
            let partner = partner.clone();
            async move {
                *partner.attempts.lock().unwrap() += 1;
                {
                    let mut refuse = partner.refuse.lock().unwrap();
                    if *refuse > 0 {
                        *refuse -= 1;
                        return StatusCode::SERVICE_UNAVAILABLE;
                    }
                }
                let signature = headers.get("x-chargebridge-signature").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                partner.received.lock().unwrap().push((serde_json::from_str(&body).unwrap(), format!("{signature}|{body}")));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

on_both_backends!(down_then_back_delivers_exactly_once_in_order);

async fn down_then_back_delivers_exactly_once_in_order(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.workers.outbox_poll = Duration::from_millis(50)).await;
    let admin = app.admin_token().await;
    let partner = Arc::new(Partner { refuse: Mutex::new(2), ..Default::default() });
    let endpoint = partner_endpoint(partner.clone()).await;
    let mut form = application(CODE_A);
    form["callback_base_url"] = json!(endpoint);
    // A partner of our REST API: its callback base is where it takes webhooks.
    form["protocol"] = json!("rest_api");
    let (id, portal) = app.register(&form).await;
    app.post(&format!("/api/admin/v1/partners/{id}/approve"), Some(&admin), &json!({})).await;
    let (_, creds) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    let secret = creds["webhook_secret"].as_str().unwrap().to_owned();

    {
        let mut conn = app.services.db.acquire().await.unwrap();
        for n in 1..=3 {
            store::outbox::enqueue(&mut conn, id.parse().unwrap(), "settlement.order_paid", "order-1", &json!({"n": n}), app.services.now()).await.unwrap();
        }
    }
    // Down: the first attempts fail; nothing is delivered and later messages wait their turn.
    for _ in 0..40 {
        if *partner.attempts.lock().unwrap() >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(partner.received.lock().unwrap().is_empty());
    // Time passes past the backoff; the partner comes back.
    for _ in 0..100 {
        app.advance(chrono::Duration::seconds(5));
        if partner.received.lock().unwrap().len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = partner.received.lock().unwrap().clone();
    let order: Vec<i64> = received.iter().map(|(v, _)| v["data"]["n"].as_i64().unwrap()).collect();
    assert_eq!(order, [1, 2, 3], "each exactly once, in order");
    for (_, signed) in &received {
        let (header, body) = signed.split_once('|').unwrap();
        let t: i64 = header.split(',').next().unwrap().trim_start_matches("t=").parse().unwrap();
        assert_eq!(header, server::webhooks::signature(&secret, t, body), "signed with the partner's secret");
    }
    // The attempts are visible to an admin.
    let (_, list) = app.get(&format!("/api/admin/v1/partners/{id}/deliveries?status=delivered"), Some(&admin)).await;
    assert_eq!(list["total"], 3, "{list}");
    let first = list["items"].as_array().unwrap().iter().find(|m| m["payload"]["n"] == 1).unwrap();
    let (_, detail) = app.get(&format!("/api/admin/v1/partners/{id}/deliveries/{}", first["id"].as_str().unwrap()), Some(&admin)).await;
    let outcomes: Vec<&str> = detail["attempts"].as_array().unwrap().iter().map(|a| a["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["retry", "retry", "delivered"], "{detail}");
    app.cleanup().await;
}
