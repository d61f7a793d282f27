//! Deliveries to a partner that is down, then back: every message arrives exactly once, in
//! order, signed with the partner's webhook secret.

use crate::common;

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

on_both_backends!(down_then_back_delivers_exactly_once_in_order, a_rotated_key_signs_alongside_the_old_one_through_the_overlap,);

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
            store::outbox::enqueue(&mut conn, id.parse().unwrap(), "statement.ready", "statement-1", &json!({"n": n}), app.services.now()).await.unwrap();
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

/// The `v1=` signatures of a header, checked against keys with our own HMAC, not the server's.
fn signed_by(header: &str, body: &str, keys: &[&str]) -> Vec<bool> {
    use hmac::{Hmac, KeyInit, Mac};
    let t = header.split(',').next().unwrap().trim_start_matches("t=");
    let given: Vec<&str> = header.split(',').filter_map(|p| p.strip_prefix("v1=")).collect();
    keys.iter()
        .map(|key| {
            let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
            mac.update(format!("{t}.{body}").as_bytes());
            given.contains(&hex::encode(mac.finalize().into_bytes()).as_str())
        })
        .collect()
}

async fn a_rotated_key_signs_alongside_the_old_one_through_the_overlap(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin_token().await;
    let partner = Arc::new(Partner::default());
    let endpoint = partner_endpoint(partner.clone()).await;
    let mut form = application(CODE_A);
    form["callback_base_url"] = json!(endpoint);
    form["protocol"] = json!("rest_api");
    let (id, portal) = app.register(&form).await;
    let (status, body) = app.post("/api/portal/v1/partners/me/webhooks/ping", Some(&portal), &json!({})).await;
    assert_eq!(status, 403, "nothing is sent before approval: {body}");
    app.post(&format!("/api/admin/v1/partners/{id}/approve"), Some(&admin), &json!({})).await;
    let (_, creds) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    let old = creds["webhook_secret"].as_str().unwrap().to_owned();
    assert!(creds.get("webhook_secret_previous_valid_until").is_none(), "{creds}");

    let ping = || async { app.post("/api/portal/v1/partners/me/webhooks/ping", Some(&portal), &json!({})).await };
    let last = || {
        let received = partner.received.lock().unwrap();
        let (event, signed) = received.last().cloned().expect("an event arrived");
        let (header, body) = signed.split_once('|').unwrap();
        (event, header.to_owned(), body.to_owned())
    };

    let (status, answer) = ping().await;
    assert_eq!((status, answer["delivered"].as_bool()), (200, Some(true)), "{answer}");
    let (event, header, body) = last();
    assert_eq!(event["kind"], "webhook.ping");
    assert_eq!(event["id"], answer["event_id"]);
    assert_eq!(signed_by(&header, &body, &[&old]), [true], "{header}");

    let (status, rotated) = app.post("/api/portal/v1/partners/me/credentials/rotate", Some(&portal), &json!({"kind": "webhook"})).await;
    assert_eq!(status, 200, "{rotated}");
    let new = rotated["webhook_secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(rotated["webhook_secret_previous_valid_until"].is_string(), "{rotated}");
    ping().await;
    let (_, header, body) = last();
    assert_eq!(signed_by(&header, &body, &[&new, &old]), [true, true], "both keys sign during the overlap: {header}");

    app.advance(chrono::Duration::hours(25));
    ping().await;
    let (_, header, body) = last();
    assert_eq!(signed_by(&header, &body, &[&new, &old]), [true, false], "only the new key after the overlap: {header}");
    let (_, creds) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    assert_eq!(creds["webhook_secret"], new.as_str());
    assert!(creds.get("webhook_secret_previous_valid_until").is_none(), "{creds}");

    // A receiver that is down: the ping says so and what it answered.
    *partner.refuse.lock().unwrap() = 1;
    let (status, answer) = ping().await;
    assert_eq!((status, answer["delivered"].as_bool()), (200, Some(false)), "{answer}");
    assert!(answer["detail"].as_str().unwrap().contains("503"), "{answer}");
    app.cleanup().await;
}
