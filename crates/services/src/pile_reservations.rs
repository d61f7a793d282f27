//! Flow B reservations: a partner platform holds one of our connectors for its user for a few
//! minutes (our T/CEC 102 extension `query_reserve`, see docs/cec-reservation-extension.md).
//!
//! A reservation is an order of its own, keyed by the partner's ReserveSeq, with a row saying
//! what the pile was told (OCPP ReserveNow: our reservation id and id tag, the expiry). The
//! partner's later start names its session with a different sequence, so the start is a second
//! order that takes over the hold: it sends the reservation's id tag (the only tag the pile lets
//! onto a reserved connector) and the reservation order ends as `reservation_used`.
//!
//! Unlike a start, a reservation is answered only after the pile answered: the partner's reply
//! carries the outcome and the end of the hold. The order is committed before the pile is asked,
//! so a crash in between leaves a `reserving` order that the deadline worker closes (and tells
//! the pile to drop whatever it may hold). Every ending the partner did not ask for — expiry,
//! use by a start, a failure it was not told synchronously — is an outbox notice written in the
//! same transaction as the state it reports.

use chrono::{DateTime, Duration, Utc};
use domain::order::{FailureReason, Order, OrderEvent, OrderState, Ownership, StartChargeSeq};
use serde::{Deserialize, Serialize};
use store::Conn;
use store::orders::{self, StoredOrder};
use store::pile_reservations::{self as repo, PileReservation};
use uuid::Uuid;

use crate::partner_sessions::{id_tag, state_conflict, transaction_id};
use crate::ports::{PileCommandError, PileReply, ReservationReply};
use crate::{Error, Result, Services};

/// Outbox kind of a reservation's ending, delivered like the other session notices.
pub const RESERVE_RESULT: &str = "session.reserve_result";

/// The extension's limit on a hold.
pub const MAX_MINUTES: i64 = 60;

/// How long a repeated request waits for the first one's pile answer before answering anyway.
const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_secs(40);
/// A hold the pile releases this close to its end has run out rather than been dropped.
const RESTORE_MARGIN_SECONDS: i64 = 30;

/// Where a reservation is, as the partner is told (the extension's ReserveSeqStat 1–5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReserveOutcome {
    Reserved,
    Cancelled,
    Expired,
    Used,
    Failed,
}

impl ReserveOutcome {
    /// The outcome a reservation order's state stands for; `None` while the pile is still asked.
    pub fn of(state: OrderState) -> Option<Self> {
        match state {
            OrderState::Created | OrderState::Reserving => None,
            OrderState::Reserved => Some(Self::Reserved),
            OrderState::Cancelled => Some(Self::Cancelled),
            OrderState::ReservationExpired => Some(Self::Expired),
            OrderState::ReservationUsed => Some(Self::Used),
            _ => Some(Self::Failed),
        }
    }
}

/// Why a reservation was not made (the extension's FailReason 1–4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReserveFailure {
    /// No such connector, or the partner may not see its station.
    UnknownConnector,
    /// The pile is not connected or did not answer.
    Offline,
    /// Occupied, charging, faulted, unavailable or already held.
    NotFree,
    /// The pile refused reservations.
    NotSupported,
}

impl ReserveFailure {
    /// The failure a failed reservation order records, in the extension's terms.
    pub fn of(reason: Option<&FailureReason>) -> Self {
        match reason {
            Some(FailureReason::ConnectorNotFound | FailureReason::NotPermitted) => Self::UnknownConnector,
            Some(FailureReason::ConnectorOffline | FailureReason::NotReserved) => Self::Offline,
            Some(FailureReason::ConnectorOccupied | FailureReason::ConnectorFaulted) => Self::NotFree,
            Some(FailureReason::Refused { code: 1, .. }) => Self::UnknownConnector,
            Some(FailureReason::Refused { code: 2, .. }) => Self::Offline,
            Some(FailureReason::Refused { code: 3, .. }) => Self::NotFree,
            _ => Self::NotSupported,
        }
    }
}

/// The answer to `query_reserve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveAnswer {
    pub outcome: ReserveOutcome,
    /// The end of the hold (when one was made).
    pub expires_at: Option<DateTime<Utc>>,
    pub failure: Option<ReserveFailure>,
}

impl ReserveAnswer {
    fn refused(failure: ReserveFailure) -> Self {
        Self { outcome: ReserveOutcome::Failed, expires_at: None, failure: Some(failure) }
    }

    /// What a reservation order says now.
    pub fn of(order: &Order, expires_at: DateTime<Utc>) -> Self {
        match ReserveOutcome::of(order.state).unwrap_or(ReserveOutcome::Failed) {
            ReserveOutcome::Failed => Self::refused(ReserveFailure::of(order.failure.as_ref())),
            outcome => Self { outcome, expires_at: Some(order.reserved_until.unwrap_or(expires_at)), failure: None },
        }
    }
}

/// The answer to `query_cancel_reserve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelAnswer {
    Cancelled,
    /// No reservation of this partner has that sequence (on that connector).
    NoSuchReservation,
    /// It had already ended this way.
    AlreadyEnded(ReserveOutcome),
}

/// What a partner is told when a reservation ends without its asking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReserveNotice {
    pub seq: String,
    /// Our connector's public id.
    pub connector: String,
    pub outcome: ReserveOutcome,
    pub at: DateTime<Utc>,
}

/// How a pile's answer to ReserveNow moves the reservation order.
fn reply_event(reply: &std::result::Result<ReservationReply, PileCommandError>, until: DateTime<Utc>) -> OrderEvent {
    let refused = |reason| OrderEvent::ReservationRefused { reason };
    match reply {
        Ok(ReservationReply::Accepted) => OrderEvent::ReservationConfirmed { until },
        Ok(ReservationReply::Occupied) => refused(FailureReason::ConnectorOccupied),
        Ok(ReservationReply::Faulted | ReservationReply::Unavailable) => refused(FailureReason::ConnectorFaulted),
        Ok(ReservationReply::Rejected) => refused(FailureReason::Refused { code: 4, detail: Some("the pile rejected the reservation".into()) }),
        Err(PileCommandError::Offline) => refused(FailureReason::ConnectorOffline),
        Err(PileCommandError::NoAnswer(why)) => refused(FailureReason::Refused { code: 2, detail: Some(why.clone()) }),
    }
}

fn not_enabled() -> Error {
    Error::forbidden("the reservation extension is not enabled for this partner", "预约扩展接口未对该运营商开通")
}

impl Services {
    /// A partner's `query_reserve`. The same ReserveSeq again answers with the reservation it
    /// made (no second ReserveNow); refusals before a hold was asked for write nothing.
    pub async fn partner_reserve(&self, partner_id: Uuid, seq: &str, connector_external: &str, minutes: i64) -> Result<ReserveAnswer> {
        let terms = self.partner_terms(partner_id).await?.open;
        if !terms.reservations {
            return Err(not_enabled());
        }
        let max = terms.reservation_max_minutes.unwrap_or(MAX_MINUTES).clamp(1, MAX_MINUTES);
        if !(1..=max).contains(&minutes) {
            return Err(Error::invalid("Minutes", format!("must be 1 to {max}"), format!("须为 1–{max} 分钟")));
        }
        let seq = StartChargeSeq::parse(seq).map_err(|e| Error::invalid("ReserveSeq", e.to_string(), e.message_zh()))?;
        if let Some((order, reservation)) = self.partner_reservation(partner_id, seq.as_str()).await? {
            return self.settled_answer(order, &reservation).await;
        }
        if self.seq_taken(seq.as_str()).await? {
            return Err(Error::invalid("ReserveSeq", "this sequence already names another order", "该预约编号已被其他订单使用"));
        }
        let control = self.pile_control()?;
        let Some(target) = self.pile_target(partner_id, connector_external).await? else {
            return Ok(ReserveAnswer::refused(ReserveFailure::UnknownConnector));
        };
        if !control.is_connected(&target.ocpp_id) {
            return Ok(ReserveAnswer::refused(ReserveFailure::Offline));
        }
        let now = self.now();
        let held = {
            let mut conn = self.db.acquire().await?;
            repo::live_on_connector(&mut conn, target.connector_id).await?.is_some()
        };
        if held || !self.hub.effective(target.connector_id, now).is_free() {
            return Ok(ReserveAnswer::refused(ReserveFailure::NotFree));
        }

        let mut order = Order::new(Uuid::now_v7(), seq, Ownership::PartnerUser { platform_partner_id: partner_id }, target.connector_id, now);
        let transition = order.apply(OrderEvent::ReserveRequested, now).map_err(|e| Error::Internal(e.to_string()))?;
        let reservation = PileReservation {
            order_id: order.id,
            partner_id,
            connector_id: target.connector_id,
            ocpp_id: target.ocpp_id.clone(),
            connector_no: target.connector_no,
            reservation_id: transaction_id(order.id),
            id_tag: id_tag(order.id),
            expires_at: now + Duration::minutes(minutes),
            used_by: None,
            created_at: now,
        };
        let mut tx = self.db.begin().await?;
        match orders::insert(&mut tx, &order).await {
            // Two copies of one request raced; the other one asks the pile.
            Err(store::Error::Duplicate { .. }) => {
                drop(tx);
                let (order, reservation) = self.partner_reservation(partner_id, order.seq.as_str()).await?.ok_or(Error::not_found("reservation"))?;
                return self.settled_answer(order, &reservation).await;
            }
            other => other?,
        }
        orders::record_transition(&mut tx, &transition, None).await?;
        repo::insert(&mut tx, &reservation).await?;
        tx.commit().await.map_err(store::Error::from)?;

        let reply =
            control.reserve(&reservation.ocpp_id, reservation.connector_no, reservation.reservation_id, &reservation.id_tag, reservation.expires_at).await;
        tracing::info!(order = %order.id, seq = %order.seq, pile = %reservation.ocpp_id, connector = reservation.connector_no, ?reply, "partner reservation asked of the pile");
        let event = reply_event(&reply, reservation.expires_at);
        let detail = match &reply {
            Ok(r) => format!("ReserveNow: {r:?}"),
            Err(e) => e.to_string(),
        };
        let order = self.advance_reservation(order.id, event, Some(detail), false).await?;
        // The pile may hold the connector although we did not record it (no answer in time, or
        // the deadline worker closed the order meanwhile): release it.
        let pile_may_hold = matches!(reply, Ok(ReservationReply::Accepted) | Err(PileCommandError::NoAnswer(_)));
        if pile_may_hold && order.state != OrderState::Reserved {
            self.release_on_pile(&reservation);
        }
        Ok(ReserveAnswer::of(&order, reservation.expires_at))
    }

    /// A partner's `query_cancel_reserve`: only the partner that reserved, only a live hold.
    pub async fn partner_cancel_reserve(&self, partner_id: Uuid, seq: &str, connector_external: &str) -> Result<CancelAnswer> {
        let Some((order, reservation)) = self.partner_reservation(partner_id, seq).await? else { return Ok(CancelAnswer::NoSuchReservation) };
        if self.connector_external(order.connector_id).as_deref() != Some(connector_external) {
            return Ok(CancelAnswer::NoSuchReservation);
        }
        let order = self.settled(order).await?;
        if order.state != OrderState::Reserved {
            return Ok(CancelAnswer::AlreadyEnded(ReserveOutcome::of(order.state).unwrap_or(ReserveOutcome::Failed)));
        }
        let order = self.advance_reservation(order.id, OrderEvent::CancelRequested, Some("cancelled by the partner".into()), false).await?;
        if order.state != OrderState::Cancelled {
            // Used or expired meanwhile.
            return Ok(CancelAnswer::AlreadyEnded(ReserveOutcome::of(order.state).unwrap_or(ReserveOutcome::Failed)));
        }
        self.release_on_pile(&reservation);
        Ok(CancelAnswer::Cancelled)
    }

    /// The live hold on a connector, if any.
    pub(crate) async fn live_reservation(&self, connector_id: Uuid) -> Result<Option<PileReservation>> {
        let mut conn = self.db.acquire().await?;
        Ok(repo::live_on_connector(&mut conn, connector_id).await?)
    }

    /// Ends a reservation because `start_order` (of the same partner) takes over its hold, in
    /// the caller's transaction. `false`: the hold is no longer live (expired, cancelled or
    /// used meanwhile), and nothing was written.
    pub(crate) async fn use_reservation(&self, conn: &mut Conn, reservation: &PileReservation, start_order: Uuid, now: DateTime<Utc>) -> Result<bool> {
        let Some(StoredOrder { mut order, version }) = orders::by_id(conn, reservation.order_id).await? else { return Ok(false) };
        let Ok(transition) = order.apply(OrderEvent::ReservationUsed, now) else { return Ok(false) };
        if !orders::update(conn, &order, version).await? {
            return Ok(false);
        }
        orders::record_transition(conn, &transition, Some(&format!("started as order {start_order}"))).await?;
        repo::set_used_by(conn, order.id, start_order).await?;
        self.enqueue_reserve_notice(conn, &order, ReserveOutcome::Used, now).await?;
        Ok(true)
    }

    /// Holds that ended without a start, and requests a crash left unanswered. Our deadline is
    /// the backstop for piles that drop a hold without reporting; the pile is told to release
    /// it in case it still holds it.
    pub async fn expire_pile_reservations(&self) -> Result<usize> {
        let now = self.now();
        let (expired, stuck) = {
            let mut conn = self.db.acquire().await?;
            let expired = repo::due(&mut conn, OrderState::Reserved.as_str(), true, now, 200).await?;
            let stuck = repo::due(&mut conn, OrderState::Reserving.as_str(), false, now - self.settings.start_result_deadline, 200).await?;
            (expired, stuck)
        };
        let mut ended = 0;
        for r in &expired {
            let order = self.advance_reservation(r.order_id, OrderEvent::ReservationExpired, Some("the hold ended without a start".into()), true).await?;
            if order.state == OrderState::ReservationExpired {
                self.release_on_pile(r);
                ended += 1;
            }
        }
        for r in &stuck {
            let reason = FailureReason::Refused { code: 2, detail: Some("the reservation request was never answered".into()) };
            let order = self.advance_reservation(r.order_id, OrderEvent::ReservationRefused { reason }, None, true).await?;
            if order.state == OrderState::Failed {
                self.release_on_pile(r);
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// A pile reported a connector free again. A hold that is due ends now rather than at the
    /// worker's next run. A hold the pile let go of early (a reboot or a fault clears a pile's
    /// reservations) is our promise to the partner, so the pile is asked to hold it again for
    /// the rest of its time; if it will not, the reservation ends as cancelled and the partner
    /// is told, instead of being kept on our books while the connector is free for anyone.
    pub async fn pile_connector_released(&self, ocpp_id: &str, connector_no: i64) -> Result<()> {
        let now = self.now();
        // Every Available report of every pile comes here: the pile from the cache, one query.
        let Some(connector_id) = self.pile(ocpp_id).await?.and_then(|p| p.connector_id(connector_no)) else { return Ok(()) };
        let live = {
            let mut conn = self.db.acquire().await?;
            repo::live_on_connector(&mut conn, connector_id).await?
        };
        let Some(r) = live else { return Ok(()) };
        // Pile clocks drift: a release just before our deadline is the hold running out.
        if r.expires_at - now <= Duration::seconds(RESTORE_MARGIN_SECONDS) {
            self.advance_reservation(r.order_id, OrderEvent::ReservationExpired, Some("the pile released the hold".into()), true).await?;
            return Ok(());
        }
        // Answered from the pile's own StatusNotification: ask it in the background.
        let services = self.clone();
        self.background.spawn("restoring a dropped hold", async move {
            if let Err(e) = services.restore_hold(&r).await {
                tracing::warn!(pile = %r.ocpp_id, order = %r.order_id, error = %e, "restoring a dropped hold failed; it ends at its deadline");
            }
        });
        Ok(())
    }

    async fn restore_hold(&self, r: &PileReservation) -> Result<()> {
        let control = self.pile_control()?;
        match control.reserve(&r.ocpp_id, r.connector_no, r.reservation_id, &r.id_tag, r.expires_at).await {
            Ok(ReservationReply::Accepted) => {
                tracing::info!(pile = %r.ocpp_id, order = %r.order_id, until = %r.expires_at, "the pile dropped a hold early; it holds it again");
            }
            reply => {
                let detail = format!("the pile dropped the hold early and did not take it again: {reply:?}");
                tracing::warn!(pile = %r.ocpp_id, order = %r.order_id, "{detail}");
                self.advance_reservation(r.order_id, OrderEvent::CancelRequested, Some(detail), true).await?;
            }
        }
        Ok(())
    }

    /// A reservation of `partner_id` by its ReserveSeq. Another partner's sequence, or a
    /// session's, is no reservation of this partner.
    async fn partner_reservation(&self, partner_id: Uuid, seq: &str) -> Result<Option<(Order, PileReservation)>> {
        let mut conn = self.db.acquire().await?;
        let Some(stored) = orders::by_seq(&mut conn, seq).await? else { return Ok(None) };
        if !matches!(stored.order.ownership, Ownership::PartnerUser { platform_partner_id } if platform_partner_id == partner_id) {
            return Ok(None);
        }
        Ok(repo::by_order(&mut conn, stored.order.id).await?.map(|r| (stored.order, r)))
    }

    async fn seq_taken(&self, seq: &str) -> Result<bool> {
        let mut conn = self.db.acquire().await?;
        Ok(orders::by_seq(&mut conn, seq).await?.is_some())
    }

    /// Whether an order is a reservation (its sequence is a ReserveSeq, not a session's).
    pub(crate) async fn is_reservation(&self, conn: &mut Conn, order_id: Uuid) -> Result<bool> {
        Ok(repo::by_order(conn, order_id).await?.is_some())
    }

    async fn settled_answer(&self, order: Order, reservation: &PileReservation) -> Result<ReserveAnswer> {
        let order = self.settled(order).await?;
        Ok(ReserveAnswer::of(&order, reservation.expires_at))
    }

    /// The order once the pile answered the first request (a repeat arriving meanwhile waits).
    async fn settled(&self, mut order: Order) -> Result<Order> {
        let deadline = tokio::time::Instant::now() + SETTLE_WAIT;
        while order.state == OrderState::Reserving && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let mut conn = self.db.acquire().await?;
            order = orders::by_id(&mut conn, order.id).await?.ok_or(Error::not_found("order"))?.order;
        }
        Ok(order)
    }

    /// Tells the pile to drop a hold, in the background: the outcome changes nothing of ours
    /// (a pile without that hold answers Rejected).
    fn release_on_pile(&self, r: &PileReservation) {
        let Ok(control) = self.pile_control() else { return };
        let (ocpp_id, reservation_id) = (r.ocpp_id.clone(), r.reservation_id);
        self.background.spawn("releasing a hold on a pile", async move {
            if !control.is_connected(&ocpp_id) {
                return;
            }
            match control.cancel_reservation(&ocpp_id, reservation_id).await {
                Ok(PileReply::Accepted) => tracing::info!(pile = %ocpp_id, reservation_id, "pile released the hold"),
                Ok(PileReply::Rejected) => tracing::debug!(pile = %ocpp_id, reservation_id, "the pile held no such reservation"),
                Err(e) => tracing::warn!(pile = %ocpp_id, reservation_id, error = %e, "releasing a hold on the pile failed"),
            }
        });
    }

    /// Moves a reservation order; with `notify`, an ending is written to the outbox in the same
    /// transaction. An event the order can no longer take leaves it as it is.
    async fn advance_reservation(&self, order_id: Uuid, event: OrderEvent, detail: Option<String>, notify: bool) -> Result<Order> {
        for _ in 0..8 {
            let now = self.now();
            let mut tx = self.db.begin().await?;
            let StoredOrder { mut order, version } = orders::by_id(&mut tx, order_id).await?.ok_or(Error::not_found("order"))?;
            let transition = match order.apply(event.clone(), now) {
                Ok(t) => t,
                Err(e) if e.is_harmless() || !matches!(order.state, OrderState::Reserving | OrderState::Reserved) => {
                    tracing::debug!(order = %order_id, error = %e, "reservation event dropped: the order has moved on");
                    return Ok(order);
                }
                Err(e) => return Err(state_conflict(e)),
            };
            if !orders::update(&mut tx, &order, version).await? {
                continue;
            }
            orders::record_transition(&mut tx, &transition, detail.as_deref()).await?;
            if notify && let Some(outcome) = ReserveOutcome::of(order.state).filter(|o| *o != ReserveOutcome::Reserved) {
                self.enqueue_reserve_notice(&mut tx, &order, outcome, now).await?;
            }
            tx.commit().await.map_err(store::Error::from)?;
            self.waker.wake();
            return Ok(order);
        }
        Err(Error::Internal("reservation kept changing under us".into()))
    }

    async fn enqueue_reserve_notice(&self, conn: &mut Conn, order: &Order, outcome: ReserveOutcome, now: DateTime<Utc>) -> Result<()> {
        let Ownership::PartnerUser { platform_partner_id } = order.ownership else { return Ok(()) };
        let notice =
            ReserveNotice { seq: order.seq.as_str().to_owned(), connector: self.connector_external(order.connector_id).unwrap_or_default(), outcome, at: now };
        let payload = serde_json::to_value(&notice).map_err(|e| Error::Internal(e.to_string()))?;
        store::outbox::enqueue(conn, platform_partner_id, RESERVE_RESULT, order.seq.as_str(), &payload, now).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        "2024-05-01T02:00:00Z".parse().unwrap()
    }

    fn reservation_order() -> Order {
        let seq = StartChargeSeq::parse("MA5DEMO01202405011000000001").unwrap();
        let mut o = Order::new(Uuid::nil(), seq, Ownership::PartnerUser { platform_partner_id: Uuid::nil() }, Uuid::nil(), t0());
        o.apply(OrderEvent::ReserveRequested, t0()).unwrap();
        o
    }

    #[test]
    fn pile_answers_map_to_the_extension_fail_reasons() {
        let until = t0() + Duration::minutes(10);
        let cases = [
            (Ok(ReservationReply::Accepted), None),
            (Ok(ReservationReply::Occupied), Some(ReserveFailure::NotFree)),
            (Ok(ReservationReply::Faulted), Some(ReserveFailure::NotFree)),
            (Ok(ReservationReply::Unavailable), Some(ReserveFailure::NotFree)),
            (Ok(ReservationReply::Rejected), Some(ReserveFailure::NotSupported)),
            (Err(PileCommandError::Offline), Some(ReserveFailure::Offline)),
            (Err(PileCommandError::NoAnswer("timeout".into())), Some(ReserveFailure::Offline)),
        ];
        for (reply, failure) in cases {
            let mut o = reservation_order();
            o.apply(reply_event(&reply, until), t0()).unwrap();
            let answer = ReserveAnswer::of(&o, until);
            assert_eq!(answer.failure, failure, "{reply:?}");
            match failure {
                None => assert_eq!((answer.outcome, answer.expires_at), (ReserveOutcome::Reserved, Some(until))),
                Some(_) => assert_eq!((answer.outcome, o.state), (ReserveOutcome::Failed, OrderState::Failed)),
            }
        }
    }

    #[test]
    fn every_ending_has_its_outcome() {
        let until = t0() + Duration::minutes(10);
        let reserved = || {
            let mut o = reservation_order();
            o.apply(OrderEvent::ReservationConfirmed { until }, t0()).unwrap();
            o
        };
        assert_eq!(ReserveOutcome::of(reservation_order().state), None, "in flight");
        for (event, at, outcome) in [
            (OrderEvent::CancelRequested, t0(), ReserveOutcome::Cancelled),
            (OrderEvent::ReservationExpired, until, ReserveOutcome::Expired),
            (OrderEvent::ReservationUsed, t0(), ReserveOutcome::Used),
        ] {
            let mut o = reserved();
            o.apply(event, at).unwrap();
            assert_eq!(ReserveAnswer::of(&o, until), ReserveAnswer { outcome, expires_at: Some(until), failure: None });
        }
    }
}
