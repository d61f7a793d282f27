//! The payment page a user is sent to, and its two buttons. Paying or cancelling answers the
//! browser at once; the merchant learns the outcome only from the callback that follows, as
//! with real gateways.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Html;
use services::payment_gateway::TradeStatus;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::SandboxPay;

pub fn router() -> OpenApiRouter<Arc<SandboxPay>> {
    OpenApiRouter::new().routes(routes!(show)).routes(routes!(pay)).routes(routes!(cancel))
}

/// Escapes text for HTML (the subject comes from the merchant).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn layout(title_zh: &str, title_en: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title_zh} / {title_en}</title><style>body{{font-family:sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}}\
         .amount{{font-size:2rem;margin:1rem 0}}button{{font-size:1rem;padding:.6rem 1.4rem;margin-right:.6rem}}\
         .note{{color:#666;font-size:.85rem}}</style></head><body><h1>{title_zh}<br><small>{title_en}</small></h1>{body}\
         <p class=\"note\">沙箱支付，不会产生真实扣款。Sandbox payment: no real money moves.</p></body></html>"
    )
}

fn not_found() -> (StatusCode, Html<String>) {
    (StatusCode::NOT_FOUND, Html(layout("交易不存在", "No such trade", "<p>请返回商户重新发起支付。Go back to the merchant and start again.</p>")))
}

fn not_payable(status: TradeStatus) -> (StatusCode, Html<String>) {
    let (zh, en) = match status {
        TradeStatus::Succeeded => ("该交易已支付", "This trade is already paid"),
        TradeStatus::Cancelled => ("该交易已取消", "This trade was cancelled"),
        TradeStatus::Closed => ("该交易已关闭（超时）", "This trade is closed (timed out)"),
        TradeStatus::Refunded => ("该交易已退款", "This trade was refunded"),
        TradeStatus::Failed => ("该交易已失败", "This trade failed"),
        TradeStatus::Pending => ("该交易待支付", "This trade awaits payment"),
    };
    (StatusCode::CONFLICT, Html(layout(zh, en, "<p>请返回商户查看订单状态。Go back to the merchant to see the order.</p>")))
}

/// The payment page (收银台): amount, subject, Pay and Cancel.
#[utoipa::path(get, path = "/{trade}", tag = "sandbox", params(("trade" = String, Path, description = "the sandbox trade id")),
    responses((status = 200, description = "HTML payment page", content_type = "text/html"), (status = 404, description = "no such trade")))]
async fn show(State(sandbox): State<Arc<SandboxPay>>, Path(trade): Path<String>) -> (StatusCode, Html<String>) {
    sandbox.expire_if_due(&trade);
    let Some(t) = sandbox.trade(&trade) else { return not_found() };
    if t.status != TradeStatus::Pending {
        return not_payable(t.status);
    }
    let id = escape(&t.trade_id);
    let body = format!(
        "<p>{subject}</p><p class=\"amount\">¥ {amount}</p><p class=\"note\">交易号 Trade: {id}</p>\
         <form method=\"post\" action=\"{id}/pay\" style=\"display:inline\"><button type=\"submit\">确认支付 Pay</button></form>\
         <form method=\"post\" action=\"{id}/cancel\" style=\"display:inline\"><button type=\"submit\">取消 Cancel</button></form>",
        subject = escape(&t.subject),
        amount = t.amount.round_fen().yuan(),
    );
    (StatusCode::OK, Html(layout("沙箱收银台", "Sandbox checkout", &body)))
}

/// Moves a pending trade to `to` and sends the callback; the page says what happened.
fn finish(sandbox: &Arc<SandboxPay>, trade: &str, to: TradeStatus) -> (StatusCode, Html<String>) {
    sandbox.expire_if_due(trade);
    let now = sandbox.now();
    let moved = sandbox.update(trade, |t| {
        if t.status != TradeStatus::Pending {
            return Err(t.status);
        }
        t.status = to;
        t.at = now;
        Ok(t.clone())
    });
    match moved {
        None => not_found(),
        Some(Err(status)) => not_payable(status),
        Some(Ok(t)) => {
            sandbox.notify(&t, to, sandbox.settings.duplicate_callbacks, sandbox.settings.callback_delay);
            let (zh, en) = if to == TradeStatus::Succeeded { ("支付成功", "Payment succeeded") } else { ("已取消支付", "Payment cancelled") };
            (StatusCode::OK, Html(layout(zh, en, "<p>请返回商户查看订单状态。You can return to the merchant now.</p>")))
        }
    }
}

/// The user pays (确认支付).
#[utoipa::path(post, path = "/{trade}/pay", tag = "sandbox", params(("trade" = String, Path, description = "the sandbox trade id")),
    responses((status = 200, description = "paid; the callback follows", content_type = "text/html"), (status = 409, description = "not payable any more"), (status = 404)))]
async fn pay(State(sandbox): State<Arc<SandboxPay>>, Path(trade): Path<String>) -> (StatusCode, Html<String>) {
    finish(&sandbox, &trade, TradeStatus::Succeeded)
}

/// The user cancels (取消).
#[utoipa::path(post, path = "/{trade}/cancel", tag = "sandbox", params(("trade" = String, Path, description = "the sandbox trade id")),
    responses((status = 200, description = "cancelled; the callback follows", content_type = "text/html"), (status = 409, description = "not pending any more"), (status = 404)))]
async fn cancel(State(sandbox): State<Arc<SandboxPay>>, Path(trade): Path<String>) -> (StatusCode, Html<String>) {
    finish(&sandbox, &trade, TradeStatus::Cancelled)
}
