//! A platform partner's sessions on our piles: start (with a required `Idempotency-Key`), stop,
//! read one, and list those of a period for reconciliation. Starts and stops are answered at
//! once (202); what the pile then does arrives as webhooks (`session.started`, …).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::order::{ChargeRecord, Order, OrderState, StopReason};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use services::Error;
use services::partner_sessions::{PartnerStart, PartnerStop, SessionNotice, StartRefusal};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{SCOPE, cursor, idempotent};
use crate::http::AppState;
use crate::http::error::{ApiResult, ErrorBody};
use crate::http::extract::{Json, PartnerToken, Path, Query};

/// The operation idempotency keys of starts are kept under.
const START: &str = "session.start";
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 500;

#[derive(Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"connector_id": "CB000100101"}))]
pub struct StartSession {
    /// Our connector id (from `GET /stations`).
    #[schema(min_length = 1, max_length = 64, example = "CB0001-1")]
    pub connector_id: String,
}

/// A session as the partner sees it; money in yuan and energy in kWh as decimal strings.
#[derive(Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "0193a5b3-1b22-7f30-84d5-e6f7a8b9c0d1", "connector_id": "SZ-NS-001-P1-1", "state": "billed", "created_at": "2026-12-05T01:30:00Z", "started_at": "2026-12-05T01:30:04Z", "updated_at": "2026-12-05T02:12:41Z", "energy_kwh": "20.500", "elec_money": "14.35", "service_money": "8.20", "total_money": "22.55", "charge_record": {"start": "2026-12-05T01:30:04Z", "end": "2026-12-05T02:12:40Z", "energy_kwh": "20.500", "elec_money": "14.35", "service_money": "8.20", "total_money": "22.55", "stop_reason": "remote"}}))]
pub struct SessionView {
    /// Our session id: what the partner stops, reads and reconciles the session by.
    pub id: Uuid,
    pub connector_id: String,
    pub state: OrderState,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// Energy so far (final once `charge_record` is present).
    #[schema(value_type = String, example = "12.345")]
    pub energy_kwh: Decimal,
    #[schema(value_type = String, example = "9.88")]
    pub elec_money: Decimal,
    #[schema(value_type = String, example = "7.41")]
    pub service_money: Decimal,
    #[schema(value_type = String, example = "17.29")]
    pub total_money: Decimal,
    /// The charge-end record, once the session has ended and been priced.
    pub charge_record: Option<ChargeRecordView>,
}

/// What a session ended with, priced at this partner's prices.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ChargeRecordView {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    #[schema(value_type = String)]
    pub energy_kwh: Decimal,
    #[schema(value_type = String)]
    pub elec_money: Decimal,
    #[schema(value_type = String)]
    pub service_money: Decimal,
    #[schema(value_type = String)]
    pub total_money: Decimal,
    /// `user`, `platform`, `bms`, `charger_fault`, `disconnected` or `other`.
    pub stop_reason: String,
}

/// The stop reason in the words of this API.
pub fn stop_reason_word(reason: StopReason) -> &'static str {
    match reason {
        StopReason::User => "user",
        StopReason::Platform => "platform",
        StopReason::Bms => "bms",
        StopReason::ChargerFault => "charger_fault",
        StopReason::Disconnected => "disconnected",
        StopReason::Other(_) => "other",
    }
}

pub fn record_view(r: &ChargeRecord) -> ChargeRecordView {
    ChargeRecordView {
        start: r.start,
        end: r.end,
        energy_kwh: r.energy.value(),
        elec_money: r.elec_money.yuan(),
        service_money: r.service_money.yuan(),
        total_money: r.total_money.yuan(),
        stop_reason: stop_reason_word(r.stop_reason).into(),
    }
}

/// A session from its order alone: the final record, or the progress last reported.
fn from_order(state: &AppState, order: &Order) -> SessionView {
    let (energy, total) = match (&order.record, &order.progress) {
        (Some(r), _) => (r.energy.value(), r.total_money.yuan()),
        (None, Some(p)) => (p.energy.map_or(Decimal::ZERO, |e| e.value()), p.money.map_or(Decimal::ZERO, |m| m.yuan())),
        _ => (Decimal::ZERO, Decimal::ZERO),
    };
    SessionView {
        id: order.id,
        connector_id: state.services.own_connector_external(order.connector_id).unwrap_or_default(),
        state: order.state,
        created_at: order.created_at,
        started_at: order.started_at,
        updated_at: order.updated_at,
        energy_kwh: energy,
        elec_money: order.record.as_ref().map_or(Decimal::ZERO, |r| r.elec_money.yuan()),
        service_money: order.record.as_ref().map_or(Decimal::ZERO, |r| r.service_money.yuan()),
        total_money: total,
        charge_record: order.record.as_ref().map(record_view),
    }
}

/// A session with the energy and money of its meter curve so far.
fn with_notice(state: &AppState, order: &Order, notice: &SessionNotice) -> SessionView {
    let mut view = from_order(state, order);
    if order.record.is_none() {
        view.energy_kwh = notice.energy_kwh;
        view.elec_money = notice.elec_money;
        view.service_money = notice.service_money;
        view.total_money = notice.total_money;
    }
    view
}

/// Starts a session (the partner's user at our connector). Answered at once with the session
/// (`starting`); `session.started` or `session.failed` follows as a webhook. The same
/// `Idempotency-Key` with the same body answers the same (status and session) however often it
/// is sent; with a different body it is refused.
#[utoipa::path(post, path = "/sessions", tag = "partner", security(("oauth2" = ["emsp"])), request_body = StartSession,
    params(("Idempotency-Key" = String, Header, description = "unique per intended session, 1–255 characters; kept so retries get the first answer", min_length = 1, max_length = 255, pattern = "^[\\x21-\\x7E]([\\x20-\\x7E]*[\\x21-\\x7E])?$")),
    responses(
        (status = 202, body = SessionView, description = "accepted: the pile is being started", headers(("Idempotent-Replayed" = Option<String>, description = "`true` when this is the stored answer to an earlier request with the same key"))),
        (status = 400, body = ErrorBody, description = "`idempotency_key_required` / `idempotency_key_invalid`, or an unreadable body"),
        (status = 403, body = ErrorBody, description = "the token lacks the `emsp` scope, or the partner is no approved platform"),
        (status = 404, body = ErrorBody, description = "no such connector, or not one this partner may use"),
        (status = 409, body = ErrorBody, description = "`pile_offline`, or `connector_busy` (occupied, charging, reserved, faulted or unknown)"),
        (status = 422, body = ErrorBody, description = "`idempotency_key_reused`: the key was used with another body; or invalid input")))]
pub async fn start_session(
    State(state): State<AppState>,
    PartnerToken(principal): PartnerToken,
    headers: HeaderMap,
    Json(body): Json<StartSession>,
) -> ApiResult<Response> {
    principal.require_scope(SCOPE)?;
    let partner = principal.partner_id;
    let (state, body) = (&state, &body);
    idempotent::run(state, partner, START, &headers, body, |seq| async move {
        match start(state, partner, &seq, &body.connector_id).await {
            Ok(view) => (StatusCode::ACCEPTED, Json(view)).into_response(),
            Err(e) => e.into_response(),
        }
    })
    .await
}

async fn start(state: &AppState, partner: Uuid, seq: &str, connector: &str) -> ApiResult<SessionView> {
    match state.services.partner_start(partner, seq, connector).await? {
        PartnerStart::Accepted(order) => Ok(from_order(state, &order)),
        PartnerStart::Refused(StartRefusal::UnknownConnector) => Err(Error::not_found("connector").into()),
        PartnerStart::Refused(StartRefusal::PileOffline) => Err(Error::Conflict {
            code: "pile_offline",
            field: Some("connector_id"),
            message: "the pile of this connector is not connected to us".into(),
            message_zh: "该充电枪所在的充电桩离线".into(),
        }
        .into()),
        PartnerStart::Refused(StartRefusal::ConnectorBusy(status)) => Err(Error::Conflict {
            code: "connector_busy",
            field: Some("connector_id"),
            message: format!("the connector is not free (it is {})", status.as_str()),
            message_zh: format!("该充电枪当前不可用（状态：{}）", status.as_str()),
        }
        .into()),
    }
}

/// Stops a session. Answered at once (`stopping`); `session.stopped` and then
/// `session.charge_record` follow as webhooks.
#[utoipa::path(post, path = "/sessions/{id}/stop", tag = "partner", security(("oauth2" = ["emsp"])),
    params(("id" = Uuid, Path, description = "our session id")),
    responses(
        (status = 202, body = SessionView, description = "the pile is being stopped (or will be as soon as it has started)"),
        (status = 403, body = ErrorBody, description = "the token lacks the `emsp` scope, or the partner is no approved platform"),
        (status = 409, body = ErrorBody, description = "`session_not_active` (it has ended or is ending), or `pile_offline`")))]
pub async fn stop_session(
    State(state): State<AppState>,
    PartnerToken(principal): PartnerToken,
    Path(id): Path<Uuid>,
) -> ApiResult<(StatusCode, Json<SessionView>)> {
    principal.require_scope(SCOPE)?;
    let partner = principal.partner_id;
    let (order, _) = state.services.partner_session_by_id(partner, id).await?.ok_or(Error::not_found("order"))?;
    match state.services.partner_stop(partner, order.seq.as_str()).await? {
        PartnerStop::Accepted(order) => Ok((StatusCode::ACCEPTED, Json(from_order(&state, &order)))),
        PartnerStop::AlreadyStopped(order) => Err(Error::Conflict {
            code: "session_not_active",
            field: None,
            message: format!("the session is not charging (it is {})", order.state.as_str()),
            message_zh: format!("该充电会话不在充电中（状态：{}）", order.state.as_str()),
        }
        .into()),
        PartnerStop::PileOffline(_) => Err(Error::Conflict {
            code: "pile_offline",
            field: None,
            message: "the pile is not connected to us; the session is ended when it reconnects or times out".into(),
            message_zh: "充电桩离线；其重新连接或超时后会话将结束".into(),
        }
        .into()),
    }
}

/// One session with its energy and money so far, and its charge record once it has ended.
#[utoipa::path(get, path = "/sessions/{id}", tag = "partner", security(("oauth2" = ["emsp"])),
    params(("id" = Uuid, Path, description = "our session id")),
    responses((status = 200, body = SessionView),
              (status = 403, body = ErrorBody, description = "the token lacks the `emsp` scope, or the partner is no approved platform")))]
pub async fn get_session(State(state): State<AppState>, PartnerToken(principal): PartnerToken, Path(id): Path<Uuid>) -> ApiResult<Json<SessionView>> {
    principal.require_scope(SCOPE)?;
    let (order, notice) = state.services.partner_session_by_id(principal.partner_id, id).await?.ok_or(Error::not_found("order"))?;
    Ok(Json(with_notice(&state, &order, &notice)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionsQuery {
    /// Sessions created at or after this instant (RFC 3339).
    pub from: DateTime<Utc>,
    /// Sessions created before this instant (RFC 3339).
    pub to: DateTime<Utc>,
    /// `next_cursor` of the previous page, as received.
    pub cursor: Option<String>,
    /// Sessions per page.
    #[param(minimum = 1, maximum = 500, default = 100)]
    pub limit: Option<i64>,
}

/// Where the next page of sessions starts: after this one.
#[derive(Serialize, Deserialize)]
struct After {
    at: DateTime<Utc>,
    id: Uuid,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"items": [{"id": "0193a5b3-1b22-7f30-84d5-e6f7a8b9c0d1", "connector_id": "SZ-NS-001-P1-1", "state": "charging", "created_at": "2026-12-05T01:30:00Z", "started_at": "2026-12-05T01:30:04Z", "updated_at": "2026-12-05T01:50:00Z", "energy_kwh": "9.800", "elec_money": "6.86", "service_money": "3.92", "total_money": "10.78"}], "next_cursor": "MDE5M2E1YjMtMWIyMg"}))]
pub struct SessionPage {
    pub items: Vec<SessionView>,
    /// Pass as `cursor` (with the same `from` and `to`) for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// This partner's sessions created in `[from, to)`, oldest first, for reconciliation.
#[utoipa::path(get, path = "/sessions", tag = "partner", security(("oauth2" = ["emsp"])), params(SessionsQuery),
    responses((status = 200, body = SessionPage),
              (status = 403, body = ErrorBody, description = "the token lacks the `emsp` scope, or the partner is no approved platform")))]
pub async fn list_sessions(
    State(state): State<AppState>,
    PartnerToken(principal): PartnerToken,
    Query(q): Query<SessionsQuery>,
) -> ApiResult<Json<SessionPage>> {
    principal.require_scope(SCOPE)?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::invalid("limit", format!("limit must be 1–{MAX_LIMIT}"), format!("limit 须在 1–{MAX_LIMIT} 之间")).into());
    }
    if q.to <= q.from {
        return Err(Error::invalid("to", "`to` must be after `from`", "`to` 须晚于 `from`").into());
    }
    let after = q.cursor.as_deref().map(cursor::decode::<After>).transpose()?;
    let orders = state.services.partner_sessions_page(principal.partner_id, q.from, q.to, after.map(|a| (a.at, a.id)), limit).await?;
    let next_cursor = (orders.len() as i64 == limit).then(|| orders.last().map(|o| cursor::encode(&After { at: o.created_at, id: o.id }))).flatten();
    Ok(Json(SessionPage { items: orders.iter().map(|o| from_order(&state, o)).collect(), next_cursor }))
}
