//! Webhooks to REST partners: the outbox messages of flow B rendered in this API's words.
//!
//! The outbox keeps one message per event, written with the state change it reports; its id is
//! the event id (`id` in the body, `X-Chargebridge-Delivery` header), the same on every retry,
//! so receivers deduplicate on it. Session events are ordered per session, status changes per
//! connector. T/CEC 102 partners get the same messages as the standard's notifications; only
//! the rendering differs.
//!
//! | outbox message                         | webhook `kind`              |
//! |----------------------------------------|-----------------------------|
//! | `session.start_result`, success        | `session.started`           |
//! | `session.start_result`, failure        | `session.failed`            |
//! | `session.charge_status`                | `session.progress`          |
//! | `session.stop_result`, success         | `session.stopped`           |
//! | `session.stop_result`, failure         | `session.stop_failed`       |
//! | `session.charge_record`                | `session.charge_record`     |
//! | `station.connector_status`             | `connector.status_changed`  |
//! | `session.reserve_result`               | `reservation.expired`, `reservation.used`, `reservation.cancelled`, `reservation.failed` |
//! | `settlement.order_paid` (flow A)       | `order.paid`                |
//! | `statement.ready`, `statement.paid`    | the same (written in this API's words)                 |

use chrono::{DateTime, Utc};
use domain::order::OrderState;
use domain::station::ConnectorStatus;
use rust_decimal::Decimal;
use serde::Serialize;
use services::Services;
use services::partner_sessions::{CHARGE_RECORD, CHARGE_STATUS, START_RESULT, STOP_RESULT, SessionNotice};
use services::pile_reservations::{RESERVE_RESULT, ReserveNotice};
use services::status_push::{CONNECTOR_STATUS, ConnectorNotice};
use store::outbox::OutboxMessage;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use super::reservations::outcome_word;
use super::sessions::ChargeRecordView;

/// The event schemas, published in the OpenAPI document's components.
#[derive(OpenApi)]
#[openapi(components(schemas(
    WebhookEvent,
    SessionEvent,
    FeeLineView,
    ConnectorStatusEvent,
    ReservationEvent,
    ChargeRecordView,
    OrderPaidEvent,
    StatementEvent
)))]
pub struct EventCatalogue;

/// The body of every webhook: `POST {callback_base_url}/chargebridge/webhook`, signed in
/// `X-Chargebridge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(webhook_secret, "<t>.<body>")>`.
/// Answer 2xx to acknowledge; anything else is retried with backoff.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a0c2-7c1e-7d3a-9a55-1f0e8b2a4c11", "kind": "connector.status_changed", "created_at": "2026-12-05T01:31:02.113Z",
    "data": {"connector_id": "CB000100101", "station_id": "CB0001", "status": "charging", "at": "2026-12-05T01:31:02.001Z"}}))]
pub struct WebhookEvent {
    /// The event id: the same on every retry of this event; deduplicate on it.
    pub id: Uuid,
    /// `session.started`, `session.failed`, `session.progress`, `session.stopped`,
    /// `session.stop_failed`, `session.charge_record` (data: `SessionEvent`) or
    /// `connector.status_changed` (data: `ConnectorStatusEvent`), `reservation.expired`,
    /// `reservation.used`, `reservation.cancelled`, `reservation.failed` (data: `ReservationEvent`),
    /// `order.paid` (data: `OrderPaidEvent`), `statement.ready`, `statement.paid` (data: `StatementEvent`).
    pub kind: String,
    pub created_at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// `data` of the `session.*` events.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"session_id": "0193a0c2-6b00-7a41-8f0e-3c2d1b0a9f88", "connector_id": "CB000100101", "state": "charging",
    "started_at": "2026-12-05T01:30:05Z", "at": "2026-12-05T01:35:05Z", "energy_kwh": "3.200", "elec_money": "2.56", "service_money": "1.92",
    "total_money": "4.48", "charge_record": null, "lines": []}))]
pub struct SessionEvent {
    /// Our session id (as answered by `POST /sessions`).
    pub session_id: Uuid,
    pub connector_id: String,
    pub state: OrderState,
    pub started_at: Option<DateTime<Utc>>,
    /// When the reported state was reached.
    pub at: DateTime<Utc>,
    /// Energy and money so far (final in `session.charge_record`), decimal strings.
    #[schema(value_type = String)]
    pub energy_kwh: Decimal,
    #[schema(value_type = String)]
    pub elec_money: Decimal,
    #[schema(value_type = String)]
    pub service_money: Decimal,
    #[schema(value_type = String)]
    pub total_money: Decimal,
    /// In `session.charge_record` only: the record and its priced periods.
    pub charge_record: Option<ChargeRecordView>,
    /// In `session.charge_record` only.
    pub lines: Vec<FeeLineView>,
}

/// One priced period of a charge record.
#[derive(Serialize, ToSchema)]
pub struct FeeLineView {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    #[schema(value_type = String)]
    pub energy_kwh: Decimal,
    #[schema(value_type = String)]
    pub elec_price: Decimal,
    #[schema(value_type = String)]
    pub service_price: Decimal,
    #[schema(value_type = String)]
    pub elec_money: Decimal,
    #[schema(value_type = String)]
    pub service_money: Decimal,
}

/// `data` of `connector.status_changed`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"connector_id": "CB000100101", "station_id": "CB0001", "status": "charging", "at": "2026-12-05T01:31:02.001Z"}))]
pub struct ConnectorStatusEvent {
    pub connector_id: String,
    pub station_id: String,
    pub status: ConnectorStatus,
    /// When the connector reached this status.
    pub at: DateTime<Utc>,
}

/// `data` of the `reservation.*` events: a hold that ended without the partner asking.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"reservation_id": "0193a0c2-6b00-7a41-8f0e-3c2d1b0a9f88", "connector_id": "CB000100101", "outcome": "expired", "at": "2026-12-05T01:45:00Z"}))]
pub struct ReservationEvent {
    /// Our reservation id (as answered by `POST /reservations`).
    pub reservation_id: Uuid,
    pub connector_id: String,
    /// `expired`, `used` (a start of this partner took the hold over), `cancelled` or `failed`.
    pub outcome: String,
    pub at: DateTime<Utc>,
}

/// The outbox message of a paid flow-A order (`services::charging`), for its operator.
const ORDER_PAID: &str = "settlement.order_paid";

/// `data` of `order.paid`: our driver paid a session at the operator's charger.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"session_id": "0193a0c2-6b00-7a41-8f0e-3c2d1b0a9f88", "gross": "23.00", "commission": "1.00", "partner_amount": "22.00",
    "energy_kwh": "20.00", "paid_at": "2026-12-05T02:12:40Z"}))]
pub struct OrderPaidEvent {
    /// Our session id (as in the `start_session` command).
    pub session_id: Uuid,
    /// What our driver paid, yuan.
    #[schema(value_type = String)]
    pub gross: String,
    /// Our commission.
    #[schema(value_type = String)]
    pub commission: String,
    /// The operator's share: what the statement will owe it for this session.
    #[schema(value_type = String)]
    pub partner_amount: String,
    #[schema(value_type = String)]
    pub energy_kwh: String,
    pub paid_at: DateTime<Utc>,
}

/// `data` of `statement.ready` (confirmed, check it) and `statement.paid`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"statement_id": "0193b1d4-0000-7000-8000-000000000001", "period_start": "2026-11-30T16:00:00Z", "period_end": "2026-12-31T16:00:00Z",
    "orders": 1280, "energy_kwh": "25612.40", "gross": "30121.77", "commission": "1204.87", "partner_amount": "28916.90", "net_to_partner": "28916.90"}))]
pub struct StatementEvent {
    pub statement_id: Uuid,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub orders: u64,
    #[schema(value_type = String)]
    pub energy_kwh: String,
    #[schema(value_type = String)]
    pub gross: String,
    #[schema(value_type = String)]
    pub commission: String,
    #[schema(value_type = String)]
    pub partner_amount: String,
    /// Positive: we pay you; negative: you pay us.
    #[schema(value_type = String)]
    pub net_to_partner: String,
}

/// A stored figure as the decimal string this API always uses.
fn money_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Our order id of the order numbered `seq`.
async fn order_of(services: &Services, seq: &str) -> Result<domain::order::Order, String> {
    let mut conn = services.db.acquire().await.map_err(|e| e.to_string())?;
    Ok(store::orders::by_seq(&mut conn, seq).await.map_err(|e| e.to_string())?.ok_or_else(|| format!("no order {seq}"))?.order)
}

/// The webhook `kind` and `data` of `message` for a REST partner; `None` for messages sent as
/// they are (settlement and other notices already in this API's words). `Err` when the message
/// cannot be read now (retried).
pub async fn render(services: &Services, message: &OutboxMessage) -> Result<Option<(String, serde_json::Value)>, String> {
    let rendered = match message.kind.as_str() {
        START_RESULT | CHARGE_STATUS | STOP_RESULT | CHARGE_RECORD => {
            let notice: SessionNotice = serde_json::from_value(message.payload.clone()).map_err(|e| format!("session notice: {e}"))?;
            let kind = match (message.kind.as_str(), notice.success) {
                (START_RESULT, true) => "session.started",
                (START_RESULT, false) => "session.failed",
                (CHARGE_STATUS, _) => "session.progress",
                (STOP_RESULT, true) => "session.stopped",
                (STOP_RESULT, false) => "session.stop_failed",
                _ => "session.charge_record",
            };
            let order = order_of(services, &notice.seq).await?;
            let final_record = kind == "session.charge_record";
            let event = SessionEvent {
                session_id: order.id,
                connector_id: notice.connector,
                state: notice.state,
                started_at: notice.started_at,
                at: notice.at,
                energy_kwh: notice.energy_kwh,
                elec_money: notice.elec_money,
                service_money: notice.service_money,
                total_money: notice.total_money,
                charge_record: order.record.as_ref().filter(|_| final_record).map(super::sessions::record_view),
                lines: notice
                    .lines
                    .iter()
                    .map(|l| FeeLineView {
                        start: l.start,
                        end: l.end,
                        energy_kwh: l.energy.value(),
                        elec_price: l.elec_price.value(),
                        service_price: l.service_price.value(),
                        elec_money: l.elec_money.yuan(),
                        service_money: l.service_money.yuan(),
                    })
                    .collect(),
            };
            (kind, serde_json::to_value(event).map_err(|e| e.to_string())?)
        }
        CONNECTOR_STATUS => {
            let notice: ConnectorNotice = serde_json::from_value(message.payload.clone()).map_err(|e| format!("status notice: {e}"))?;
            let event = ConnectorStatusEvent { connector_id: notice.connector, station_id: notice.station, status: notice.status, at: notice.at };
            ("connector.status_changed", serde_json::to_value(event).map_err(|e| e.to_string())?)
        }
        RESERVE_RESULT => {
            let notice: ReserveNotice = serde_json::from_value(message.payload.clone()).map_err(|e| format!("reservation notice: {e}"))?;
            let order = order_of(services, &notice.seq).await?;
            let outcome = outcome_word(notice.outcome);
            let event = ReservationEvent { reservation_id: order.id, connector_id: notice.connector, outcome: outcome.to_owned(), at: notice.at };
            return Ok(Some((format!("reservation.{outcome}"), serde_json::to_value(event).map_err(|e| e.to_string())?)));
        }
        ORDER_PAID => {
            let order = order_of(services, message.payload["seq"].as_str().unwrap_or_default()).await?;
            let p = &message.payload;
            let event = OrderPaidEvent {
                session_id: order.id,
                gross: money_text(&p["gross"]),
                commission: money_text(&p["commission"]),
                partner_amount: money_text(&p["partner_amount"]),
                energy_kwh: money_text(&p["energy"]),
                paid_at: serde_json::from_value(p["paid_at"].clone()).map_err(|e| format!("paid_at: {e}"))?,
            };
            ("order.paid", serde_json::to_value(event).map_err(|e| e.to_string())?)
        }
        _ => return Ok(None),
    };
    Ok(Some((rendered.0.to_owned(), rendered.1)))
}
