//! A driver's wallet is credited only by a payment the gateway settled: a top-up opens a
//! gateway payment, the payment page's Pay credits the wallet through the signed callback —
//! once, however many times the callback comes — and without a gateway nothing is credited.

use crate::common;

use std::time::Duration;

use common::{Backend, TestApp};
use serde_json::{Value, json};

const PHONE: &str = "13912345678";

async fn sign_up(app: &TestApp) -> String {
    let (status, session) = app.post("/api/app/v1/users", None, &json!({"phone": PHONE, "password": "drive-safely"})).await;
    assert_eq!(status, 201, "{session}");
    session["token"].as_str().unwrap().to_owned()
}

async fn wallet(app: &TestApp, driver: &str) -> Value {
    let (status, wallet) = app.get("/api/app/v1/wallet", Some(driver)).await;
    assert_eq!(status, 200, "{wallet}");
    wallet
}

async fn balance(app: &TestApp, driver: &str) -> String {
    wallet(app, driver).await["balance"].as_str().unwrap().parse::<rust_decimal::Decimal>().unwrap().round_dp(2).to_string()
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(app.services.db.pool()).await.unwrap()
}

/// A callback signed with the sandbox's real key, as the gateway would send it.
async fn signed_callback(app: &TestApp, body: &Value) -> (u16, Value) {
    let body = body.to_string();
    let key = server::sandbox_pay::signing::sandbox_key(&app.services.key);
    let request = app
        .http
        .post(app.url("/api/payments/v1/callbacks/sandbox"))
        .header("content-type", "application/json")
        .header("x-sandbox-signature", server::sandbox_pay::signing::sign(&key, app.services.now(), body.as_bytes()))
        .body(body);
    common::read(request.send().await.unwrap()).await
}

on_both_backends!(top_up_credits_the_wallet_only_when_paid_and_once, top_up_without_a_gateway_credits_nothing, cancelled_top_up_credits_nothing,);

/// 充值 → 支付页 → 支付成功回调（重复三次，再补发一次）→ 钱包只入账一次。
async fn top_up_credits_the_wallet_only_when_paid_and_once(backend: Backend) {
    let app = TestApp::start_with(backend, |c| {
        c.sandbox_pay.enabled = Some(true);
        c.sandbox_pay.duplicate_callbacks = 3;
    })
    .await;
    let driver = sign_up(&app).await;

    let (status, started) = app.post("/api/app/v1/wallet/top-up", Some(&driver), &json!({"amount": "150.00"})).await;
    assert_eq!(status, 200, "{started}");
    let pay_url = started["pay_url"].as_str().expect("a payment page to pay on").to_owned();
    let top_up = started["payment_id"].as_str().unwrap().to_owned();
    assert_eq!(balance(&app, &driver).await, "0.00", "nothing is credited before the payment settles");

    let paid = app.http.post(format!("{pay_url}/pay")).send().await.unwrap();
    assert_eq!(paid.status(), 200);
    let mut credited = String::new();
    for _ in 0..200 {
        credited = balance(&app, &driver).await;
        if credited != "0.00" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(credited, "150.00");

    // The gateway repeats itself: the same success, delivered once more, changes nothing.
    let trade = pay_url.rsplit('/').next().unwrap();
    let notice = json!({"notify_id": uuid::Uuid::now_v7(), "trade_id": trade, "out_trade_no": top_up, "status": "succeeded",
                        "amount": "150.00", "at": chrono::Utc::now()});
    let (status, answer) = signed_callback(&app, &notice).await;
    assert_eq!(status, 200, "{answer}");
    // All three sandbox deliveries and ours are acknowledged before we count.
    for _ in 0..200 {
        let text = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        let acknowledged: u64 = text
            .lines()
            .filter(|l| l.starts_with("chargebridge_http_requests_total") && l.contains("/api/payments/v1/callbacks/{gateway}") && l.contains("status=\"200\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum();
        if acknowledged >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(balance(&app, &driver).await, "150.00");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM wallet_entries WHERE reason = 'top_up'").await, 1);
    let entries = wallet(&app, &driver).await["entries"].clone();
    assert_eq!(entries.as_array().map(Vec::len), Some(1), "{entries}");

    // A success for a different amount is refused and credits nothing.
    let wrong = json!({"notify_id": uuid::Uuid::now_v7(), "trade_id": trade, "out_trade_no": top_up, "status": "succeeded",
                       "amount": "9999.00", "at": chrono::Utc::now()});
    let (status, _) = signed_callback(&app, &wrong).await;
    assert_ne!(status, 200);
    assert_eq!(balance(&app, &driver).await, "150.00");
    app.cleanup().await;
}

/// 未配置支付渠道（PostgreSQL 默认）时无法充值；直接入账的测试钩子仅在 test_hooks 打开时存在。
async fn top_up_without_a_gateway_credits_nothing(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.sandbox_pay.enabled = Some(false)).await;
    let driver = sign_up(&app).await;
    let (status, body) = app.post("/api/app/v1/wallet/top-up", Some(&driver), &json!({"amount": "10000.00"})).await;
    assert_eq!(status, 503, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()) && body["error"]["message_zh"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert_eq!(balance(&app, &driver).await, "0.00");
    app.cleanup().await;

    let app = TestApp::start_with(backend, |c| c.sandbox_pay.enabled = Some(true)).await;
    let driver = sign_up(&app).await;
    let (status, _) = app.post("/sandbox/pay/test/wallet-credit", None, &json!({"phone": PHONE, "amount": "100.00"})).await;
    assert_eq!(status, 404, "no direct credit without the test hooks");
    assert_eq!(balance(&app, &driver).await, "0.00");
    app.cleanup().await;
}

/// 用户在支付页取消：钱包不入账。
async fn cancelled_top_up_credits_nothing(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.sandbox_pay.enabled = Some(true)).await;
    let driver = sign_up(&app).await;
    let (status, started) = app.post("/api/app/v1/wallet/top-up", Some(&driver), &json!({"amount": "50.00"})).await;
    assert_eq!(status, 200, "{started}");
    let pay_url = started["pay_url"].as_str().unwrap();
    let cancelled = app.http.post(format!("{pay_url}/cancel")).send().await.unwrap();
    assert_eq!(cancelled.status(), 200);
    for _ in 0..200 {
        if count(&app, "SELECT COUNT(*) FROM wallet_top_ups WHERE status = 'cancelled'").await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM wallet_top_ups WHERE status = 'cancelled'").await, 1);
    assert_eq!(balance(&app, &driver).await, "0.00");
    app.cleanup().await;
}
