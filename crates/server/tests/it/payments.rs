//! Paying a billed flow-A order through the built-in sandbox gateway, over real HTTP: the
//! payment page, signed asynchronous callbacks delivered several times, late and out of order,
//! a forged one, a payment nobody finishes, and refunds. Whatever the gateway does, an order is
//! paid once and settled once.

use crate::common;

use std::time::Duration;

use common::Backend;
use common::billed::{FlowA, flow_a};
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// Every callback is delivered three times, test hooks are on, stale payments are swept often.
async fn world(backend: Backend) -> FlowA {
    flow_a(backend, |c| {
        c.sandbox_pay.enabled = Some(true);
        c.sandbox_pay.duplicate_callbacks = 3;
        c.sandbox_pay.test_hooks = true;
        c.workers.payment_sweep = Duration::from_millis(100);
    })
    .await
}

/// Opens a sandbox payment: (payment id, payment page URL, trade id).
async fn pay_by_sandbox(w: &FlowA, order: &str) -> (String, String, String) {
    let (status, started) = w.app.post(&format!("/api/app/v1/orders/{order}/pay"), Some(&w.driver), &json!({"method": "sandbox"})).await;
    assert_eq!(status, 201, "{started}");
    let pay_url = started["pay_url"].as_str().unwrap().to_owned();
    let trade = pay_url.rsplit('/').next().unwrap().to_owned();
    (started["payment_id"].as_str().unwrap().to_owned(), pay_url, trade)
}

async fn payments(w: &FlowA, order: &str) -> Vec<Value> {
    let (status, list) = w.app.get(&format!("/api/app/v1/orders/{order}/payments"), Some(&w.driver)).await;
    assert_eq!(status, 200, "{list}");
    list.as_array().unwrap().clone()
}

async fn payment(w: &FlowA, order: &str, id: &str) -> Value {
    payments(w, order).await.into_iter().find(|p| p["id"] == id).expect("the payment is listed")
}

async fn wait_payment(w: &FlowA, order: &str, id: &str, status: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        last = payment(w, order, id).await;
        if last["status"] == status {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("payment never became {status}; last seen: {last}");
}

/// The user's browser on the payment page: `action` is `pay` or `cancel`.
async fn click(w: &FlowA, pay_url: &str, action: &str) -> (u16, String) {
    let response = w.app.http.post(format!("{pay_url}/{action}")).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The sandbox's test hooks: `settle` forces the trade's outcome, `notify` sends stale news.
async fn hook(w: &FlowA, trade: &str, hook: &str, body: Value) {
    let (status, answer) = w.app.post(&format!("/sandbox/pay/test/trades/{trade}/{hook}"), None, &body).await;
    assert_eq!(status, 200, "{answer}");
}

/// Posts a callback signed with `key` (the real sandbox key unless a test forges one).
async fn callback(w: &FlowA, body: &Value, key: Option<&str>) -> (u16, Value) {
    let body = body.to_string();
    let real = server::sandbox_pay::signing::sandbox_key(&w.app.services.key);
    let mut request = w.app.http.post(w.app.url("/api/payments/v1/callbacks/sandbox")).header("content-type", "application/json").body(body.clone());
    if let Some(key) = key {
        let key = if key == "real" { real.as_str() } else { key };
        request = request.header("x-sandbox-signature", server::sandbox_pay::signing::sign(key, w.app.services.now(), body.as_bytes()));
    }
    common::read(request.send().await.unwrap()).await
}

fn notice(trade: &str, payment: &str, status: &str, amount: Decimal) -> Value {
    json!({"notify_id": uuid::Uuid::now_v7(), "trade_id": trade, "out_trade_no": payment, "status": status,
           "amount": amount.to_string(), "at": chrono::Utc::now()})
}

async fn count(w: &FlowA, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(w.app.services.db.pool()).await.unwrap()
}

/// How many callbacks we acknowledged (200), from the request metrics.
async fn acknowledged_callbacks(w: &FlowA) -> u64 {
    let text = w.app.http.get(w.app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("chargebridge_http_requests_total") && l.contains("/api/payments/v1/callbacks/{gateway}") && l.contains("status=\"200\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Paid once and settled once, whatever else happened.
async fn assert_settled_once(w: &FlowA) {
    assert_eq!(count(w, "SELECT COUNT(*) FROM payments WHERE status = 'succeeded'").await, 1);
    assert_eq!(count(w, "SELECT COUNT(*) FROM settlement_lines").await, 1);
    assert_eq!(count(w, "SELECT COUNT(*) FROM outbox WHERE kind = 'settlement.order_paid'").await, 1);
    assert_eq!(count(w, "SELECT COUNT(*) FROM order_transitions WHERE event = 'paid'").await, 1);
}

on_both_backends!(
    paid_on_the_sandbox_page_once_despite_repeated_callbacks,
    forged_callbacks_change_nothing,
    cancelled_then_paid_late_is_refunded_not_paid_twice,
    stale_cancel_after_success_leaves_the_order_paid,
    unfinished_payments_expire_after_asking_the_gateway,
    refunds_are_recorded,
);

/// 用户支付 → 支付页 → 异步回调（重复三次）→ 订单已支付，结算一次。
async fn paid_on_the_sandbox_page_once_despite_repeated_callbacks(backend: Backend) {
    let w = world(backend).await;
    let (order, bill) = w.billed_order().await;
    let (payment_id, pay_url, _) = pay_by_sandbox(&w, &order).await;
    let (again, same_url, _) = pay_by_sandbox(&w, &order).await;
    assert_eq!((again.as_str(), same_url.as_str()), (payment_id.as_str(), pay_url.as_str()), "a double tap opens one trade");
    let pending = payment(&w, &order, &payment_id).await;
    assert_eq!((pending["status"].as_str(), pending["method"].as_str()), (Some("pending"), Some("sandbox")), "{pending}");

    let page = w.app.http.get(&pay_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("确认支付") && html.contains("Pay") && html.contains("Cancel"), "{html}");
    assert!(html.contains(&bill.round_dp(2).to_string()), "the page shows the amount: {html}");

    let (status, html) = click(&w, &pay_url, "pay").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("支付成功"), "{html}");
    let paid = w.wait_order(&order, |o| o["state"] == "paid").await;
    assert_eq!(paid["amount"].as_str().unwrap().parse::<Decimal>().unwrap(), bill);
    // The other two deliveries arrive, are acknowledged and change nothing.
    for _ in 0..100 {
        if acknowledged_callbacks(&w).await >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(acknowledged_callbacks(&w).await, 3, "the sandbox delivered the callback three times");
    let succeeded = payment(&w, &order, &payment_id).await;
    assert_eq!(succeeded["status"], "succeeded", "{succeeded}");
    assert!(succeeded["pay_url"].is_null(), "nothing left to pay: {succeeded}");
    assert_eq!(payments(&w, &order).await.len(), 1);
    assert_settled_once(&w).await;
    assert_eq!(w.wallet_balance().await, Decimal::from(200), "the wallet was not touched");

    // Paying again: the wallet path sees it paid; the gateway path refuses; the page is closed.
    let (status, view) = w.app.post(&format!("/api/app/v1/orders/{order}/pay"), Some(&w.driver), &json!({})).await;
    assert_eq!((status, view["state"].as_str()), (200, Some("paid")), "{view}");
    let (status, refused) = w.app.post(&format!("/api/app/v1/orders/{order}/pay"), Some(&w.driver), &json!({"method": "sandbox"})).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("already_paid")), "{refused}");
    assert!(refused["error"]["message_zh"].as_str().unwrap().contains("已支付"), "{refused}");
    let (status, _) = click(&w, &pay_url, "pay").await;
    assert_eq!(status, 409, "a paid trade cannot be paid twice");
    let (status, unknown) = w.app.post(&format!("/api/app/v1/orders/{order}/pay"), Some(&w.driver), &json!({"method": "cash"})).await;
    assert_eq!((status, unknown["error"]["code"].as_str()), (422, Some("invalid_input")), "{unknown}");
    assert_settled_once(&w).await;
    w.app.cleanup().await;
}

/// A forged or tampered callback is refused and changes nothing; the genuine one, delivered
/// three times at once, pays once.
async fn forged_callbacks_change_nothing(backend: Backend) {
    let w = world(backend).await;
    let (order, bill) = w.billed_order().await;
    let (payment_id, _, trade) = pay_by_sandbox(&w, &order).await;
    let success = notice(&trade, &payment_id, "succeeded", bill);

    let (status, body) = callback(&w, &success, Some("whsec_forged")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")), "{body}");
    assert!(!body["error"]["message_zh"].as_str().unwrap().is_empty());
    let (status, _) = callback(&w, &success, None).await;
    assert_eq!(status, 403, "unsigned");
    let (status, body) = callback(&w, &notice(&trade, &payment_id, "succeeded", bill - Decimal::ONE), Some("real")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("amount_mismatch")), "{body}");
    let (status, _) = callback(&w, &notice("SBXNOSUCHTRADE", &payment_id, "succeeded", bill), Some("real")).await;
    assert_eq!(status, 422, "a trade that is not this payment's");
    let (_, still) = w.app.get(&format!("/api/app/v1/orders/{order}"), Some(&w.driver)).await;
    assert_eq!(still["state"], "billed", "{still}");
    assert_eq!(payment(&w, &order, &payment_id).await["status"], "pending");
    assert_eq!(count(&w, "SELECT COUNT(*) FROM settlement_lines").await, 0);

    let deliveries = (0..3).map(|_| callback(&w, &success, Some("real")));
    let answers = futures::future::join_all(deliveries).await;
    let mut outcomes: Vec<String> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 200, "{body}");
            body["outcome"].as_str().unwrap().to_owned()
        })
        .collect();
    outcomes.sort();
    assert_eq!(outcomes, ["ignored", "ignored", "paid"]);
    w.wait_order(&order, |o| o["state"] == "paid").await;
    assert_settled_once(&w).await;
    w.app.cleanup().await;
}

/// The user cancels; the money lands anyway (late success) → given back, order still unpaid.
/// Then the order is paid from the wallet, and a second gateway payment completed afterwards is
/// given back too: paid once.
async fn cancelled_then_paid_late_is_refunded_not_paid_twice(backend: Backend) {
    let w = world(backend).await;
    let (order, bill) = w.billed_order().await;
    let (first, pay_url, trade) = pay_by_sandbox(&w, &order).await;
    let (status, html) = click(&w, &pay_url, "cancel").await;
    assert_eq!(status, 200, "{html}");
    wait_payment(&w, &order, &first, "cancelled").await;
    let (_, still) = w.app.get(&format!("/api/app/v1/orders/{order}"), Some(&w.driver)).await;
    assert_eq!(still["state"], "billed");

    hook(&w, &trade, "settle", json!({"status": "succeeded"})).await;
    let refunded = wait_payment(&w, &order, &first, "refunded").await;
    assert!(refunded["refund_reason"].as_str().unwrap().contains("closed"), "{refunded}");
    assert!(refunded["refunded_at"].is_string());
    let (_, still) = w.app.get(&format!("/api/app/v1/orders/{order}"), Some(&w.driver)).await;
    assert_eq!(still["state"], "billed", "a closed payment never pays the order: {still}");
    assert_eq!(count(&w, "SELECT COUNT(*) FROM settlement_lines").await, 0);

    // A second attempt is opened, but the user pays from the wallet before finishing it.
    let (second, second_url, _) = pay_by_sandbox(&w, &order).await;
    assert_ne!(second, first);
    let (status, paid) = w.app.post(&format!("/api/app/v1/orders/{order}/pay"), Some(&w.driver), &json!({})).await;
    assert_eq!((status, paid["state"].as_str()), (200, Some("paid")), "{paid}");
    let (status, _) = click(&w, &second_url, "pay").await;
    assert_eq!(status, 200);
    let refunded = wait_payment(&w, &order, &second, "refunded").await;
    assert!(refunded["refund_reason"].as_str().unwrap().contains("already paid"), "{refunded}");

    let (_, order_now) = w.app.get(&format!("/api/app/v1/orders/{order}"), Some(&w.driver)).await;
    assert_eq!(order_now["state"], "paid");
    assert_eq!(w.wallet_balance().await, Decimal::from(200) - bill, "paid once, from the wallet");
    let statuses: Vec<String> =
        payments(&w, &order).await.iter().map(|p| format!("{}:{}", p["method"].as_str().unwrap(), p["status"].as_str().unwrap())).collect();
    assert_eq!(statuses, ["sandbox:refunded", "sandbox:refunded", "wallet:succeeded"]);
    assert_settled_once(&w).await;
    let audited = count(&w, "SELECT COUNT(*) FROM audit_log WHERE subject_type = 'payment' AND action = 'auto_refund'").await;
    assert_eq!(audited, 2);
    w.app.cleanup().await;
}

/// A `cancelled` that arrives after `succeeded` (out of order) never un-pays the order.
async fn stale_cancel_after_success_leaves_the_order_paid(backend: Backend) {
    let w = world(backend).await;
    let (order, bill) = w.billed_order().await;
    let (payment_id, pay_url, trade) = pay_by_sandbox(&w, &order).await;
    click(&w, &pay_url, "pay").await;
    w.wait_order(&order, |o| o["state"] == "paid").await;
    wait_payment(&w, &order, &payment_id, "succeeded").await;

    hook(&w, &trade, "notify", json!({"status": "cancelled", "times": 2})).await;
    hook(&w, &trade, "notify", json!({"status": "failed", "times": 1})).await;
    let (status, ack) = callback(&w, &notice(&trade, &payment_id, "cancelled", bill), Some("real")).await;
    assert_eq!((status, ack["outcome"].as_str()), (200, Some("ignored")), "{ack}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, still) = w.app.get(&format!("/api/app/v1/orders/{order}"), Some(&w.driver)).await;
    assert_eq!(still["state"], "paid", "{still}");
    assert_eq!(payment(&w, &order, &payment_id).await["status"], "succeeded");
    assert_settled_once(&w).await;
    w.app.cleanup().await;
}

/// A payment nobody finishes is not guessed dead: after the timeout the gateway is asked, the
/// trade closed there and the payment marked expired. One whose callback was lost is found
/// paid by the same query.
async fn unfinished_payments_expire_after_asking_the_gateway(backend: Backend) {
    let w = world(backend).await;
    let (order, _) = w.billed_order().await;
    let (abandoned, pay_url, _) = pay_by_sandbox(&w, &order).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(payment(&w, &order, &abandoned).await["status"], "pending", "not before the timeout");

    w.app.advance(chrono::Duration::minutes(16));
    let expired = wait_payment(&w, &order, &abandoned, "expired").await;
    assert!(expired["pay_url"].is_null());
    let (status, html) = click(&w, &pay_url, "pay").await;
    assert_eq!(status, 409, "the trade was closed at the gateway too: {html}");
    let (_, still) = w.app.get(&format!("/api/app/v1/orders/{order}"), Some(&w.driver)).await;
    assert_eq!(still["state"], "billed");

    // Paid at the gateway, but its callback never arrives: the sweep's query finds it.
    let (lost, _, trade) = pay_by_sandbox(&w, &order).await;
    hook(&w, &trade, "settle", json!({"status": "succeeded", "times": 0})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(payment(&w, &order, &lost).await["status"], "pending", "nobody told us yet");
    w.app.advance(chrono::Duration::minutes(16));
    w.wait_order(&order, |o| o["state"] == "paid").await;
    assert_eq!(payment(&w, &order, &lost).await["status"], "succeeded");
    assert_settled_once(&w).await;
    w.app.cleanup().await;
}

/// Finance refunds a paid order with a reason: through the gateway for a gateway payment, to
/// the wallet for a wallet payment; recorded on the payment, the order and the audit log.
async fn refunds_are_recorded(backend: Backend) {
    let w = world(backend).await;
    let (order, bill) = w.billed_order().await;
    let path = format!("/api/admin/v1/orders/{order}/refund");
    let (status, body) = w.app.post(&path, Some(&w.admin), &json!({"reason": "goodwill"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("not_refundable")), "not paid yet: {body}");

    let (payment_id, pay_url, _) = pay_by_sandbox(&w, &order).await;
    click(&w, &pay_url, "pay").await;
    w.wait_order(&order, |o| o["state"] == "paid").await;
    let (status, body) = w.app.post(&path, Some(&w.admin), &json!({"reason": " "})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_input")), "{body}");
    let (status, body) = w.app.post(&path, None, &json!({"reason": "charger fault, goodwill"})).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = w.app.post(&path, Some(&w.admin), &json!({"reason": "charger fault, goodwill"})).await;
    assert_eq!(status, 200, "{body}");
    let refunded = &body[0];
    assert_eq!((refunded["id"].as_str(), refunded["status"].as_str()), (Some(payment_id.as_str()), Some("refunded")), "{body}");
    assert_eq!(refunded["refund_reason"], "charger fault, goodwill");
    let refunded_order = w.wait_order(&order, |o| o["state"] == "refunded").await;
    assert_eq!(refunded_order["state_label_zh"], "已退款");
    let (status, again) = w.app.post(&path, Some(&w.admin), &json!({"reason": "charger fault, goodwill"})).await;
    assert_eq!((status, again[0]["status"].as_str()), (200, Some("refunded")), "asking again changes nothing: {again}");
    let (status, listed) = w.app.get(&format!("/api/admin/v1/orders/{order}/payments"), Some(&w.admin)).await;
    assert_eq!((status, listed.as_array().unwrap().len()), (200, 1), "{listed}");
    // The sandbox's own `refunded` callback follows and is acknowledged without a change.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(&w, "SELECT COUNT(*) FROM payments WHERE status = 'refunded'").await, 1);
    let by_admin = count(&w, "SELECT COUNT(*) FROM audit_log WHERE subject_type = 'payment' AND action = 'refund' AND actor LIKE 'admin:%'").await;
    assert_eq!(by_admin, 1);
    let (status, body) = w.app.post(&format!("/api/app/v1/orders/{order}/pay"), Some(&w.driver), &json!({})).await;
    assert_eq!(status, 409, "a refunded order is not paid again: {body}");

    // A wallet payment goes back to the wallet.
    let (second, second_bill) = w.billed_order().await;
    let (status, _) = w.app.post(&format!("/api/app/v1/orders/{second}/pay"), Some(&w.driver), &json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(w.wallet_balance().await, Decimal::from(200) - second_bill);
    let (status, body) = w.app.post(&format!("/api/admin/v1/orders/{second}/refund"), Some(&w.admin), &json!({"reason": "duplicate charge complaint"})).await;
    assert_eq!((status, body[0]["status"].as_str(), body[0]["method"].as_str()), (200, Some("refunded"), Some("wallet")), "{body}");
    assert_eq!(w.wallet_balance().await, Decimal::from(200));
    w.wait_order(&second, |o| o["state"] == "refunded").await;
    assert!(bill > Decimal::ZERO);

    // The period's statement keeps the partner's share and lists both refunds as ours to bear.
    let now = chrono::Utc::now();
    let period = json!({"start": now - chrono::Duration::days(1), "end": now + chrono::Duration::days(1)});
    let (status, statement) = w.app.post(&format!("/api/admin/v1/partners/{}/statements", w.partner_id), Some(&w.admin), &period).await;
    assert_eq!((status, statement["body"]["order_count"].as_i64()), (201, Some(2)), "{statement}");
    let refunds: Vec<Decimal> = statement["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(d["kind"], "refunded_to_user", "{statement}");
            d["refunded"].as_str().unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(refunds.iter().copied().sum::<Decimal>(), bill + second_bill, "{statement}");
    w.app.cleanup().await;
}
