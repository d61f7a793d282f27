//! The charging order: one session (or reservation) from the first click to payment.
//!
//! Both flows use this one state machine. In flow A we create the order for our user and drive
//! a partner's pile; in flow B a partner platform creates it (through our control API) for its
//! user and we drive our own pile. [`Order::apply`] is the only place that decides which event
//! may move an order where; every accepted event yields a [`Transition`] to persist (in the same
//! transaction as the order, next to its outbox message).
//!
//! ```text
//! created   ─start─► starting ─result ok─► charging ─stop─► stopping ─record─► finished ─► billed ─► paid ─refund─► refunded
//! created   ─reserve─► reserving ─confirmed─► reserved ─start─► starting
//! reserved  ─► reservation_expired | cancelled          reserving ─refused─► failed
//! reserved  ─start under its own sequence (flow B)─► reservation_used
//! starting  ─refused / result failed─► failed            charging ─fault─► interrupted ─record─► finished
//! starting | stopping | reserving ─no answer─► unknown_outcome ─fact (query, push, record)─► …
//! ```
//!
//! `unknown_outcome` is where an order goes when the partner (or our pile) did not answer a
//! command in time: we do **not** know whether the car is charging. It leaves that state only
//! on a fact — a query answer, a result or status notification, a charge record — never by a
//! timer guessing "failed": a session wrongly marked failed may be charging right now, which
//! means unbilled energy, a blocked connector and a dispute. The one action allowed without
//! knowing is the safe one: asking to stop.
//!
//! Pushes arrive twice, late and out of order (every protocol retries): an ended order never moves back. Such
//! events are refused with [`OrderError::LateEvent`] or [`OrderError::Duplicate`], which callers
//! acknowledge and drop; a partner saying a closed order is charging is
//! [`OrderError::ChargingAfterClose`], which callers must act on (send a stop).

use std::fmt;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::money::{Energy, Money};
use crate::tariff::beijing;

// ---------------------------------------------------------------------------------------------
// StartChargeSeq
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeqError {
    #[error("OperatorID must be 9 uppercase letters or digits, got {0:?}")]
    OperatorId(String),
    #[error("the unique part must be 18 letters or digits, got {0:?}")]
    UniquePart(String),
    #[error("StartChargeSeq must be 27 characters (9-character OperatorID + 18), got {0}")]
    Length(usize),
}

impl SeqError {
    pub fn message_zh(&self) -> String {
        match self {
            Self::OperatorId(s) => format!("运营商ID须为 9 位大写字母或数字，收到 {s:?}"),
            Self::UniquePart(s) => format!("订单唯一编号须为 18 位字母或数字，收到 {s:?}"),
            Self::Length(n) => format!("充电订单号须为 27 位（9 位运营商ID + 18 位编号），收到 {n} 位"),
        }
    }
}

fn valid_operator_id(s: &str) -> bool {
    s.len() == 9 && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The order number both sides know a session by (充电订单号): the creating side's 9-character OperatorID followed by an
/// 18-character unique part. It is the idempotency key of the whole session: a second start
/// with the same sequence is the same order, never a second session.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "MA5DEMO01202401011200000001"))]
pub struct StartChargeSeq(String);

impl StartChargeSeq {
    pub const LEN: usize = 27;

    pub fn new(operator_id: &str, unique: &str) -> Result<Self, SeqError> {
        if !valid_operator_id(operator_id) {
            return Err(SeqError::OperatorId(operator_id.to_owned()));
        }
        if unique.len() != 18 || !unique.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(SeqError::UniquePart(unique.to_owned()));
        }
        Ok(Self(format!("{operator_id}{unique}")))
    }

    /// Strict parse: exactly 27 characters.
    pub fn parse(s: &str) -> Result<Self, SeqError> {
        if s.len() != Self::LEN || !s.is_ascii() {
            return Err(SeqError::Length(s.chars().count()));
        }
        Self::new(&s[..9], &s[9..])
    }

    /// Lenient parse for partners flagged as sending longer order numbers (municipal variants
    /// use up to 64): a valid OperatorID followed by 18–55 letters or digits.
    pub fn parse_relaxed(s: &str) -> Result<Self, SeqError> {
        if !s.is_ascii() || !(Self::LEN..=64).contains(&s.len()) {
            return Err(SeqError::Length(s.chars().count()));
        }
        let (op, rest) = s.split_at(9);
        if !valid_operator_id(op) {
            return Err(SeqError::OperatorId(op.to_owned()));
        }
        if !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(SeqError::UniquePart(rest.to_owned()));
        }
        Ok(Self(s.to_owned()))
    }

    /// The usual shape: OperatorID + Beijing `yyyyMMddHHmmss` + a 4-digit counter for orders
    /// created in the same second (the caller keeps the counter, as it keeps the clock).
    pub fn generate(operator_id: &str, at: DateTime<Utc>, counter: u16) -> Result<Self, SeqError> {
        let t = at.with_timezone(&beijing());
        let unique = format!("{:04}{:02}{:02}{:02}{:02}{:02}{:04}", t.year(), t.month(), t.day(), t.hour(), t.minute(), t.second(), counter % 10_000);
        Self::new(operator_id, &unique)
    }

    /// Who created the order (flow A: us; flow B: the partner platform).
    pub fn operator_id(&self) -> &str {
        &self.0[..9]
    }

    pub fn unique_part(&self) -> &str {
        &self.0[9..]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for StartChargeSeq {
    type Error = SeqError;
    fn try_from(s: String) -> Result<Self, SeqError> {
        Self::parse_relaxed(&s)
    }
}

impl From<StartChargeSeq> for String {
    fn from(s: StartChargeSeq) -> Self {
        s.0
    }
}

impl fmt::Display for StartChargeSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Who owns the order
// ---------------------------------------------------------------------------------------------

/// Whose user charges at whose pile; decides who bills the user and who settles with whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ownership {
    /// Flow A: our user at a partner operator's pile. We create the StartChargeSeq, bill the
    /// user, take the payment and settle the partner's share.
    PartnerPile { user_id: Uuid, operator_partner_id: Uuid },
    /// Flow B: a partner platform's user on our pile. The partner created the StartChargeSeq
    /// and bills its user; we settle with the partner by statement.
    PartnerUser { platform_partner_id: Uuid },
    /// Our user on our own pile; no partner involved.
    Own { user_id: Uuid },
}

impl Ownership {
    /// The partner on the other side, if any.
    pub fn partner_id(self) -> Option<Uuid> {
        match self {
            Self::PartnerPile { operator_partner_id, .. } => Some(operator_partner_id),
            Self::PartnerUser { platform_partner_id } => Some(platform_partner_id),
            Self::Own { .. } => None,
        }
    }

    /// Whether we collect from the user ourselves (else the partner platform does, and the
    /// order is settled in a statement rather than paid one by one).
    pub fn we_bill_the_user(self) -> bool {
        !matches!(self, Self::PartnerUser { .. })
    }
}

// ---------------------------------------------------------------------------------------------
// States, reasons, events
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum OrderState {
    Created,
    Reserving,
    Reserved,
    ReservationExpired,
    /// The hold was consumed by a start, which runs as an order of its own (flow B: the
    /// partner names its reservation and its session with different sequences).
    ReservationUsed,
    Starting,
    Charging,
    /// Stop requested or reported; waiting for the final charge record.
    Stopping,
    /// Ended abnormally (fault, disconnection); waiting for the final charge record.
    Interrupted,
    /// The charge record has arrived; the fee can be computed.
    Finished,
    Billed,
    Paid,
    /// The user's payment was given back in full after the order was paid (goodwill, dispute).
    Refunded,
    Failed,
    Cancelled,
    /// A command went unanswered; resolved only by a fact from the other side.
    UnknownOutcome,
    /// The partner's charge record does not add up: held, not billed, until an admin decides
    /// how it is billed (or written off).
    Disputed,
    /// A disputed record an admin decided not to bill: the driver pays nothing.
    WrittenOff,
}

impl OrderState {
    pub const ALL: [OrderState; 18] = [
        Self::Created,
        Self::Reserving,
        Self::Reserved,
        Self::ReservationExpired,
        Self::ReservationUsed,
        Self::Starting,
        Self::Charging,
        Self::Stopping,
        Self::Interrupted,
        Self::Finished,
        Self::Billed,
        Self::Paid,
        Self::Refunded,
        Self::Failed,
        Self::Cancelled,
        Self::UnknownOutcome,
        Self::Disputed,
        Self::WrittenOff,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Reserving => "reserving",
            Self::Reserved => "reserved",
            Self::ReservationExpired => "reservation_expired",
            Self::ReservationUsed => "reservation_used",
            Self::Starting => "starting",
            Self::Charging => "charging",
            Self::Stopping => "stopping",
            Self::Interrupted => "interrupted",
            Self::Finished => "finished",
            Self::Billed => "billed",
            Self::Paid => "paid",
            Self::Refunded => "refunded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::UnknownOutcome => "unknown_outcome",
            Self::Disputed => "disputed",
            Self::WrittenOff => "written_off",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }

    /// No charging or billing event moves the order any more. A paid order can still be
    /// refunded: money is given back after the session, it does not reopen it.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Paid | Self::Refunded | Self::Failed | Self::Cancelled | Self::ReservationExpired | Self::ReservationUsed | Self::WrittenOff)
    }

    /// The session has ended physically (energy no longer flows for this order).
    pub fn charge_has_ended(self) -> bool {
        matches!(self, Self::Interrupted | Self::Finished | Self::Billed | Self::Paid | Self::Refunded | Self::Disputed | Self::WrittenOff)
    }

    /// The connector is (or may be) held by this order. `UnknownOutcome` counts: we must not
    /// hand the connector to someone else while we do not know.
    pub fn holds_connector(self) -> bool {
        matches!(self, Self::Reserving | Self::Reserved | Self::Starting | Self::Charging | Self::Stopping | Self::UnknownOutcome)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Created => "已创建",
            Self::Reserving => "预约中",
            Self::Reserved => "已预约",
            Self::ReservationExpired => "预约已超时",
            Self::ReservationUsed => "预约已使用",
            Self::Starting => "启动中",
            Self::Charging => "充电中",
            Self::Stopping => "停止中",
            Self::Interrupted => "异常中断",
            Self::Finished => "充电结束，待结算",
            Self::Billed => "待支付",
            Self::Paid => "已支付",
            Self::Refunded => "已退款",
            Self::Failed => "失败",
            Self::Cancelled => "已取消",
            Self::UnknownOutcome => "结果待确认",
            Self::Disputed => "账单核对中",
            Self::WrittenOff => "已免单",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Reserving => "reserving",
            Self::Reserved => "reserved",
            Self::ReservationExpired => "reservation expired",
            Self::ReservationUsed => "reservation used",
            Self::Starting => "starting",
            Self::Charging => "charging",
            Self::Stopping => "stopping",
            Self::Interrupted => "interrupted",
            Self::Finished => "finished, awaiting bill",
            Self::Billed => "awaiting payment",
            Self::Paid => "paid",
            Self::Refunded => "refunded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::UnknownOutcome => "outcome being confirmed",
            Self::Disputed => "bill being checked",
            Self::WrittenOff => "no charge",
        }
    }
}

impl fmt::Display for OrderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which command an `UnknownOutcome` (or an in-flight state) is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingCommand {
    Reserve,
    Start,
    Stop,
}

/// Why an order failed, in words a user (zh-CN) and an operator (en) can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FailureReason {
    /// 此设备不存在.
    ConnectorNotFound,
    /// 此设备离线.
    ConnectorOffline,
    /// Someone else is plugged in, charging or holds a reservation.
    ConnectorOccupied,
    ConnectorFaulted,
    /// 此设备尚未插枪.
    GunNotPlugged,
    /// The partner refused the start or reservation with a code of its own (each protocol
    /// adapter turns the codes it knows into the variants above).
    Refused {
        code: i64,
        detail: Option<String>,
    },
    /// The charger reported that the start failed (a failed start result, OCPP rejected).
    StartFailed {
        detail: Option<String>,
    },
    /// A query confirmed the session never started.
    NotStarted,
    /// A query confirmed the reservation was never made.
    NotReserved,
    /// The operator does not take reservations (extension FailReason 4, or not enabled).
    ReservationUnsupported,
    /// The partner or platform is not permitted to use this connector.
    NotPermitted,
}

impl FailureReason {
    pub fn message_zh(&self) -> String {
        match self {
            Self::ConnectorNotFound => "充电枪不存在，请核对编号后重试".into(),
            Self::ConnectorOffline => "充电桩离线，暂时无法启动，请换一个充电枪".into(),
            Self::ConnectorOccupied => "充电枪已被占用，请选择其他空闲充电枪".into(),
            Self::ConnectorFaulted => "充电枪故障，请选择其他充电枪".into(),
            Self::GunNotPlugged => "尚未插枪，请插好充电枪后重试".into(),
            Self::Refused { detail: Some(d), .. } => format!("运营商拒绝启动：{d}"),
            Self::Refused { code, detail: None } => format!("运营商拒绝启动：{}", refusal_zh(*code)),
            Self::StartFailed { detail: Some(d) } => format!("充电桩启动失败：{d}，未产生费用"),
            Self::StartFailed { detail: None } => "充电桩启动失败，未产生费用".into(),
            Self::NotStarted => "经向运营商查询确认未启动充电，未产生费用".into(),
            Self::NotReserved => "经向运营商查询确认预约未成功".into(),
            Self::ReservationUnsupported => "该运营商暂不支持预约，可直接前往充电".into(),
            Self::NotPermitted => "无权使用该充电枪".into(),
        }
    }

    pub fn message_en(&self) -> String {
        match self {
            Self::ConnectorNotFound => "the connector does not exist; check its number and try again".into(),
            Self::ConnectorOffline => "the charger is offline; please choose another connector".into(),
            Self::ConnectorOccupied => "the connector is occupied; please choose a free one".into(),
            Self::ConnectorFaulted => "the connector is faulted; please choose another one".into(),
            Self::GunNotPlugged => "the gun is not plugged in; plug it in and try again".into(),
            Self::Refused { detail: Some(d), .. } => format!("the operator refused to start: {d}"),
            Self::Refused { code, detail: None } => format!("the operator refused to start: {}", refusal_en(*code)),
            Self::StartFailed { detail: Some(d) } => format!("the charger failed to start: {d}; nothing was charged"),
            Self::StartFailed { detail: None } => "the charger failed to start; nothing was charged".into(),
            Self::NotStarted => "the operator confirmed the session never started; nothing was charged".into(),
            Self::NotReserved => "the operator confirmed the reservation was not made".into(),
            Self::ReservationUnsupported => "this operator does not take reservations; you can go and charge directly".into(),
            Self::NotPermitted => "not permitted to use this connector".into(),
        }
    }
}

/// A refusal's code in words, where the operator gave no text: 90 and 91 are codes operators
/// commonly give their own refusals. The code itself stays on the order.
fn refusal_en(code: i64) -> &'static str {
    match code {
        90 => "the vehicle is not registered with the operator",
        91 => "the vehicle is already charging",
        _ => "it gave no reason; please choose another connector or try again later",
    }
}

fn refusal_zh(code: i64) -> &'static str {
    match code {
        90 => "车辆未在运营商处登记",
        91 => "车辆已在充电",
        _ => "未说明原因，请换一个充电枪或稍后再试",
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "code", rename_all = "snake_case")]
pub enum StopReason {
    /// The user stopped it (app or charger).
    User,
    /// The customer-side platform stopped it.
    Platform,
    /// The vehicle's BMS ended it (usually: full).
    Bms,
    ChargerFault,
    /// Connector disconnected.
    Disconnected,
    /// A reason of the operator's own, by its code.
    Other(i64),
}

impl StopReason {
    /// An end nobody asked for: shown as 异常中断 and worth a look by operations.
    pub fn is_abnormal(self) -> bool {
        matches!(self, Self::ChargerFault | Self::Disconnected)
    }

    pub fn message_zh(self) -> String {
        match self {
            Self::User => "用户停止充电".into(),
            Self::Platform => "平台停止充电".into(),
            Self::Bms => "车辆充满或车辆停止".into(),
            Self::ChargerFault => "充电桩故障，充电已中断".into(),
            Self::Disconnected => "充电枪连接断开，充电已中断".into(),
            // The operator's own code means nothing to a driver; it stays on the order for support.
            Self::Other(_) => "运营商因其自身原因结束了充电".into(),
        }
    }

    pub fn message_en(self) -> String {
        match self {
            Self::User => "stopped by the user".into(),
            Self::Platform => "stopped by the platform".into(),
            Self::Bms => "ended by the vehicle (usually full)".into(),
            Self::ChargerFault => "interrupted by a charger fault".into(),
            Self::Disconnected => "interrupted: connector disconnected".into(),
            Self::Other(_) => "ended by the operator for a reason of its own".into(),
        }
    }
}

/// The remote session state as the other side reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteState {
    Starting,
    Charging,
    Stopping,
    Ended,
    /// The other side does not know either.
    Unknown,
}

/// The final record of a session (a partner's charge-end record, an OCPI CDR, an OCPP
/// StopTransaction priced by us).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeRecord {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub energy: Energy,
    pub elec_money: Money,
    pub service_money: Money,
    pub total_money: Money,
    pub stop_reason: StopReason,
}

/// Live progress from status reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub energy: Option<Energy>,
    pub money: Option<Money>,
    pub soc_percent: Option<u8>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum OrderEvent {
    ReserveRequested,
    ReservationConfirmed {
        until: DateTime<Utc>,
    },
    ReservationRefused {
        reason: FailureReason,
    },
    ReserveTimedOut,
    ReservationExpired,
    /// A start on the reserved connector took over the hold (see `OrderState::ReservationUsed`).
    ReservationUsed,
    CancelRequested,
    /// We sent the start command (`query_start_charge`, `RemoteStartTransaction`).
    StartRequested,
    /// The synchronous reply accepted the command; the outcome is still to come.
    StartAccepted,
    StartRefused {
        reason: FailureReason,
    },
    /// No reply, or no result within the deadline.
    StartTimedOut,
    /// `notification_start_charge_result` (or OCPP StartTransaction / its absence).
    StartResultNotified {
        success: bool,
        fail_reason: Option<FailureReason>,
    },
    /// A status push or a query answer.
    ChargeStatusReported {
        remote: RemoteState,
        energy: Option<Energy>,
        money: Option<Money>,
        soc_percent: Option<u8>,
    },
    /// A query for the session found no such session on the other side.
    QueryFoundNoSession,
    StopRequested,
    /// The synchronous reply accepted the stop.
    StopAccepted,
    /// The stop was refused. "Already stopped" is not a refusal of the
    /// end, so callers pass `already_stopped: true` and the order keeps waiting for its record.
    StopRefused {
        already_stopped: bool,
    },
    StopTimedOut,
    /// `notification_stop_charge_result` with success: energy no longer flows.
    StopConfirmed,
    /// The session ended without anyone asking (fault, unplugged).
    AbnormalStop {
        reason: StopReason,
    },
    ChargeEnded {
        record: ChargeRecord,
    },
    /// The record does not add up; it is held for an admin.
    RecordDisputed,
    /// An admin settled the dispute: the order is billed on `record` (the partner's figures or
    /// ours from its detail), through the normal billing path.
    DisputeResolved {
        record: ChargeRecord,
    },
    /// An admin settled the dispute by not billing the order.
    WrittenOff,
    Billed {
        amount: Money,
    },
    Paid {
        payment_id: String,
        amount: Money,
    },
    /// The payment that paid the order was given back in full.
    Refunded {
        payment_id: String,
        amount: Money,
    },
}

impl OrderEvent {
    pub fn name(&self) -> &'static str {
        match self {
            Self::ReserveRequested => "reserve_requested",
            Self::ReservationConfirmed { .. } => "reservation_confirmed",
            Self::ReservationRefused { .. } => "reservation_refused",
            Self::ReserveTimedOut => "reserve_timed_out",
            Self::ReservationExpired => "reservation_expired",
            Self::ReservationUsed => "reservation_used",
            Self::CancelRequested => "cancel_requested",
            Self::StartRequested => "start_requested",
            Self::StartAccepted => "start_accepted",
            Self::StartRefused { .. } => "start_refused",
            Self::StartTimedOut => "start_timed_out",
            Self::StartResultNotified { .. } => "start_result_notified",
            Self::ChargeStatusReported { .. } => "charge_status_reported",
            Self::QueryFoundNoSession => "query_found_no_session",
            Self::StopRequested => "stop_requested",
            Self::StopAccepted => "stop_accepted",
            Self::StopRefused { .. } => "stop_refused",
            Self::StopTimedOut => "stop_timed_out",
            Self::StopConfirmed => "stop_confirmed",
            Self::AbnormalStop { .. } => "abnormal_stop",
            Self::ChargeEnded { .. } => "charge_ended",
            Self::RecordDisputed => "record_disputed",
            Self::DisputeResolved { .. } => "dispute_resolved",
            Self::WrittenOff => "written_off",
            Self::Billed { .. } => "billed",
            Self::Paid { .. } => "paid",
            Self::Refunded { .. } => "refunded",
        }
    }

    /// Reports from the other side about a running session: harmless when they arrive late.
    fn is_session_report(&self) -> bool {
        matches!(
            self,
            Self::StartAccepted
                | Self::StartResultNotified { success: true, .. }
                | Self::ChargeStatusReported { .. }
                | Self::StopAccepted
                | Self::StopRefused { .. }
                | Self::StopConfirmed
                | Self::StopTimedOut
                | Self::StartTimedOut
                | Self::AbnormalStop { .. }
        )
    }

    /// The other side says energy is flowing for this order.
    fn says_charging(&self) -> bool {
        matches!(self, Self::StartResultNotified { success: true, .. } | Self::ChargeStatusReported { remote: RemoteState::Charging, .. })
    }
}

/// Texts are what a driver, a partner or an operator reads: what the order is and what cannot be
/// done, in words (the event's name stays in the variant for code and logs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("this order {}; {}", where_en(.from), refused_en(.event))]
    IllegalTransition { from: OrderState, event: &'static str },
    /// A report about a session that has already ended; acknowledge and drop it.
    #[error("this order {}; a late report about it was ignored", where_en(.from))]
    LateEvent { from: OrderState, event: &'static str },
    /// The same final record again; acknowledge and drop it.
    #[error("this order already has this record; the repeat was ignored")]
    Duplicate { event: &'static str },
    /// A different final record for an order that already has one.
    #[error("this order {} and already has a charge record; a different one arrived", where_en(.from))]
    ConflictingRecord { from: OrderState },
    /// The other side reports charging on an order we closed: it must be stopped.
    #[error("the charger reports charging although this order {}; it must be stopped", where_en(.from))]
    ChargingAfterClose { from: OrderState },
    #[error("payment of {paid} does not match the bill of {billed}")]
    PaymentMismatch { billed: Money, paid: Money },
    /// A refund names a payment that did not pay this order (or another amount than it paid).
    #[error("refund of {refunded} by payment {payment_id} does not match the payment of the order")]
    RefundMismatch { payment_id: String, refunded: Money },
    #[error("invalid event data: {0}")]
    InvalidData(&'static str),
}

impl OrderError {
    /// Whether the caller may simply acknowledge the event and move on.
    pub fn is_harmless(&self) -> bool {
        matches!(self, Self::LateEvent { .. } | Self::Duplicate { .. })
    }

    pub fn message_zh(&self) -> String {
        match self {
            Self::IllegalTransition { from, event } => format!("订单{}，{}", where_zh(from), refused_zh(event)),
            Self::LateEvent { from, .. } => format!("订单{}，已忽略迟到的状态报告", where_zh(from)),
            Self::Duplicate { .. } => "订单已有此记录，重复的记录已忽略".into(),
            Self::ConflictingRecord { from } => format!("订单{}且已有充电记录，又收到一份不同的充电记录", where_zh(from)),
            Self::ChargingAfterClose { from } => format!("订单{}，但充电桩报告仍在充电，需停止充电", where_zh(from)),
            Self::PaymentMismatch { billed, paid } => format!("支付金额 {paid} 与账单金额 {billed} 不符"),
            Self::RefundMismatch { payment_id, refunded } => format!("退款（支付单 {payment_id}，金额 {refunded}）与订单的支付不符"),
            Self::InvalidData(what) => format!("数据无效：{}", invalid_data_zh(what)),
        }
    }
}

/// "this order {…}": where an order stands, in words.
fn where_en(state: &OrderState) -> &'static str {
    match state {
        OrderState::Created => "has just been created",
        OrderState::Reserving => "is being reserved",
        OrderState::Reserved => "is reserved",
        OrderState::ReservationExpired => "is a reservation that has expired",
        OrderState::ReservationUsed => "is a reservation already used",
        OrderState::Starting => "is starting",
        OrderState::Charging => "is charging",
        OrderState::Stopping => "is stopping",
        OrderState::Interrupted => "was interrupted",
        OrderState::Finished => "has finished and awaits its bill",
        OrderState::Billed => "is already billed",
        OrderState::Paid => "is already paid",
        OrderState::Refunded => "is already refunded",
        OrderState::Failed => "has failed",
        OrderState::Cancelled => "is already cancelled",
        OrderState::UnknownOutcome => "is waiting for the operator to confirm what happened",
        OrderState::Disputed => "has a charge record that does not add up and waits for an administrator's decision",
        OrderState::WrittenOff => "was written off by an administrator",
    }
}

/// "订单{…}".
fn where_zh(state: &OrderState) -> &'static str {
    match state {
        OrderState::Created => "刚刚创建",
        OrderState::Reserving => "正在预约",
        OrderState::Reserved => "已预约",
        OrderState::ReservationExpired => "的预约已超时",
        OrderState::ReservationUsed => "的预约已使用",
        OrderState::Starting => "正在启动",
        OrderState::Charging => "正在充电",
        OrderState::Stopping => "正在停止",
        OrderState::Interrupted => "已异常中断",
        OrderState::Finished => "已结束，等待出账",
        OrderState::Billed => "已结算",
        OrderState::Paid => "已支付",
        OrderState::Refunded => "已退款",
        OrderState::Failed => "已失败",
        OrderState::Cancelled => "已取消",
        OrderState::UnknownOutcome => "正等待运营商确认结果",
        OrderState::Disputed => "的充电记录金额不符，正等待管理员处理",
        OrderState::WrittenOff => "已由管理员核销",
    }
}

/// What could not be done, by the event's name ([`OrderEvent::name`]).
fn refused_en(event: &str) -> &'static str {
    match event {
        "reserve_requested" => "it cannot be reserved",
        "cancel_requested" => "it cannot be cancelled",
        "start_requested" => "it cannot be started",
        "stop_requested" => "it cannot be stopped",
        "billed" => "it cannot be billed",
        "paid" => "it cannot be paid",
        "refunded" => "it cannot be refunded",
        "charge_ended" => "a charge record cannot be taken for it",
        _ => "this report does not apply to it",
    }
}

fn refused_zh(event: &str) -> &'static str {
    match event {
        "reserve_requested" => "无法预约",
        "cancel_requested" => "无法取消",
        "start_requested" => "无法启动",
        "stop_requested" => "无法停止",
        "billed" => "无法出账",
        "paid" => "无法支付",
        "refunded" => "无法退款",
        "charge_ended" => "无法接收充电记录",
        _ => "此状态报告不适用",
    }
}

/// [`OrderError::InvalidData`]'s texts in Chinese.
fn invalid_data_zh(what: &str) -> &'static str {
    match what {
        "reservation ends before it is confirmed" => "预约的结束时间早于确认时间",
        "the reservation has not expired yet" => "预约尚未到期",
        "the reservation has expired" => "预约已过期",
        "a bill cannot be negative" => "账单金额不能为负",
        "payment id is empty" => "支付单号为空",
        "the charge record ends before it starts" => "充电记录的结束时间早于开始时间",
        "the charge record has a negative amount" => "充电记录的金额为负",
        _ => "请核对后重试",
    }
}

// ---------------------------------------------------------------------------------------------
// The order
// ---------------------------------------------------------------------------------------------

/// What one accepted event did, to be persisted as the order's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub order_id: Uuid,
    pub from: OrderState,
    pub to: OrderState,
    pub event: &'static str,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: Uuid,
    pub seq: StartChargeSeq,
    pub ownership: Ownership,
    pub connector_id: Uuid,
    pub state: OrderState,
    /// The command in flight, or the one an `UnknownOutcome` is about.
    pub pending: Option<PendingCommand>,
    pub failure: Option<FailureReason>,
    pub reserved_until: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub progress: Option<Progress>,
    pub abnormal_stop: Option<StopReason>,
    pub record: Option<ChargeRecord>,
    pub billed_amount: Option<Money>,
    pub payment_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Order {
    pub fn new(id: Uuid, seq: StartChargeSeq, ownership: Ownership, connector_id: Uuid, at: DateTime<Utc>) -> Self {
        Self {
            id,
            seq,
            ownership,
            connector_id,
            state: OrderState::Created,
            pending: None,
            failure: None,
            reserved_until: None,
            started_at: None,
            progress: None,
            abnormal_stop: None,
            record: None,
            billed_amount: None,
            payment_id: None,
            created_at: at,
            updated_at: at,
        }
    }

    /// What to tell the user about this order now.
    pub fn message_zh(&self) -> String {
        match (&self.state, &self.failure) {
            (OrderState::Failed, Some(reason)) => reason.message_zh(),
            (OrderState::UnknownOutcome, _) => "运营商暂未确认结果，我们正在查询，请勿重复启动；确认前不会扣费".into(),
            (OrderState::Interrupted, _) => self.abnormal_stop.map(StopReason::message_zh).unwrap_or_else(|| "充电异常中断".into()),
            (state, _) => state.label_zh().into(),
        }
    }

    pub fn message_en(&self) -> String {
        match (&self.state, &self.failure) {
            (OrderState::Failed, Some(reason)) => reason.message_en(),
            (OrderState::UnknownOutcome, _) => {
                "the operator has not confirmed the outcome yet; we are checking — please do not start again; nothing is charged until it is confirmed".into()
            }
            (OrderState::Interrupted, _) => self.abnormal_stop.map(StopReason::message_en).unwrap_or_else(|| "charging was interrupted".into()),
            (state, _) => state.label_en().into(),
        }
    }

    /// Applies `event` at `at`. On success the order is updated and the transition returned;
    /// on error nothing changes.
    pub fn apply(&mut self, event: OrderEvent, at: DateTime<Utc>) -> Result<Transition, OrderError> {
        use OrderEvent as E;
        use OrderState as S;
        let from = self.state;
        let name = event.name();
        let illegal = Err(OrderError::IllegalTransition { from, event: name });

        // Facts that closed orders cannot take back.
        if matches!(from, S::Failed | S::Cancelled | S::ReservationExpired | S::ReservationUsed) && event.says_charging() {
            return Err(OrderError::ChargingAfterClose { from });
        }
        if from.charge_has_ended() {
            if let E::ChargeEnded { record } = &event {
                return match &self.record {
                    Some(existing) if existing == record => Err(OrderError::Duplicate { event: name }),
                    Some(_) => Err(OrderError::ConflictingRecord { from }),
                    None if from == S::Interrupted => self.finish(record.clone(), at),
                    None => illegal,
                };
            }
            if event.is_session_report() {
                return Err(OrderError::LateEvent { from, event: name });
            }
        }

        let to = match (from, &event) {
            // Reservations.
            (S::Created, E::ReserveRequested) => {
                self.pending = Some(PendingCommand::Reserve);
                S::Reserving
            }
            (S::Reserving, E::ReservationConfirmed { until }) | (S::UnknownOutcome, E::ReservationConfirmed { until })
                if from == S::Reserving || self.pending == Some(PendingCommand::Reserve) =>
            {
                if *until <= at {
                    return Err(OrderError::InvalidData("reservation ends before it is confirmed"));
                }
                self.pending = None;
                self.reserved_until = Some(*until);
                S::Reserved
            }
            (S::Reserving, E::ReservationRefused { reason }) => self.fail(reason.clone()),
            (S::Reserving, E::ReserveTimedOut) => S::UnknownOutcome,
            (S::Reserved, E::ReservationExpired) => {
                if self.reserved_until.is_some_and(|until| at < until) {
                    return Err(OrderError::InvalidData("the reservation has not expired yet"));
                }
                S::ReservationExpired
            }
            (S::Reserved, E::ReservationUsed) => {
                if self.reserved_until.is_some_and(|until| at >= until) {
                    return Err(OrderError::InvalidData("the reservation has expired"));
                }
                S::ReservationUsed
            }
            (S::Created | S::Reserving | S::Reserved, E::CancelRequested) => {
                self.pending = None;
                S::Cancelled
            }

            // Starting.
            (S::Created | S::Reserved, E::StartRequested) => {
                self.pending = Some(PendingCommand::Start);
                S::Starting
            }
            (S::Starting, E::StartAccepted) => S::Starting,
            // The pile or partner can report the session before its reply to the command is
            // recorded (OCPP StartTransaction overtaking the RemoteStart answer): nothing new.
            (S::Charging | S::Stopping, E::StartAccepted) => return Err(OrderError::LateEvent { from, event: name }),
            (S::Starting, E::StartRefused { reason }) => self.fail(reason.clone()),
            (S::Starting, E::StartTimedOut) => S::UnknownOutcome,
            (S::Starting | S::Charging, E::StartResultNotified { success: true, .. }) => self.charging(at),
            (S::UnknownOutcome, E::StartResultNotified { success: true, .. }) if self.pending != Some(PendingCommand::Reserve) => self.charging(at),
            (S::Starting, E::StartResultNotified { success: false, fail_reason })
            | (S::UnknownOutcome, E::StartResultNotified { success: false, fail_reason })
                if from == S::Starting || self.pending == Some(PendingCommand::Start) =>
            {
                self.fail(fail_reason.clone().unwrap_or(FailureReason::StartFailed { detail: None }))
            }

            // Status reports and query answers.
            (S::Starting | S::Charging | S::Stopping | S::UnknownOutcome, E::ChargeStatusReported { remote, energy, money, soc_percent })
                if self.pending != Some(PendingCommand::Reserve) || from != S::UnknownOutcome =>
            {
                self.progress = Some(Progress { energy: *energy, money: *money, soc_percent: *soc_percent, at });
                match (from, remote) {
                    // The remote side does not know either: nothing learned.
                    (_, RemoteState::Unknown) => from,
                    (S::Stopping, _) => S::Stopping,
                    (_, RemoteState::Starting) if from == S::Charging => S::Charging,
                    (_, RemoteState::Starting) => {
                        self.pending = Some(PendingCommand::Start);
                        S::Starting
                    }
                    (_, RemoteState::Charging) => self.charging(at),
                    (_, RemoteState::Stopping | RemoteState::Ended) => {
                        self.pending = None;
                        S::Stopping
                    }
                }
            }
            (S::UnknownOutcome, E::QueryFoundNoSession) => match self.pending {
                Some(PendingCommand::Start) => self.fail(FailureReason::NotStarted),
                Some(PendingCommand::Reserve) => self.fail(FailureReason::NotReserved),
                // A session that was charging cannot be declared gone by a lookup miss: wait
                // for its record or an operator.
                _ => S::UnknownOutcome,
            },
            (S::Starting, E::QueryFoundNoSession) => S::Starting,

            // Stopping. Stopping something that may have started is always safe.
            (S::Starting | S::Charging, E::StopRequested) => {
                self.pending = Some(PendingCommand::Stop);
                S::Stopping
            }
            (S::UnknownOutcome, E::StopRequested) if self.pending != Some(PendingCommand::Reserve) => {
                self.pending = Some(PendingCommand::Stop);
                S::Stopping
            }
            (S::Stopping, E::StopAccepted) => S::Stopping,
            (S::Stopping, E::StopRefused { already_stopped: true }) => S::Stopping,
            (S::Stopping, E::StopRefused { already_stopped: false }) => {
                self.pending = None;
                S::Charging
            }
            (S::Stopping, E::StopTimedOut) => S::UnknownOutcome,
            (S::Charging | S::Stopping | S::UnknownOutcome, E::StopConfirmed) if self.pending != Some(PendingCommand::Reserve) || from != S::UnknownOutcome => {
                self.pending = None;
                S::Stopping
            }
            (S::Starting | S::Charging | S::Stopping | S::UnknownOutcome, E::AbnormalStop { reason })
                if self.pending != Some(PendingCommand::Reserve) || from != S::UnknownOutcome =>
            {
                self.pending = None;
                self.abnormal_stop = Some(*reason);
                S::Interrupted
            }
            (S::Starting | S::Charging | S::Stopping | S::UnknownOutcome, E::ChargeEnded { record })
                if self.pending != Some(PendingCommand::Reserve) || from != S::UnknownOutcome =>
            {
                return self.finish(record.clone(), at);
            }

            // A record that does not add up, and how an admin settles it.
            (S::Finished, E::RecordDisputed) => S::Disputed,
            (S::Disputed, E::DisputeResolved { record }) => {
                if record.end < record.start || record.elec_money.is_negative() || record.service_money.is_negative() {
                    return Err(OrderError::InvalidData("the resolved record is not a valid charge record"));
                }
                self.record = Some(record.clone());
                S::Finished
            }
            (S::Disputed, E::WrittenOff) => S::WrittenOff,

            // Money.
            (S::Finished, E::Billed { amount }) => {
                if amount.is_negative() {
                    return Err(OrderError::InvalidData("a bill cannot be negative"));
                }
                self.billed_amount = Some(*amount);
                S::Billed
            }
            (S::Billed, E::Paid { payment_id, amount }) => {
                let billed = self.billed_amount.unwrap_or(Money::ZERO);
                if *amount != billed {
                    return Err(OrderError::PaymentMismatch { billed, paid: *amount });
                }
                if payment_id.trim().is_empty() {
                    return Err(OrderError::InvalidData("payment id is empty"));
                }
                self.payment_id = Some(payment_id.clone());
                S::Paid
            }
            // Only the payment that paid the order, in full: a refund of some other payment
            // (a duplicate, a late one) is the payment's business and leaves the order paid.
            (S::Paid, E::Refunded { payment_id, amount }) => {
                if self.payment_id.as_deref() != Some(payment_id.as_str()) || Some(*amount) != self.billed_amount {
                    return Err(OrderError::RefundMismatch { payment_id: payment_id.clone(), refunded: *amount });
                }
                S::Refunded
            }
            (S::Refunded, E::Refunded { payment_id, .. }) if self.payment_id.as_deref() == Some(payment_id.as_str()) => {
                return Err(OrderError::Duplicate { event: name });
            }
            _ => return illegal,
        };
        Ok(self.moved(from, to, name, at))
    }

    fn fail(&mut self, reason: FailureReason) -> OrderState {
        self.pending = None;
        self.failure = Some(reason);
        OrderState::Failed
    }

    fn charging(&mut self, at: DateTime<Utc>) -> OrderState {
        self.pending = None;
        self.started_at.get_or_insert(at);
        OrderState::Charging
    }

    fn finish(&mut self, record: ChargeRecord, at: DateTime<Utc>) -> Result<Transition, OrderError> {
        if record.end < record.start {
            return Err(OrderError::InvalidData("the charge record ends before it starts"));
        }
        if record.elec_money.is_negative() || record.service_money.is_negative() || record.total_money.is_negative() {
            return Err(OrderError::InvalidData("the charge record has a negative amount"));
        }
        let from = self.state;
        self.pending = None;
        self.started_at.get_or_insert(record.start);
        if record.stop_reason.is_abnormal() {
            self.abnormal_stop = Some(record.stop_reason);
        }
        self.record = Some(record);
        Ok(self.moved(from, OrderState::Finished, "charge_ended", at))
    }

    fn moved(&mut self, from: OrderState, to: OrderState, event: &'static str, at: DateTime<Utc>) -> Transition {
        self.state = to;
        self.updated_at = at;
        Transition { order_id: self.id, from, to, event, at }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use rust_decimal_macros::dec;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, 1, 4, 0, 5).unwrap()
    }

    fn order() -> Order {
        let seq = StartChargeSeq::parse("MA5DEMO01202401011200000001").unwrap();
        let ownership = Ownership::PartnerPile { user_id: Uuid::nil(), operator_partner_id: Uuid::max() };
        Order::new(Uuid::nil(), seq, ownership, Uuid::nil(), t0())
    }

    fn record(reason: StopReason) -> ChargeRecord {
        ChargeRecord {
            start: t0(),
            end: t0() + Duration::minutes(40),
            energy: Energy::kwh(dec!(24.60)).unwrap(),
            elec_money: Money::new(dec!(19.68)),
            service_money: Money::new(dec!(9.84)),
            total_money: Money::new(dec!(29.52)),
            stop_reason: reason,
        }
    }

    fn status(remote: RemoteState) -> OrderEvent {
        OrderEvent::ChargeStatusReported { remote, energy: None, money: None, soc_percent: None }
    }

    /// Applies events in order, returning the states visited.
    fn run(order: &mut Order, events: Vec<OrderEvent>) -> Vec<OrderState> {
        events
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                let name = e.name();
                order.apply(e, t0() + Duration::seconds(i as i64 + 1)).unwrap_or_else(|err| panic!("{name}: {err}")).to
            })
            .collect()
    }

    #[test]
    fn start_charge_seq_validation() {
        let seq = StartChargeSeq::new("MA5DEMO01", "202401011200000001").unwrap();
        assert_eq!(seq.as_str(), "MA5DEMO01202401011200000001");
        assert_eq!(seq.operator_id(), "MA5DEMO01");
        assert_eq!(seq.unique_part(), "202401011200000001");
        assert_eq!(StartChargeSeq::parse(seq.as_str()).unwrap(), seq);
        assert!(matches!(StartChargeSeq::new("ma5demo01", "202401011200000001"), Err(SeqError::OperatorId(_))));
        assert!(matches!(StartChargeSeq::new("MA5DEMO0", "202401011200000001"), Err(SeqError::OperatorId(_))));
        assert!(matches!(StartChargeSeq::new("MA5DEMO01", "20240101120000001"), Err(SeqError::UniquePart(_))));
        assert!(matches!(StartChargeSeq::new("MA5DEMO01", "20240101120000000-"), Err(SeqError::UniquePart(_))));
        assert_eq!(StartChargeSeq::parse("MA5DEMO0120240101120000000"), Err(SeqError::Length(26)));
        assert!(StartChargeSeq::parse("MA5DEMO01202401011200000001X").is_err());
        assert!(StartChargeSeq::parse_relaxed("MA5DEMO01202401011200000001XYZ").is_ok());
        assert!(serde_json::from_str::<StartChargeSeq>("\"short\"").is_err());
        assert!(SeqError::Length(3).message_zh().contains("27"));
    }

    #[test]
    fn generated_seq_uses_beijing_time() {
        let seq = StartChargeSeq::generate("MA5DEMO01", t0(), 1).unwrap();
        assert_eq!(seq.as_str(), "MA5DEMO01202401011200050001");
    }

    #[test]
    fn a_start_reply_overtaken_by_the_session_is_harmless() {
        let mut o = order();
        run(&mut o, vec![OrderEvent::StartRequested, OrderEvent::StartResultNotified { success: true, fail_reason: None }]);
        let late = o.apply(OrderEvent::StartAccepted, t0() + Duration::seconds(5)).unwrap_err();
        assert!(late.is_harmless(), "{late}");
        assert_eq!(o.state, OrderState::Charging);
    }

    #[test]
    fn flow_a_happy_path() {
        let mut o = order();
        let states = run(
            &mut o,
            vec![
                OrderEvent::StartRequested,
                OrderEvent::StartAccepted,
                OrderEvent::StartResultNotified { success: true, fail_reason: None },
                status(RemoteState::Charging),
                OrderEvent::StopRequested,
                OrderEvent::StopAccepted,
                OrderEvent::StopConfirmed,
                OrderEvent::ChargeEnded { record: record(StopReason::User) },
                OrderEvent::Billed { amount: Money::new(dec!(29.52)) },
                OrderEvent::Paid { payment_id: "pay-1".into(), amount: Money::new(dec!(29.52)) },
            ],
        );
        use OrderState::*;
        assert_eq!(states, vec![Starting, Starting, Charging, Charging, Stopping, Stopping, Stopping, Finished, Billed, Paid]);
        assert!(o.state.is_terminal());
        assert_eq!(o.started_at, Some(t0() + Duration::seconds(3)));
        assert_eq!(o.payment_id.as_deref(), Some("pay-1"));
    }

    #[test]
    fn transitions_are_recorded() {
        let mut o = order();
        let tr = o.apply(OrderEvent::StartRequested, t0()).unwrap();
        assert_eq!(tr, Transition { order_id: o.id, from: OrderState::Created, to: OrderState::Starting, event: "start_requested", at: t0() });
    }

    #[test]
    fn refused_start_fails_with_a_reason() {
        let mut o = order();
        o.apply(OrderEvent::StartRequested, t0()).unwrap();
        o.apply(OrderEvent::StartRefused { reason: FailureReason::ConnectorOffline }, t0()).unwrap();
        assert_eq!(o.state, OrderState::Failed);
        assert_eq!(o.failure, Some(FailureReason::ConnectorOffline));
        assert!(o.message_zh().contains("离线"));
        assert!(o.message_en().contains("offline"));
        assert!(FailureReason::ConnectorOccupied.message_zh().contains("占用"));
        assert_eq!(
            FailureReason::Refused { code: 91, detail: Some("vehicle already charging".into()) }.message_en(),
            "the operator refused to start: vehicle already charging"
        );
        assert_eq!(FailureReason::Refused { code: 91, detail: None }.message_en(), "the operator refused to start: the vehicle is already charging");
        let unexplained = FailureReason::Refused { code: 3, detail: None };
        assert!(!unexplained.message_en().contains('3') && !unexplained.message_zh().contains('3'), "{}", unexplained.message_zh());
    }

    #[test]
    fn illegal_transitions_name_state_and_event() {
        let mut o = order();
        let err = o.apply(OrderEvent::StopRequested, t0()).unwrap_err();
        assert_eq!(err, OrderError::IllegalTransition { from: OrderState::Created, event: "stop_requested" });
        assert_eq!(err.to_string(), "this order has just been created; it cannot be stopped");
        assert_eq!(err.message_zh(), "订单刚刚创建，无法停止");
        assert_eq!(o.state, OrderState::Created, "nothing changes on error");
        assert!(o.apply(OrderEvent::Billed { amount: Money::ZERO }, t0()).is_err());
        assert!(o.apply(OrderEvent::ReservationExpired, t0()).is_err());
    }

    #[test]
    fn timeout_leads_to_unknown_outcome_resolved_only_by_facts() {
        let mut o = order();
        run(&mut o, vec![OrderEvent::StartRequested, OrderEvent::StartTimedOut]);
        assert_eq!(o.state, OrderState::UnknownOutcome);
        assert_eq!(o.pending, Some(PendingCommand::Start));
        assert!(o.message_zh().contains("请勿重复启动"));
        assert!(o.state.holds_connector());
        // A second timer firing decides nothing.
        assert!(o.apply(OrderEvent::StartTimedOut, t0()).is_err());
        assert!(o.apply(OrderEvent::StartRefused { reason: FailureReason::ConnectorOffline }, t0()).is_err());
        // The remote side does not know either: still unknown.
        assert_eq!(o.apply(status(RemoteState::Unknown), t0()).unwrap().to, OrderState::UnknownOutcome);
        // A query finds it charging.
        assert_eq!(o.apply(status(RemoteState::Charging), t0()).unwrap().to, OrderState::Charging);

        let mut o = order();
        run(&mut o, vec![OrderEvent::StartRequested, OrderEvent::StartTimedOut, OrderEvent::QueryFoundNoSession]);
        assert_eq!((o.state, o.failure.clone()), (OrderState::Failed, Some(FailureReason::NotStarted)));

        // Stopping is the one action allowed while unknown.
        let mut o = order();
        run(&mut o, vec![OrderEvent::StartRequested, OrderEvent::StartTimedOut, OrderEvent::StopRequested]);
        assert_eq!((o.state, o.pending), (OrderState::Stopping, Some(PendingCommand::Stop)));
    }

    #[test]
    fn stop_timeout_and_refusal() {
        let mut o = order();
        run(&mut o, vec![OrderEvent::StartRequested, OrderEvent::StartResultNotified { success: true, fail_reason: None }, OrderEvent::StopRequested]);
        assert_eq!(o.apply(OrderEvent::StopRefused { already_stopped: false }, t0()).unwrap().to, OrderState::Charging);
        o.apply(OrderEvent::StopRequested, t0()).unwrap();
        assert_eq!(o.apply(OrderEvent::StopRefused { already_stopped: true }, t0()).unwrap().to, OrderState::Stopping);
        assert_eq!(o.apply(OrderEvent::StopTimedOut, t0()).unwrap().to, OrderState::UnknownOutcome);
        // A lookup miss cannot declare a started session gone.
        assert_eq!(o.apply(OrderEvent::QueryFoundNoSession, t0()).unwrap().to, OrderState::UnknownOutcome);
        assert_eq!(o.apply(OrderEvent::ChargeEnded { record: record(StopReason::Platform) }, t0()).unwrap().to, OrderState::Finished);
    }

    #[test]
    fn abnormal_stop_then_record() {
        let mut o = order();
        run(&mut o, vec![OrderEvent::StartRequested, OrderEvent::StartResultNotified { success: true, fail_reason: None }]);
        o.apply(OrderEvent::AbnormalStop { reason: StopReason::ChargerFault }, t0()).unwrap();
        assert_eq!(o.state, OrderState::Interrupted);
        assert!(o.message_zh().contains("故障"));
        assert!(o.apply(status(RemoteState::Charging), t0()).unwrap_err().is_harmless());
        let tr = o.apply(OrderEvent::ChargeEnded { record: record(StopReason::ChargerFault) }, t0()).unwrap();
        assert_eq!((tr.from, tr.to), (OrderState::Interrupted, OrderState::Finished));
        assert!(StopReason::Disconnected.is_abnormal() && !StopReason::Bms.is_abnormal());
    }

    #[test]
    fn late_and_duplicate_pushes_never_move_an_ended_order_back() {
        let mut o = order();
        run(
            &mut o,
            vec![
                OrderEvent::StartRequested,
                OrderEvent::StartResultNotified { success: true, fail_reason: None },
                OrderEvent::ChargeEnded { record: record(StopReason::Bms) },
            ],
        );
        let late = o.apply(status(RemoteState::Charging), t0()).unwrap_err();
        assert_eq!(late, OrderError::LateEvent { from: OrderState::Finished, event: "charge_status_reported" });
        assert!(late.is_harmless());
        let dup = o.apply(OrderEvent::ChargeEnded { record: record(StopReason::Bms) }, t0()).unwrap_err();
        assert_eq!(dup, OrderError::Duplicate { event: "charge_ended" });
        let conflict = o.apply(OrderEvent::ChargeEnded { record: record(StopReason::User) }, t0()).unwrap_err();
        assert!(!conflict.is_harmless());
        assert_eq!(o.state, OrderState::Finished);
    }

    #[test]
    fn charging_after_failure_must_be_stopped() {
        let mut o = order();
        run(&mut o, vec![OrderEvent::StartRequested, OrderEvent::StartRefused { reason: FailureReason::ConnectorOccupied }]);
        let err = o.apply(OrderEvent::StartResultNotified { success: true, fail_reason: None }, t0()).unwrap_err();
        assert_eq!(err, OrderError::ChargingAfterClose { from: OrderState::Failed });
        assert!(!err.is_harmless());
    }

    #[test]
    fn reservation_paths() {
        let until = t0() + Duration::minutes(15);
        let mut o = order();
        run(&mut o, vec![OrderEvent::ReserveRequested, OrderEvent::ReservationConfirmed { until }]);
        assert_eq!(o.state, OrderState::Reserved);
        assert!(o.apply(OrderEvent::ReservationExpired, t0() + Duration::minutes(5)).is_err(), "not yet");
        assert_eq!(o.apply(OrderEvent::ReservationExpired, until).unwrap().to, OrderState::ReservationExpired);
        assert!(o.apply(OrderEvent::StartRequested, until).is_err());

        let mut o = order();
        run(&mut o, vec![OrderEvent::ReserveRequested, OrderEvent::ReservationConfirmed { until }, OrderEvent::StartRequested]);
        assert_eq!(o.state, OrderState::Starting, "a reservation converts into a start");

        let mut o = order();
        run(&mut o, vec![OrderEvent::ReserveRequested, OrderEvent::ReservationConfirmed { until }, OrderEvent::CancelRequested]);
        assert_eq!(o.state, OrderState::Cancelled);

        // Flow B: a start with its own sequence consumes the hold; the reservation order ends.
        let mut o = order();
        run(&mut o, vec![OrderEvent::ReserveRequested, OrderEvent::ReservationConfirmed { until }]);
        assert!(o.apply(OrderEvent::ReservationUsed, until).is_err(), "an expired hold cannot be used");
        assert_eq!(o.apply(OrderEvent::ReservationUsed, t0() + Duration::minutes(5)).unwrap().to, OrderState::ReservationUsed);
        assert!(o.state.is_terminal() && !o.state.holds_connector());
        assert!(o.apply(OrderEvent::ReservationExpired, until).is_err());
        assert!(o.apply(OrderEvent::CancelRequested, until).is_err());
        assert_eq!(OrderState::parse("reservation_used"), Some(OrderState::ReservationUsed));

        let mut o = order();
        run(&mut o, vec![OrderEvent::ReserveRequested, OrderEvent::ReservationRefused { reason: FailureReason::ConnectorOccupied }]);
        assert_eq!(o.state, OrderState::Failed);

        let mut o = order();
        run(&mut o, vec![OrderEvent::ReserveRequested, OrderEvent::ReserveTimedOut]);
        assert_eq!(o.state, OrderState::UnknownOutcome);
        assert!(o.apply(status(RemoteState::Charging), t0()).is_err(), "a reservation is not a session");
        assert!(o.apply(OrderEvent::StopRequested, t0()).is_err());
        assert_eq!(o.apply(OrderEvent::ReservationConfirmed { until }, t0()).unwrap().to, OrderState::Reserved);
        assert!(o.apply(OrderEvent::ReservationConfirmed { until: t0() }, t0()).is_err());
    }

    #[test]
    fn payment_must_match_bill() {
        let mut o = order();
        run(
            &mut o,
            vec![
                OrderEvent::StartRequested,
                OrderEvent::ChargeEnded { record: record(StopReason::User) },
                OrderEvent::Billed { amount: Money::new(dec!(29.52)) },
            ],
        );
        let err = o.apply(OrderEvent::Paid { payment_id: "p".into(), amount: Money::new(dec!(29.50)) }, t0()).unwrap_err();
        assert!(matches!(err, OrderError::PaymentMismatch { .. }));
        let over = OrderEvent::Paid { payment_id: "p".into(), amount: Money::new(dec!(29.53)) };
        assert!(matches!(o.apply(over, t0()), Err(OrderError::PaymentMismatch { .. })));
        assert!(o.apply(OrderEvent::Paid { payment_id: " ".into(), amount: Money::new(dec!(29.52)) }, t0()).is_err());
        assert_eq!(o.state, OrderState::Billed);
        let mut neg = order();
        run(&mut neg, vec![OrderEvent::StartRequested, OrderEvent::ChargeEnded { record: record(StopReason::User) }]);
        assert!(neg.apply(OrderEvent::Billed { amount: Money::new(dec!(-1)) }, t0()).is_err());
    }

    #[test]
    fn only_the_paying_payment_refunds_a_paid_order() {
        let mut o = order();
        let bill = Money::new(dec!(29.52));
        run(
            &mut o,
            vec![
                OrderEvent::StartRequested,
                OrderEvent::ChargeEnded { record: record(StopReason::User) },
                OrderEvent::Billed { amount: bill },
                OrderEvent::Paid { payment_id: "pay-1".into(), amount: bill },
            ],
        );
        let other = OrderEvent::Refunded { payment_id: "pay-2".into(), amount: bill };
        assert!(matches!(o.apply(other, t0()), Err(OrderError::RefundMismatch { .. })), "a duplicate payment's refund");
        let partial = OrderEvent::Refunded { payment_id: "pay-1".into(), amount: Money::new(dec!(10)) };
        assert!(matches!(o.apply(partial, t0()), Err(OrderError::RefundMismatch { .. })), "full refunds only");
        assert_eq!(o.state, OrderState::Paid);

        let refund = OrderEvent::Refunded { payment_id: "pay-1".into(), amount: bill };
        let t = o.apply(refund.clone(), t0()).unwrap();
        assert_eq!((t.from, t.to, t.event), (OrderState::Paid, OrderState::Refunded, "refunded"));
        assert!(o.state.is_terminal() && o.state.charge_has_ended());
        assert_eq!(o.payment_id.as_deref(), Some("pay-1"), "the refunded payment stays on record");
        let again = o.apply(refund, t0()).unwrap_err();
        assert!(again.is_harmless(), "a repeated refund notice is acknowledged: {again}");
        let pay_again = OrderEvent::Paid { payment_id: "pay-3".into(), amount: bill };
        assert!(matches!(o.apply(pay_again, t0()), Err(OrderError::IllegalTransition { .. })), "a refunded order is not paid again");
        assert_eq!(OrderState::Refunded.label_zh(), "已退款");
    }

    #[test]
    fn only_paid_orders_are_refunded() {
        let refund = || OrderEvent::Refunded { payment_id: "pay-1".into(), amount: Money::ZERO };
        for state in OrderState::ALL.into_iter().filter(|s| !matches!(s, OrderState::Paid | OrderState::Refunded)) {
            let mut o = order();
            o.state = state;
            o.payment_id = Some("pay-1".into());
            o.billed_amount = Some(Money::ZERO);
            assert!(matches!(o.apply(refund(), t0()), Err(OrderError::IllegalTransition { .. })), "{state} refunded");
            assert_eq!(o.state, state);
        }
    }

    #[test]
    fn bad_records_are_refused() {
        let mut o = order();
        o.apply(OrderEvent::StartRequested, t0()).unwrap();
        let mut r = record(StopReason::User);
        r.end = r.start - Duration::seconds(1);
        assert!(matches!(o.apply(OrderEvent::ChargeEnded { record: r }, t0()), Err(OrderError::InvalidData(_))));
        assert_eq!(o.state, OrderState::Starting);
    }

    #[test]
    fn states_round_trip_and_ownership() {
        for s in OrderState::ALL {
            assert_eq!(OrderState::parse(s.as_str()), Some(s));
        }
        assert_eq!(OrderState::parse("nope"), None);
        assert!(!Ownership::PartnerUser { platform_partner_id: Uuid::nil() }.we_bill_the_user());
        assert!(Ownership::Own { user_id: Uuid::nil() }.we_bill_the_user());
        assert_eq!(Ownership::Own { user_id: Uuid::nil() }.partner_id(), None);
    }

    #[test]
    fn no_event_leaves_a_terminal_state() {
        let events = || {
            vec![
                OrderEvent::ReserveRequested,
                OrderEvent::StartRequested,
                OrderEvent::CancelRequested,
                OrderEvent::StopRequested,
                OrderEvent::StartTimedOut,
                OrderEvent::QueryFoundNoSession,
                OrderEvent::ChargeEnded { record: record(StopReason::User) },
                OrderEvent::Billed { amount: Money::ZERO },
            ]
        };
        for terminal in
            [OrderState::Paid, OrderState::Refunded, OrderState::Failed, OrderState::Cancelled, OrderState::ReservationExpired, OrderState::ReservationUsed]
        {
            for e in events() {
                let mut o = order();
                o.state = terminal;
                assert!(o.apply(e.clone(), t0()).is_err(), "{terminal} accepted {}", e.name());
                assert_eq!(o.state, terminal);
            }
        }
    }
}
