//! The pile side of sessions and reservations, and every push to the platform.
//!
//! A session moves 1 starting → 2 charging → 3 stopping → 4 ended (or 1 → 4 when the pile fails
//! to start). Each transition is decided under the state lock; the pushes it causes are sent
//! afterwards, in order, from the task that made the transition, so the platform sees the start
//! result before the first charge status and the stop result before the bill.

use std::sync::Arc;
use std::time::Duration;

use cec::ClientError;
use cec::messages::*;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::data::{self, round2};
use super::{DeliveryAttempt, Inner, OrderDelivery, PushOutcome, PushRecord, ReservationInfo, State};

/// Longest pause between order-bill attempts.
const MAX_ORDER_BACKOFF: Duration = Duration::from_secs(300);
/// Battery size used to turn energy into a state of charge, kWh.
const BATTERY_KWH: i64 = 60;
/// State of charge when a car plugs in, percent.
const SOC_AT_START: i64 = 20;

impl Inner {
    /// Changes a connector's status; false for an unknown connector.
    pub(crate) fn set_status(&self, connector_id: &str, status: ConnectorStatusCode) -> bool {
        match self.lock().connectors.get_mut(connector_id) {
            Some(c) => {
                c.status = status;
                true
            }
            None => false,
        }
    }

    pub(crate) async fn push_status(&self, connector_id: &str, status: ConnectorStatusCode) {
        let lock_status = None;
        let park_status = Some(match status {
            ConnectorStatusCode::Idle => 10,
            ConnectorStatusCode::Offline => 0,
            _ => 50,
        });
        let push = NotificationStationStatus {
            connector_status_info: ConnectorStatusInfo { connector_id: connector_id.to_owned(), status, park_status, lock_status },
        };
        let _ = self.push(&push, connector_id).await;
    }

    /// Sends one notification, applying the misbehaviour in force, and records what happened.
    pub(crate) async fn push<I: Interface>(&self, request: &I, subject: &str) -> Result<I::Response, PushOutcome> {
        let (client, duplicate) = {
            let mut state = self.lock();
            let misbehaviour = state.misbehaviour.clone();
            let skipped = if state.link.is_none() {
                Some(PushOutcome::NoPlatform)
            } else if misbehaviour.down {
                Some(PushOutcome::Suppressed)
            } else if I::NAME == NotificationStationStatus::NAME && state.rng.chance(misbehaviour.drop_status_pushes) {
                Some(PushOutcome::Dropped)
            } else {
                None
            };
            if let Some(outcome) = skipped {
                state.pushes.push(PushRecord { interface: I::NAME, subject: subject.to_owned(), outcome: outcome.clone(), duplicate: false });
                return Err(outcome);
            }
            (state.link.clone().expect("checked above"), misbehaviour.duplicate_pushes)
        };
        let copies = if duplicate { 2 } else { 1 };
        let mut first = None;
        for copy in 0..copies {
            let result = client.call(request).await.map_err(|e| PushOutcome::Failed(e.to_string()));
            let outcome = result.as_ref().map_or_else(Clone::clone, |_| PushOutcome::Delivered);
            self.lock().pushes.push(PushRecord { interface: I::NAME, subject: subject.to_owned(), outcome, duplicate: copy > 0 });
            if first.is_none() {
                first = Some(result);
            }
        }
        first.expect("at least one copy")
    }
}

/// The charge-status record of a session at `now` (its end time once ended).
pub(crate) fn charge_status(inner: &Inner, state: &State, seq: &str, now: DateTime<Utc>) -> Option<ChargeStatus> {
    let session = state.sessions.get(seq)?;
    let connector = state.connectors.get(&session.connector_id)?;
    let details = match session.start_time {
        Some(start) => data::bill(state.tariff_at(&inner.config, &session.connector_id), session.power_kw, start, session.end_time.unwrap_or(now)),
        None => Vec::new(),
    };
    let (energy, elec, service, total) = data::totals(&details);
    let charging = session.stat == StartChargeSeqStat::Charging;
    let voltage = Decimal::from(if connector.spec.dc { 400 } else { 220 });
    let current = if charging { (session.power_kw * Decimal::from(1000) / voltage).round_dp(1) } else { Decimal::ZERO };
    let soc = (Decimal::from(SOC_AT_START) + energy * Decimal::from(100) / Decimal::from(BATTERY_KWH)).min(Decimal::from(100)).round_dp(1);
    Some(ChargeStatus {
        start_charge_seq: session.start_charge_seq.clone(),
        start_charge_seq_stat: session.stat,
        connector_id: session.connector_id.clone(),
        connector_status: connector.status,
        current_a: current.into(),
        current_b: None,
        current_c: None,
        voltage_a: voltage.into(),
        voltage_b: None,
        voltage_c: None,
        soc: soc.into(),
        start_time: session.start_time.unwrap_or(session.accepted_at),
        end_time: session.end_time.unwrap_or(now),
        total_power: energy.into(),
        elec_money: Some(elec.into()),
        sevice_money: Some(service.into()),
        total_money: Some(total.into()),
        sum_period: Some(details.len() as i64),
        charge_details: details,
    })
}

/// After an accepted start: the pile starts (or fails to) after `start_delay`, then reports the
/// charge status every `charge_status_interval` until the session leaves "charging".
pub(crate) async fn run(inner: Arc<Inner>, seq: String) {
    tokio::time::sleep(inner.config.start_delay).await;
    let (result, failed) = {
        let mut state = inner.lock();
        let now = inner.clock.now();
        let Some(session) = state.sessions.get_mut(&seq) else { return };
        if session.stat != StartChargeSeqStat::Starting {
            return;
        }
        if session.start_fails {
            session.stat = StartChargeSeqStat::Ended;
            session.end_time = Some(now);
        } else {
            session.stat = StartChargeSeqStat::Charging;
            session.start_time = Some(now);
        }
        let result = NotificationStartChargeResult {
            start_charge_seq: session.start_charge_seq.clone(),
            start_charge_seq_stat: session.stat,
            connector_id: session.connector_id.clone(),
            start_time: now,
        };
        let failed = session.start_fails;
        if !failed && let Some(c) = state.connectors.get_mut(&result.connector_id) {
            c.status = ConnectorStatusCode::Charging;
        }
        (result, failed)
    };
    let _ = inner.push(&result, &seq).await;
    if failed {
        return;
    }
    inner.push_status(&result.connector_id, ConnectorStatusCode::Charging).await;
    loop {
        tokio::time::sleep(inner.config.charge_status_interval).await;
        let status = {
            let state = inner.lock();
            match charge_status(&inner, &state, &seq, inner.clock.now()) {
                Some(status) if status.start_charge_seq_stat == StartChargeSeqStat::Charging => status,
                _ => return,
            }
        };
        let _ = inner.push(&status, &seq).await;
    }
}

/// Marks a charging session as stopping; false if it is not charging. Whoever wins this
/// transition is the one that finishes the session, so a stop request and a pile-side end
/// cannot both bill it.
pub(crate) fn begin_stop(state: &mut State, seq: &str) -> bool {
    match state.sessions.get_mut(seq) {
        Some(s) if s.stat == StartChargeSeqStat::Charging => {
            s.stat = StartChargeSeqStat::Stopping;
            true
        }
        _ => false,
    }
}

/// A stop the platform requested: the pile takes `start_delay` to stop.
pub(crate) async fn stop_requested(inner: Arc<Inner>, seq: String) {
    tokio::time::sleep(inner.config.start_delay).await;
    finish(inner, seq, StopReason::Platform, true).await;
}

pub(crate) fn end_from_pile(inner: &Arc<Inner>, seq: &str, reason: StopReason) -> bool {
    if !begin_stop(&mut inner.lock(), seq) {
        return false;
    }
    let task = finish(inner.clone(), seq.to_owned(), reason, false);
    inner.spawn(task);
    true
}

/// Ends a stopping session: bill, stop result (when the platform asked), order bill, connector
/// free again.
async fn finish(inner: Arc<Inner>, seq: String, reason: StopReason, stop_result: bool) {
    let order = {
        let mut state = inner.lock();
        let now = inner.clock.now();
        let Some(connector) = state.sessions.get(&seq).map(|s| s.connector_id.clone()) else { return };
        let tariff = state.tariff_at(&inner.config, &connector).to_vec();
        let unbalanced = state.misbehaviour.unbalanced_orders;
        let Some(session) = state.sessions.get_mut(&seq) else { return };
        if session.stat != StartChargeSeqStat::Stopping {
            return;
        }
        session.stat = StartChargeSeqStat::Ended;
        session.end_time = Some(now);
        session.stop_reason = Some(reason);
        let start = session.start_time.unwrap_or(now);
        let details = data::bill(&tariff, session.power_kw, start, now);
        let (energy, elec, service, total) = data::totals(&details);
        let total = if unbalanced { total + Decimal::ONE } else { total };
        let order = ChargeOrderInfo {
            start_charge_seq: session.start_charge_seq.clone(),
            connector_id: session.connector_id.clone(),
            start_time: start,
            end_time: now,
            total_power: energy.into(),
            total_elec_money: elec.into(),
            total_sevice_money: service.into(),
            total_money: total.into(),
            stop_reason: reason,
            sum_period: Some(details.len() as i64),
            charge_details: details,
        };
        if let Some(c) = state.connectors.get_mut(&order.connector_id) {
            c.status = ConnectorStatusCode::Idle;
        }
        state.orders.push(order.clone());
        state.deliveries.push(OrderDelivery { start_charge_seq: order.start_charge_seq.clone(), attempts: Vec::new(), confirm_result: None, gave_up: false });
        order
    };
    if stop_result {
        let result = NotificationStopChargeResult {
            start_charge_seq: order.start_charge_seq.clone(),
            start_charge_seq_stat: StartChargeSeqStat::Ended,
            connector_id: order.connector_id.clone(),
            succ_stat: SuccStat::Success,
            fail_reason: 0,
        };
        let _ = inner.push(&result, &seq).await;
    }
    let delivered = deliver_once(&inner, &order).await;
    // The car leaves whether or not the bill has been confirmed.
    inner.push_status(&order.connector_id, ConnectorStatusCode::Idle).await;
    if !delivered {
        retry_delivery(inner, order).await;
    }
}

/// One attempt to deliver a bill; true once the platform answered with a ConfirmResult.
async fn deliver_once(inner: &Inner, order: &ChargeOrderInfo) -> bool {
    let result = inner.push(order, order.start_charge_seq.as_str()).await;
    let attempt = DeliveryAttempt {
        at: Utc::now(),
        outcome: match &result {
            Ok(reply) => Ok(reply.confirm_result),
            Err(PushOutcome::Failed(e)) => Err(e.clone()),
            Err(other) => Err(format!("{other:?}")),
        },
    };
    let mut state = inner.lock();
    let Some(delivery) = state.deliveries.iter_mut().rev().find(|d| d.start_charge_seq == order.start_charge_seq) else {
        return true;
    };
    delivery.attempts.push(attempt);
    match result {
        Ok(reply) => {
            delivery.confirm_result = Some(reply.confirm_result);
            true
        }
        Err(_) => false,
    }
}

/// Re-sends an unconfirmed bill with doubling pauses until answered or out of attempts.
async fn retry_delivery(inner: Arc<Inner>, order: ChargeOrderInfo) {
    let mut backoff = inner.config.order_retry_backoff;
    for _ in 1..inner.config.order_max_attempts {
        tokio::time::sleep(backoff).await;
        if deliver_once(&inner, &order).await {
            return;
        }
        backoff = (backoff * 2).min(MAX_ORDER_BACKOFF);
    }
    let mut state = inner.lock();
    if let Some(delivery) = state.deliveries.iter_mut().rev().find(|d| d.start_charge_seq == order.start_charge_seq) {
        delivery.gave_up = true;
    }
}

/// Holds a connector until `expire_time`, then releases it and tells the platform (Stat 3),
/// unless the reservation was used or cancelled meanwhile.
pub(crate) async fn expire_reservation(inner: Arc<Inner>, seq: String, after: Duration) {
    tokio::time::sleep(after).await;
    let result = {
        let mut state = inner.lock();
        let Some(r) = state.reservations.iter_mut().find(|r| r.reserve_seq.as_str() == seq && r.stat == ReserveSeqStat::Reserved) else {
            return;
        };
        r.stat = ReserveSeqStat::Expired;
        let result = NotificationReserveResult {
            reserve_seq: r.reserve_seq.clone(),
            connector_id: r.connector_id.clone(),
            reserve_seq_stat: ReserveSeqStat::Expired,
            end_time: inner.clock.now(),
        };
        release_reserved(&mut state, &result.connector_id);
        result
    };
    let _ = inner.push(&result, &seq).await;
    inner.push_status(&result.connector_id, ConnectorStatusCode::Idle).await;
}

/// A connector held by a reservation goes back to idle (other statuses are left alone: the pile
/// may have gone offline meanwhile).
pub(crate) fn release_reserved(state: &mut State, connector_id: &str) {
    if let Some(c) = state.connectors.get_mut(connector_id)
        && c.status == ConnectorStatusCode::Reserved
    {
        c.status = ConnectorStatusCode::Idle;
    }
}

/// Tells the platform a reservation was consumed by a start.
pub(crate) async fn reservation_used(inner: Arc<Inner>, reservation: ReservationInfo) {
    let result = NotificationReserveResult {
        reserve_seq: reservation.reserve_seq.clone(),
        connector_id: reservation.connector_id,
        reserve_seq_stat: ReserveSeqStat::Used,
        end_time: inner.clock.now(),
    };
    let _ = inner.push(&result, reservation.reserve_seq.as_str()).await;
}

/// `check_charge_orders` for the orders that ended in `[start, end)`.
pub(crate) async fn check_orders(inner: &Inner, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<CheckChargeOrdersResponse, ClientError> {
    let (client, request) = {
        let mut state = inner.lock();
        let client = state.link.clone().ok_or_else(|| ClientError::Config("no platform link: call set_platform first".into()))?;
        state.counter = state.counter.wrapping_add(1);
        let charge_orders: Vec<ChargeOrder> = state
            .orders
            .iter()
            .filter(|o| o.end_time >= start && o.end_time < end)
            .map(|o| ChargeOrder { start_charge_seq: o.start_charge_seq.clone(), total_power: o.total_power, total_money: o.total_money })
            .collect();
        let request = CheckChargeOrders {
            check_order_seq: Seq27::generate(&inner.config.operator_id, Utc::now(), state.counter),
            start_time: start,
            end_time: end,
            order_count: charge_orders.len() as i64,
            total_order_power: round2(charge_orders.iter().map(|o| o.total_power.value()).sum()).into(),
            total_order_money: round2(charge_orders.iter().map(|o| o.total_money.value()).sum()).into(),
            charge_orders,
        };
        (client, request)
    };
    let result = client.call(&request).await;
    let outcome = result.as_ref().map_or_else(|e| PushOutcome::Failed(e.to_string()), |_| PushOutcome::Delivered);
    inner.lock().pushes.push(PushRecord { interface: CheckChargeOrders::NAME, subject: request.check_order_seq.0.clone(), outcome, duplicate: false });
    result
}
