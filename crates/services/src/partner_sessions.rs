//! Flow B: a partner platform's user charging at one of our piles.
//!
//! The partner's start (T/CEC 102 `query_start_charge`; later OCPI and REST) writes the order
//! and its pile session first, keyed by the partner's StartChargeSeq, and only then commands the
//! pile (OCPP RemoteStartTransaction). What the pile does next — StartTransaction, MeterValues,
//! StopTransaction — moves the order. Every outcome the partner must hear is written to the
//! outbox in the same transaction as the state it reports, under the order's sequence as the
//! ordering key: the partner hears about exactly what was committed, once, in order.

use chrono::{DateTime, Utc};
use domain::money::{Energy, Money};
use domain::order::{ChargeRecord, FailureReason, Order, OrderEvent, OrderState, Ownership, RemoteState, StartChargeSeq, StopReason, Transition};
use domain::settlement::{SessionAmounts, SettlementLine};
use domain::station::ConnectorStatus;
use domain::tariff::{FeeBreakdown, FeeLine, MeterReading};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use store::Conn;
use store::orders::{self, StoredOrder};
use store::pile_sessions::{self, PileSession};
use uuid::Uuid;

use crate::charging::PartnerTerms;
use crate::ports::{PileCommandError, PileControl, PileReply};
use crate::{Error, Result, Services};

/// Outbox kinds of session notices (protocol-neutral; the deliverer speaks the partner's protocol).
pub const START_RESULT: &str = "session.start_result";
pub const CHARGE_STATUS: &str = "session.charge_status";
pub const STOP_RESULT: &str = "session.stop_result";
pub const CHARGE_RECORD: &str = "session.charge_record";

/// The transition event of a stop the partner asked for while the pile was still starting the
/// session: remembered on the pile session and carried out when the transaction starts.
pub const STOP_REQUESTED: &str = "stop_requested";

/// What a partner is told about its user's session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionNotice {
    pub seq: String,
    /// Our connector's public id (what partners address it by).
    pub connector: String,
    pub state: OrderState,
    /// For results: whether the command did what was asked.
    pub success: bool,
    pub started_at: Option<DateTime<Utc>>,
    pub at: DateTime<Utc>,
    pub energy_kwh: Decimal,
    pub elec_money: Decimal,
    pub service_money: Decimal,
    pub total_money: Decimal,
    /// The end of a session: its stop reason and the priced lines.
    pub stop_reason: Option<StopReason>,
    pub lines: Vec<FeeLine>,
}

/// Why a start was refused before any order was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartRefusal {
    /// No such connector, or the partner may not see its station.
    UnknownConnector,
    PileOffline,
    ConnectorBusy(ConnectorStatus),
}

/// The answer to a partner's start: the order (new, or the one this sequence already made).
#[derive(Debug, Clone)]
pub enum PartnerStart {
    Accepted(Box<Order>),
    Refused(StartRefusal),
}

/// The answer to a partner's stop.
#[derive(Debug, Clone)]
pub enum PartnerStop {
    Accepted(Box<Order>),
    /// The session has already ended (or is ending); nothing to do.
    AlreadyStopped(Box<Order>),
    PileOffline(Box<Order>),
}

/// Where a connector of ours is on the OCPP side.
pub(crate) struct PileTarget {
    pub(crate) connector_id: Uuid,
    pub(crate) ocpp_id: String,
    pub(crate) connector_no: i64,
}

/// Id tags we put in RemoteStartTransaction: "CB" and 18 characters of the order id, within
/// OCPP's 20-character limit and recognisable in pile logs.
pub(crate) fn id_tag(order_id: Uuid) -> String {
    format!("CB{}", &order_id.simple().to_string()[14..])
}

pub(crate) fn wh_to_kwh(wh: i64) -> Energy {
    Energy::kwh(Decimal::new(wh.max(0), 3)).expect("non-negative energy")
}

pub(crate) fn state_conflict(e: domain::order::OrderError) -> Error {
    Error::Conflict { code: "order_state", field: None, message: e.to_string(), message_zh: e.message_zh() }
}

impl Services {
    pub(crate) async fn pile_target(&self, partner_id: Uuid, connector_external: &str) -> Result<Option<PileTarget>> {
        let Some((connector_id, station_id)) = self.connector_by_external(None, connector_external) else { return Ok(None) };
        let Some(station) = self.station_summary(station_id) else { return Ok(None) };
        if self.visible_station(partner_id, &station.external_id).await?.is_none() {
            return Ok(None);
        }
        let mut conn = self.db.acquire().await?;
        Ok(store::catalog::ocpp_target(&mut conn, connector_id).await?.map(|(ocpp_id, connector_no)| PileTarget { connector_id, ocpp_id, connector_no }))
    }

    /// A connector's live status as a partner may know it: `None` if it does not exist for the
    /// partner or its pile is not connected. (Plugged in and waiting shows as occupied.)
    pub async fn partner_connector_readiness(&self, partner_id: Uuid, connector_external: &str) -> Result<Option<ConnectorStatus>> {
        let Some(target) = self.pile_target(partner_id, connector_external).await? else { return Ok(None) };
        if !self.pile_control()?.is_connected(&target.ocpp_id) {
            return Ok(None);
        }
        Ok(Some(self.hub.effective(target.connector_id, self.now())))
    }

    pub(crate) fn pile_control(&self) -> Result<std::sync::Arc<dyn crate::ports::PileControl>> {
        self.pile_control.clone().ok_or_else(|| Error::Internal("no pile control configured".into()))
    }

    /// A partner's start. The same StartChargeSeq again returns the order it made (a retried
    /// request must not start a second session).
    pub async fn partner_start(&self, partner_id: Uuid, seq: &str, connector_external: &str) -> Result<PartnerStart> {
        let seq = StartChargeSeq::parse_relaxed(seq).map_err(|e| Error::invalid("StartChargeSeq", e.to_string(), e.message_zh()))?;
        if let Some(existing) = self.existing_order(partner_id, seq.as_str()).await? {
            return Ok(PartnerStart::Accepted(Box::new(existing)));
        }
        let control = self.pile_control()?;
        let Some(target) = self.pile_target(partner_id, connector_external).await? else {
            return Ok(PartnerStart::Refused(StartRefusal::UnknownConnector));
        };
        if !control.is_connected(&target.ocpp_id) {
            return Ok(PartnerStart::Refused(StartRefusal::PileOffline));
        }
        let now = self.now();
        // A held connector takes only its holder's start, which consumes the hold.
        let reservation = self.live_reservation(target.connector_id).await?;
        match &reservation {
            Some(r) if r.partner_id != partner_id || r.expires_at <= now => {
                return Ok(PartnerStart::Refused(StartRefusal::ConnectorBusy(ConnectorStatus::Reserved)));
            }
            Some(_) => {}
            None => {
                let status = self.hub.effective(target.connector_id, now);
                if !status.is_free() {
                    return Ok(PartnerStart::Refused(StartRefusal::ConnectorBusy(status)));
                }
            }
        }
        let ownership = Ownership::PartnerUser { platform_partner_id: partner_id };
        let mut order = Order::new(Uuid::now_v7(), seq, ownership, target.connector_id, now);
        let transition = order.apply(OrderEvent::StartRequested, now).map_err(|e| Error::Internal(e.to_string()))?;
        let session = PileSession {
            order_id: order.id,
            ocpp_id: target.ocpp_id.clone(),
            connector_no: target.connector_no,
            // The pile lets only the reservation's tag onto a held connector.
            id_tag: reservation.as_ref().map_or_else(|| id_tag(order.id), |r| r.id_tag.clone()),
            transaction_id: None,
            readings: Vec::new(),
            created_at: now,
            stop_requested_at: None,
        };
        let refused = self.db.retry("partner start", || self.insert_start(partner_id, &order, &transition, &session, reservation.as_ref(), now)).await?;
        if let Some(answer) = refused {
            return Ok(answer);
        }
        tracing::info!(order = %order.id, seq = %order.seq, pile = %target.ocpp_id, connector = target.connector_no, reserved = reservation.is_some(), "partner start accepted");

        // The pile is commanded after the answer is committed; its reply only moves the order.
        let services = self.clone();
        let order_id = order.id;
        self.background.spawn("remote start on a pile", async move {
            let reply = control.remote_start(&session.ocpp_id, session.connector_no, &session.id_tag).await;
            let event = match reply {
                Ok(PileReply::Accepted) => OrderEvent::StartAccepted,
                Ok(PileReply::Rejected) => {
                    OrderEvent::StartRefused { reason: FailureReason::Refused { code: 3, detail: Some("the pile rejected the remote start".into()) } }
                }
                Err(PileCommandError::Offline) => OrderEvent::StartRefused { reason: FailureReason::ConnectorOffline },
                Err(PileCommandError::NoAnswer(why)) => OrderEvent::StartRefused { reason: FailureReason::Refused { code: 4, detail: Some(why) } },
            };
            if let Err(e) = services.advance_session(order_id, event, None).await {
                tracing::warn!(order = %order_id, error = %e, "recording the pile's answer to a remote start failed");
            }
        });
        Ok(PartnerStart::Accepted(Box::new(order)))
    }

    /// Writes a new start: the order, its first transition, its pile session and the hold it
    /// uses. `Some` answer instead when nothing was written (the same start raced this one,
    /// or the hold went away).
    async fn insert_start(
        &self,
        partner_id: Uuid,
        order: &Order,
        transition: &Transition,
        session: &PileSession,
        reservation: Option<&store::pile_reservations::PileReservation>,
        now: DateTime<Utc>,
    ) -> Result<Option<PartnerStart>> {
        let mut tx = self.db.begin().await?;
        match orders::insert(&mut tx, order).await {
            // Two copies of one request raced; the other one made the order.
            Err(store::Error::Duplicate { .. }) => {
                drop(tx);
                let existing = self.existing_order(partner_id, order.seq.as_str()).await?;
                return existing.map(|o| Some(PartnerStart::Accepted(Box::new(o)))).ok_or(Error::not_found("order"));
            }
            other => other?,
        }
        orders::record_transition(&mut tx, transition, None).await?;
        pile_sessions::insert(&mut tx, session).await?;
        if let Some(r) = reservation
            && !self.use_reservation(&mut tx, r, order.id, now).await?
        {
            // Expired, cancelled or used a moment ago: nothing of this start is kept.
            return Ok(Some(PartnerStart::Refused(StartRefusal::ConnectorBusy(ConnectorStatus::Reserved))));
        }
        tx.commit().await.map_err(store::Error::from)?;
        Ok(None)
    }

    async fn existing_order(&self, partner_id: Uuid, seq: &str) -> Result<Option<Order>> {
        let mut conn = self.db.acquire().await?;
        match orders::by_seq(&mut conn, seq).await? {
            Some(stored) if self.is_reservation(&mut conn, stored.order.id).await? => {
                Err(Error::invalid("StartChargeSeq", "this sequence names a reservation", "该编号为预约编号，不是充电订单号"))
            }
            // Only the platform's own users' sessions: a flow-A order where the caller happens to
            // be the operator is not a session it may query or stop here.
            Some(stored) if matches!(stored.order.ownership, Ownership::PartnerUser { platform_partner_id } if platform_partner_id == partner_id) => {
                Ok(Some(stored.order))
            }
            Some(_) => Err(Error::invalid("StartChargeSeq", "this sequence belongs to another order", "该充电订单号已被使用")),
            None => Ok(None),
        }
    }

    /// A flow-B order of `partner_id` by its sequence.
    pub async fn partner_session(&self, partner_id: Uuid, seq: &str) -> Result<Option<(Order, SessionNotice)>> {
        self.require_platform(partner_id).await?;
        let Some(order) = self.existing_order(partner_id, seq).await? else { return Ok(None) };
        let mut conn = self.db.acquire().await?;
        let session = pile_sessions::by_order(&mut conn, order.id).await?;
        let notice = self.notice(&mut conn, &order, session.as_ref(), true).await?;
        Ok(Some((order, notice)))
    }

    /// A partner's stop of its user's session. A stop that arrives while the pile is still
    /// starting the session (the remote start was accepted, no transaction yet) is remembered
    /// and carried out as soon as the transaction starts; it is never dropped.
    pub async fn partner_stop(&self, partner_id: Uuid, seq: &str) -> Result<PartnerStop> {
        self.require_platform(partner_id).await?;
        let mut order = self.existing_order(partner_id, seq).await?.ok_or(Error::not_found("order"))?;
        if order.state == OrderState::Starting {
            match self.db.retry("stop before the start", || self.stop_when_started(order.id)).await? {
                Some(starting) => return Ok(PartnerStop::Accepted(Box::new(starting))),
                // It started (or failed) meanwhile: answer from where it is now.
                None => order = self.existing_order(partner_id, seq).await?.ok_or(Error::not_found("order"))?,
            }
        }
        if order.state != OrderState::Charging {
            return Ok(PartnerStop::AlreadyStopped(Box::new(order)));
        }
        let session = {
            let mut conn = self.db.acquire().await?;
            pile_sessions::by_order(&mut conn, order.id).await?.ok_or_else(|| Error::Internal("flow-B order without a pile session".into()))?
        };
        let control = self.pile_control()?;
        let Some(transaction) = session.transaction_id.filter(|_| control.is_connected(&session.ocpp_id)) else {
            return Ok(PartnerStop::PileOffline(Box::new(order)));
        };
        let order = self.advance_session(order.id, OrderEvent::StopRequested, None).await?;
        self.command_stop(control, session, transaction, false);
        Ok(PartnerStop::Accepted(Box::new(order)))
    }

    /// Remembers a stop for a session whose pile has not started the transaction yet. `None`
    /// when the order is no longer starting (the caller looks again).
    async fn stop_when_started(&self, order_id: Uuid) -> Result<Option<Order>> {
        for _ in 0..8 {
            let now = self.now();
            let mut tx = self.db.begin().await?;
            let StoredOrder { order, version } = orders::by_id(&mut tx, order_id).await?.ok_or(Error::not_found("order"))?;
            if order.state != OrderState::Starting {
                return Ok(None);
            }
            let session = pile_sessions::by_order(&mut tx, order_id).await?.ok_or_else(|| Error::Internal("flow-B order without a pile session".into()))?;
            if session.stop_requested_at.is_some() {
                return Ok(Some(order)); // Asked twice: once is remembered.
            }
            // The order itself does not change, but its version does: a StartTransaction binding
            // the transaction at this very moment fails its update, reads again and sees the stop.
            if !orders::update(&mut tx, &order, version).await? {
                continue;
            }
            pile_sessions::request_stop(&mut tx, order_id, now).await?;
            let remembered = Transition { order_id, from: order.state, to: order.state, event: STOP_REQUESTED, at: now };
            let detail = "the partner asked to stop before the pile started the transaction; it is stopped as soon as it starts";
            orders::record_transition(&mut tx, &remembered, Some(detail)).await?;
            tx.commit().await.map_err(store::Error::from)?;
            tracing::info!(order = %order_id, pile = %session.ocpp_id, "stop asked while the pile is starting; it follows the start");
            return Ok(Some(order));
        }
        Err(Error::Internal("order kept changing under us".into()))
    }

    /// Sends RemoteStopTransaction after the order moved to stopping; the pile's answer moves
    /// it on. `just_started`: the pile may not know the transaction until our answer to its
    /// StartTransaction has reached it, so a refusal is asked again a few times.
    fn command_stop(&self, control: std::sync::Arc<dyn PileControl>, session: PileSession, transaction: i64, just_started: bool) {
        let services = self.clone();
        self.background.spawn("remote stop on a pile", async move {
            let mut reply = control.remote_stop(&session.ocpp_id, transaction).await;
            let again = if just_started { 3 } else { 0 };
            for _ in 0..again {
                if !matches!(reply, Ok(PileReply::Rejected)) {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                reply = control.remote_stop(&session.ocpp_id, transaction).await;
            }
            let (event, note) = match reply {
                Ok(PileReply::Accepted) => (OrderEvent::StopAccepted, None),
                Ok(PileReply::Rejected) => (OrderEvent::StopRefused { already_stopped: false }, Some("the pile rejected the remote stop".to_owned())),
                Err(e) => (OrderEvent::StopTimedOut, Some(e.to_string())),
            };
            if let Err(e) = services.advance_session(session.order_id, event, note).await {
                tracing::warn!(order = %session.order_id, error = %e, "recording the pile's answer to a remote stop failed");
            }
        });
    }

    /// Moves a flow-B order and writes the notice its new state calls for, in one transaction.
    pub(crate) async fn advance_session(&self, order_id: Uuid, event: OrderEvent, detail: Option<String>) -> Result<Order> {
        self.db.retry("session update", || self.advance_session_once(order_id, event.clone(), detail.as_deref())).await
    }

    async fn advance_session_once(&self, order_id: Uuid, event: OrderEvent, detail: Option<&str>) -> Result<Order> {
        for _ in 0..8 {
            let now = self.now();
            let mut tx = self.db.begin().await?;
            let StoredOrder { mut order, version } = orders::by_id(&mut tx, order_id).await?.ok_or(Error::not_found("order"))?;
            let before = order.state;
            let transition = match order.apply(event.clone(), now) {
                Ok(t) => t,
                Err(e) if e.is_harmless() => return Ok(order),
                Err(e) => return Err(state_conflict(e)),
            };
            if !orders::update(&mut tx, &order, version).await? {
                continue;
            }
            orders::record_transition(&mut tx, &transition, detail).await?;
            let session = pile_sessions::by_order(&mut tx, order_id).await?;
            let kind = match (before, order.state) {
                (OrderState::Starting, OrderState::Failed) => Some((START_RESULT, false)),
                (OrderState::Stopping, OrderState::Charging) => Some((STOP_RESULT, false)),
                _ => None,
            };
            if let Some((kind, success)) = kind {
                self.enqueue_notice(&mut tx, &order, session.as_ref(), kind, success, now).await?;
            }
            // A stop asked while starting has its answer too: nothing runs any more.
            if (before, order.state) == (OrderState::Starting, OrderState::Failed) && session.as_ref().is_some_and(|s| s.stop_requested_at.is_some()) {
                self.enqueue_notice(&mut tx, &order, session.as_ref(), STOP_RESULT, true, now).await?;
            }
            tx.commit().await.map_err(store::Error::from)?;
            self.waker.wake();
            return Ok(order);
        }
        Err(Error::Internal("order kept changing under us".into()))
    }

    async fn enqueue_notice(&self, conn: &mut Conn, order: &Order, session: Option<&PileSession>, kind: &str, success: bool, now: DateTime<Utc>) -> Result<()> {
        let Ownership::PartnerUser { platform_partner_id } = order.ownership else { return Ok(()) };
        let mut notice = self.notice(conn, order, session, kind != CHARGE_RECORD).await?;
        notice.success = success;
        notice.at = now;
        let payload = serde_json::to_value(&notice).map_err(|e| Error::Internal(e.to_string()))?;
        store::outbox::enqueue(conn, platform_partner_id, kind, order.seq.as_str(), &payload, now).await?;
        Ok(())
    }

    /// The session as a partner sees it: energy and money so far (or final) at the partner's price.
    async fn notice(&self, conn: &mut Conn, order: &Order, session: Option<&PileSession>, live: bool) -> Result<SessionNotice> {
        let connector = self.connector_external(order.connector_id).unwrap_or_default();
        let fee = match session {
            Some(s) if s.readings.len() >= 2 => self.session_fee(conn, order, &s.readings).await?,
            _ => None,
        };
        let (energy, elec, service, total, lines) = match (&order.record, fee) {
            (Some(r), _) if !live => (r.energy, r.elec_money, r.service_money, r.total_money, Vec::new()),
            (_, Some(f)) => (f.total_energy, f.total_elec, f.total_service, f.total, f.lines),
            _ => (Energy::ZERO, Money::ZERO, Money::ZERO, Money::ZERO, Vec::new()),
        };
        let lines = if live { Vec::new() } else { lines };
        Ok(SessionNotice {
            seq: order.seq.as_str().to_owned(),
            connector,
            state: order.state,
            success: true,
            started_at: order.started_at,
            at: order.updated_at,
            energy_kwh: energy.value(),
            elec_money: elec.yuan(),
            service_money: service.yuan(),
            total_money: total.yuan(),
            stop_reason: order.record.as_ref().map(|r| r.stop_reason),
            lines,
        })
    }

    /// The fee of a meter curve at the price this order's partner sees for the station. Read
    /// on `conn` only: callers hold a write transaction on it, and waiting for a second pooled
    /// connection while holding one deadlocks once as many sessions end at once as the pool has
    /// connections.
    async fn session_fee(&self, conn: &mut Conn, order: &Order, readings: &[MeterReading]) -> Result<Option<FeeBreakdown>> {
        let Ownership::PartnerUser { platform_partner_id } = order.ownership else { return Ok(None) };
        let Some(station_id) = self.hub_station(order.connector_id) else { return Ok(None) };
        let Some(station) = store::catalog::station(conn, station_id).await? else { return Ok(None) };
        let terms = terms_on(conn, platform_partner_id).await?;
        let Some(tariff) = crate::open_network::tariff_under(&station, &terms.open) else { return Ok(None) };
        Ok(Some(tariff.fee_for_curve(readings).map_err(|e| Error::Internal(format!("pricing a session: {e}")))?))
    }

    fn hub_station(&self, connector_id: Uuid) -> Option<Uuid> {
        self.catalog.read().station_of(connector_id)
    }

    /// OCPP StartTransaction: binds the pile's transaction to the order our id tag names. `None`
    /// means the tag is not ours (the pile is told the tag is invalid). A stop the partner asked
    /// for while the pile was starting is carried out now.
    pub async fn pile_transaction_started(&self, ocpp_id: &str, connector_no: i64, tag: &str, meter_wh: i64, at: DateTime<Utc>) -> Result<Option<i64>> {
        // idTags compare case-insensitively; ours are looked up in the casing we issue them in.
        let Some(issued) = crate::pile_tags::issued_form(tag) else { return Ok(None) };
        let tag = issued.as_str();
        let bound = self.db.retry("pile transaction start", || self.bind_transaction(ocpp_id, connector_no, tag, meter_wh, at)).await?;
        Ok(bound.map(|(transaction, stop)| {
            if let Some(session) = stop
                && let Ok(control) = self.pile_control()
            {
                self.command_stop(control, session, transaction, true);
            }
            transaction
        }))
    }

    /// The transaction id, and the session when it is to be stopped at once.
    async fn bind_transaction(
        &self,
        ocpp_id: &str,
        connector_no: i64,
        tag: &str,
        meter_wh: i64,
        at: DateTime<Utc>,
    ) -> Result<Option<(i64, Option<PileSession>)>> {
        for _ in 0..8 {
            let now = self.now();
            let mut tx = self.db.begin().await?;
            let Some(session) = pile_sessions::by_id_tag(&mut tx, tag).await? else { return Ok(None) };
            if session.ocpp_id != ocpp_id || session.connector_no != connector_no {
                tracing::warn!(pile = ocpp_id, connector = connector_no, tag, "a transaction started with our tag on another connector");
                return Ok(None);
            }
            // A pile repeating StartTransaction after a reconnect gets the same transaction back.
            if let Some(existing) = session.transaction_id {
                return Ok(Some((existing, None)));
            }
            let StoredOrder { mut order, version } = orders::by_id(&mut tx, session.order_id).await?.ok_or(Error::not_found("order"))?;
            // Read again after the order: a stop remembered since the first read moved the
            // order's version too, so either it is seen here or the update below fails.
            let Some(mut session) = pile_sessions::by_order(&mut tx, order.id).await? else { return Ok(None) };
            let started = match order.apply(OrderEvent::StartResultNotified { success: true, fail_reason: None }, now) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(order = %order.id, error = %e, "pile started a transaction for an order that cannot charge");
                    return Ok(None);
                }
            };
            let as_started = order.clone();
            let stopping = match session.stop_requested_at {
                Some(_) => Some(order.apply(OrderEvent::StopRequested, now).map_err(state_conflict)?),
                None => None,
            };
            if !orders::update(&mut tx, &order, version).await? {
                continue;
            }
            orders::record_transition(&mut tx, &started, Some(&format!("pile {ocpp_id} connector {connector_no}"))).await?;
            if let Some(stopping) = &stopping {
                orders::record_transition(&mut tx, stopping, Some("the partner's stop, asked before the transaction started")).await?;
            }
            let transaction = transaction_id(order.id);
            session.transaction_id = Some(transaction);
            session.readings = vec![MeterReading { at, kwh: wh_to_kwh(meter_wh) }];
            pile_sessions::update(&mut tx, &session).await?;
            self.enqueue_notice(&mut tx, &as_started, Some(&session), START_RESULT, true, now).await?;
            tx.commit().await.map_err(store::Error::from)?;
            self.waker.wake();
            tracing::info!(order = %order.id, transaction, stopping = stopping.is_some(), "pile started charging");
            return Ok(Some((transaction, stopping.map(|_| session))));
        }
        Err(Error::Internal("order kept changing under us".into()))
    }

    /// OCPP MeterValues for a transaction: extends the curve and the order's progress, in one
    /// transaction.
    pub async fn pile_meter_values(&self, ocpp_id: &str, transaction: i64, samples: &[(DateTime<Utc>, i64)], soc_percent: Option<u8>) -> Result<()> {
        let closed = self.db.retry("pile meter values", || self.record_meter_values(ocpp_id, transaction, samples, soc_percent)).await?;
        if let Some(order_id) = closed {
            // The bill is closed (the pile was offline past the timeout and delivers its queue
            // now): its StopTransaction carries the final meter, recorded as a late reading. If
            // it is still charging, it is asked to stop.
            tracing::debug!(order = %order_id, pile = ocpp_id, transaction, "meter values for a closed session ignored");
            if self.pile_links.ask_stop_once(order_id)
                && let Some(control) = self.pile_control.clone()
            {
                let ocpp_id = ocpp_id.to_owned();
                self.background.spawn("stopping a transaction of a closed order", async move {
                    let reply = control.remote_stop(&ocpp_id, transaction).await;
                    tracing::warn!(order = %order_id, pile = %ocpp_id, transaction, ?reply, "asked a pile to stop a transaction whose order was closed while it was offline");
                });
            }
        }
        Ok(())
    }

    /// `Some(order)` when the session's bill is already closed (nothing written).
    async fn record_meter_values(&self, ocpp_id: &str, transaction: i64, samples: &[(DateTime<Utc>, i64)], soc_percent: Option<u8>) -> Result<Option<Uuid>> {
        for _ in 0..8 {
            let now = self.now();
            let mut tx = self.db.begin().await?;
            let Some(mut session) = pile_sessions::by_transaction(&mut tx, ocpp_id, transaction).await? else { return Ok(None) };
            let StoredOrder { mut order, version } = orders::by_id(&mut tx, session.order_id).await?.ok_or(Error::not_found("order"))?;
            if order.record.is_some() {
                return Ok(Some(order.id));
            }
            let last = session.readings.last().copied();
            for &(at, wh) in samples {
                let reading = MeterReading { at, kwh: wh_to_kwh(wh) };
                // A curve only moves forward; repeated or out-of-order samples are dropped.
                if session.readings.last().is_none_or(|l| l.at < reading.at && l.kwh <= reading.kwh) {
                    session.readings.push(reading);
                }
            }
            if session.readings.last().copied() == last {
                return Ok(None);
            }
            let fee = self.session_fee(&mut tx, &order, &session.readings).await?;
            let energy = session.readings.last().map(|l| Energy::kwh(l.kwh.value() - session.readings[0].kwh.value()).unwrap_or(Energy::ZERO));
            let event = OrderEvent::ChargeStatusReported { remote: RemoteState::Charging, energy, money: fee.map(|f| f.total), soc_percent };
            let transition = match order.apply(event, now) {
                Ok(t) => Some(t),
                // The order is past charging (interrupted, ending): the curve still grows.
                Err(e) if e.is_harmless() => None,
                Err(e) => {
                    tracing::warn!(order = %order.id, pile = ocpp_id, transaction, error = %e, "meter values for an order that cannot take them");
                    None
                }
            };
            if let Some(transition) = &transition {
                if !orders::update(&mut tx, &order, version).await? {
                    continue;
                }
                orders::record_transition(&mut tx, transition, None).await?;
            }
            pile_sessions::update(&mut tx, &session).await?;
            tx.commit().await.map_err(store::Error::from)?;
            return Ok(None);
        }
        Err(Error::Internal("order kept changing under us".into()))
    }

    /// OCPP StopTransaction: closes the curve, prices it at the partner's price, bills the
    /// order, books the settlement line and tells the partner — all in one transaction, run
    /// again while the database is busy: a pile drops a StopTransaction it got errors for.
    pub async fn pile_transaction_stopped(&self, ocpp_id: &str, transaction: i64, meter_wh: i64, at: DateTime<Utc>, reason: Option<&str>) -> Result<bool> {
        self.db.retry("pile transaction stop", || self.end_transaction(ocpp_id, transaction, meter_wh, at, reason)).await
    }

    async fn end_transaction(&self, ocpp_id: &str, transaction: i64, meter_wh: i64, at: DateTime<Utc>, reason: Option<&str>) -> Result<bool> {
        for _ in 0..8 {
            let now = self.now();
            let mut tx = self.db.begin().await?;
            let Some(mut session) = pile_sessions::by_transaction(&mut tx, ocpp_id, transaction).await? else { return Ok(false) };
            let StoredOrder { mut order, version } = orders::by_id(&mut tx, session.order_id).await?.ok_or(Error::not_found("order"))?;
            if order.record.is_some() {
                // A repeat after a reconnect (already billed), or the pile's own end of a
                // session we closed while it was offline.
                self.late_stop_reading(&mut tx, &order, &session, meter_wh, at, reason, now).await?;
                tx.commit().await.map_err(store::Error::from)?;
                return Ok(true);
            }
            let end = MeterReading { at: at.max(session.readings.last().map_or(at, |l| l.at)), kwh: wh_to_kwh(meter_wh) };
            match session.readings.last() {
                Some(l) if l.kwh > end.kwh => session.readings.push(MeterReading { at: end.at, kwh: l.kwh }),
                _ => session.readings.push(end),
            }
            let asked = order.state == OrderState::Stopping;
            // A session the pile already reported as interrupted (Faulted) keeps that reason:
            // firmware often says only `Other` in the StopTransaction that follows a fault.
            let stop_reason = order.abnormal_stop.unwrap_or_else(|| stop_reason(asked, reason));
            let mut transitions = Vec::new();
            if asked {
                transitions.push(order.apply(OrderEvent::StopConfirmed, now).map_err(state_conflict)?);
            }
            let Some(fee) = self.bill_session(&mut tx, &mut order, version, &session, stop_reason, asked, transitions, reason, now).await? else { continue };
            tx.commit().await.map_err(store::Error::from)?;
            self.waker.wake();
            tracing::info!(order = %order.id, energy = %fee.total_energy.value(), amount = %fee.total, ?stop_reason, "pile session ended and billed");
            return Ok(true);
        }
        Err(Error::Internal("order kept changing under us".into()))
    }

    /// Ends a flow-B order on its final meter curve: prices it at the partner's price, moves it
    /// through `transitions` (already applied), charge end and billing, books the settlement
    /// line and queues the stop result (when the partner asked: `stop_result`) and the
    /// charge-end record.
    /// `None` when the order changed under us (reload and retry); nothing is written then.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn bill_session(
        &self,
        tx: &mut Conn,
        order: &mut Order,
        version: i64,
        session: &PileSession,
        stop_reason: StopReason,
        stop_result: bool,
        mut transitions: Vec<domain::order::Transition>,
        detail: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<FeeBreakdown>> {
        let fee = self.session_fee(tx, order, &session.readings).await?.ok_or_else(|| Error::Internal("no price for this session".into()))?;
        let record = ChargeRecord {
            start: session.readings[0].at,
            end: session.readings[session.readings.len() - 1].at,
            energy: fee.total_energy,
            elec_money: fee.total_elec,
            service_money: fee.total_service,
            total_money: fee.total,
            stop_reason,
        };
        transitions.push(order.apply(OrderEvent::ChargeEnded { record }, now).map_err(state_conflict)?);
        transitions.push(order.apply(OrderEvent::Billed { amount: fee.total }, now).map_err(state_conflict)?);
        if !orders::update(tx, order, version).await? {
            return Ok(None);
        }
        for t in &transitions {
            orders::record_transition(tx, t, detail).await?;
        }
        pile_sessions::update(tx, session).await?;
        let partner_id = order.ownership.partner_id().ok_or_else(|| Error::Internal("flow-B order without a partner".into()))?;
        let terms = terms_on(tx, partner_id).await?;
        let amounts = SessionAmounts::new(fee.total_energy, fee.total_elec, fee.total_service).map_err(|e| Error::Internal(e.to_string()))?;
        let line = SettlementLine::flow_b(order.id, &amounts, &terms.revenue_share, now);
        store::settlement::insert_line(tx, partner_id, &line).await?;
        if stop_result {
            self.enqueue_notice(tx, order, Some(session), STOP_RESULT, true, now).await?;
        }
        let mut notice = self.notice(tx, order, Some(session), false).await?;
        notice.lines = fee.lines.clone();
        notice.at = now;
        let payload = serde_json::to_value(&notice).map_err(|e| Error::Internal(e.to_string()))?;
        store::outbox::enqueue(tx, partner_id, CHARGE_RECORD, order.seq.as_str(), &payload, now).await?;
        Ok(Some(fee))
    }

    /// Queues a charge-status notice for every flow-B session that is charging (the partner's
    /// app shows energy and cost so far; T/CEC 102 asks for one about every 50 s).
    pub async fn push_session_statuses(&self) -> Result<usize> {
        self.db.retry("session status notices", || self.queue_session_statuses()).await
    }

    async fn queue_session_statuses(&self) -> Result<usize> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let charging = orders::in_state(&mut tx, "b", OrderState::Charging.as_str(), 10_000).await?;
        for stored in &charging {
            let session = pile_sessions::by_order(&mut tx, stored.order.id).await?;
            self.enqueue_notice(&mut tx, &stored.order, session.as_ref(), CHARGE_STATUS, true, now).await?;
        }
        tx.commit().await.map_err(store::Error::from)?;
        self.waker.wake();
        Ok(charging.len())
    }

    /// Flow-B starts the pile never confirmed within the deadline end as failed, and the
    /// partner is told. We own these piles: no answer from the pile means no session.
    pub async fn expire_pile_starts(&self) -> Result<usize> {
        let before = self.now() - self.settings.start_result_deadline;
        let stuck = {
            let mut conn = self.db.acquire().await?;
            orders::stale(&mut conn, OrderState::Starting.as_str(), before, 200).await?
        };
        let mut failed = 0;
        for stored in stuck.iter().filter(|s| matches!(s.order.ownership, Ownership::PartnerUser { .. })) {
            let event = OrderEvent::StartResultNotified { success: false, fail_reason: Some(FailureReason::NotStarted) };
            self.advance_session(stored.order.id, event, Some("the pile did not start in time".into())).await?;
            failed += 1;
        }
        Ok(failed)
    }
}

/// A partner's commercial terms read on `conn` (inside the caller's transaction).
async fn terms_on(conn: &mut Conn, partner_id: Uuid) -> Result<PartnerTerms> {
    Ok(match store::settlement::terms(conn, partner_id).await? {
        Some(json) => serde_json::from_value(json).map_err(|e| Error::Internal(format!("partner terms: {e}")))?,
        None => PartnerTerms::default(),
    })
}

/// Transaction ids are positive i32 (OCPP), unique per pile; derived from the order id's random
/// bits so no instance has to coordinate with another.
pub(crate) fn transaction_id(order_id: Uuid) -> i64 {
    let bytes = order_id.as_bytes();
    i64::from(u32::from_be_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) & 0x7fff_ffff).max(1)
}

/// The stop reason for how a transaction ended (OCPP's reason, in our words).
fn stop_reason(asked: bool, ocpp_reason: Option<&str>) -> StopReason {
    match (asked, ocpp_reason) {
        (true, _) | (false, Some("Remote")) => StopReason::Platform,
        // OCPP: an absent reason means "Local" (the driver stopped at the pile).
        (false, None | Some("Local")) => StopReason::User,
        (false, Some("EVDisconnected")) => StopReason::Disconnected,
        (false, Some("EmergencyStop" | "PowerLoss" | "HardReset" | "SoftReset" | "Reboot")) => StopReason::ChargerFault,
        (false, Some(_)) => StopReason::Other(99),
    }
}
