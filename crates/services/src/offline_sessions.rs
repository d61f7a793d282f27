//! Flow-B sessions whose pile went offline.
//!
//! A pile that loses its connection keeps charging and queues its transaction messages; it
//! delivers them (StopTransaction included) when it is back, which may be hours later or never.
//! Until then the partner's user sees a session that neither progresses nor ends, and the
//! partner cannot bill. A careful operator does not wait forever: after
//! `Settings::offline_session_timeout` without the pile (and without a meter value for the
//! session) we end the order ourselves — interrupted with `StopReason::ChargerFault` (设备故障:
//! the partner's user did not stop it, the equipment failed to report), billed on the last
//! meter reading we have, settled, and the partner gets its one charge-end record.
//!
//! We bill on the last reading rather than guess: the energy after it is not known, and an
//! estimate would be a number nobody can check. When the pile comes back and delivers its
//! StopTransaction with more energy, the bill is not reopened (the partner has billed its user
//! on our record, and a second record would double bill or contradict it): the later meter is
//! kept as a `late_stop_reading` transition on the order and logged as a warning, for
//! reconciliation between us and the partner. Meter values queued by the pile for the closed
//! session are dropped for the same reason, and a pile that comes back still charging it is
//! asked to stop (once): that energy would be billed to nobody and the connector stay taken.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use domain::order::{Order, OrderEvent, OrderState, PendingCommand, StopReason, Transition};
use parking_lot::Mutex;
use store::Conn;
use store::orders::{self, StoredOrder};
use store::pile_sessions::{self, PileSession};

use crate::partner_sessions::{state_conflict, wh_to_kwh};
use crate::{Error, Result, Services};

/// The transition event of a meter a pile reported after its session was closed.
pub const LATE_STOP_READING: &str = "late_stop_reading";

/// When each of our piles lost its connection, by our clock (the worker compares it with our
/// clock, not the pile's). In memory: after a restart nobody knows, and the instance's start
/// counts as the moment the piles were lost, which errs on the side of waiting longer.
#[derive(Debug, Default)]
pub struct PileLinks {
    lost_at: Mutex<HashMap<String, DateTime<Utc>>>,
    /// Closed orders whose pile we asked to stop the transaction it still reported.
    stops_asked: Mutex<HashSet<uuid::Uuid>>,
}

impl PileLinks {
    /// True the first time only, so one RemoteStop goes out however many meter values follow.
    pub(crate) fn ask_stop_once(&self, order_id: uuid::Uuid) -> bool {
        self.stops_asked.lock().insert(order_id)
    }

    fn connected(&self, ocpp_id: &str) {
        self.lost_at.lock().remove(ocpp_id);
    }

    fn lost(&self, ocpp_id: &str, at: DateTime<Utc>) {
        self.lost_at.lock().insert(ocpp_id.to_owned(), at);
    }

    fn lost_at(&self, ocpp_id: &str) -> Option<DateTime<Utc>> {
        self.lost_at.lock().get(ocpp_id).copied()
    }
}

/// Orders in these states may still have energy flowing on a pile, or wait for the pile's
/// StopTransaction (interrupted: it reported a fault, then went away before ending the session).
const RUNNING: [OrderState; 4] = [OrderState::Charging, OrderState::Stopping, OrderState::UnknownOutcome, OrderState::Interrupted];

impl Services {
    /// One of our piles connected (OCPP WebSocket open).
    pub fn pile_connected(&self, ocpp_id: &str) {
        self.pile_links.connected(ocpp_id);
    }

    /// One of our piles lost its connection.
    pub fn pile_disconnected(&self, ocpp_id: &str) {
        self.pile_links.lost(ocpp_id, self.now());
    }

    /// Ends the flow-B sessions whose pile has been offline, and silent about the session, for
    /// longer than the timeout (see the module documentation). Returns how many it ended.
    pub async fn end_offline_sessions(&self) -> Result<usize> {
        let Some(control) = self.pile_control.clone() else { return Ok(0) };
        let mut running = Vec::new();
        {
            let mut conn = self.db.acquire().await?;
            for state in RUNNING {
                running.extend(pile_sessions::in_order_state(&mut conn, state.as_str(), 500).await?);
            }
        }
        let mut ended = 0;
        for session in running.iter().filter(|s| s.transaction_id.is_some() && !control.is_connected(&s.ocpp_id)) {
            let lost_at = self.pile_links.lost_at(&session.ocpp_id).unwrap_or(self.started_at);
            if self.now() - lost_at >= self.settings.offline_session_timeout && self.end_offline_session(session.order_id, lost_at).await? {
                ended += 1;
            }
        }
        Ok(ended)
    }

    async fn end_offline_session(&self, order_id: uuid::Uuid, lost_at: DateTime<Utc>) -> Result<bool> {
        self.db.retry("offline session end", || self.end_offline_session_once(order_id, lost_at)).await
    }

    async fn end_offline_session_once(&self, order_id: uuid::Uuid, lost_at: DateTime<Utc>) -> Result<bool> {
        let timeout = self.settings.offline_session_timeout;
        for _ in 0..8 {
            let now = self.now();
            let mut tx = self.db.begin().await?;
            let StoredOrder { mut order, version } = orders::by_id(&mut tx, order_id).await?.ok_or(Error::not_found("order"))?;
            let last_word = order.updated_at.max(lost_at);
            let session = pile_sessions::by_order(&mut tx, order_id).await?;
            let Some(mut session) = session.filter(|s| !s.readings.is_empty()) else { return Ok(false) };
            let reserve_pending = order.state == OrderState::UnknownOutcome && order.pending == Some(PendingCommand::Reserve);
            if !RUNNING.contains(&order.state) || reserve_pending || now - last_word < timeout {
                return Ok(false);
            }
            let asked = order.state == OrderState::Stopping || order.pending == Some(PendingCommand::Stop);
            let last = session.readings[session.readings.len() - 1];
            if session.readings.len() == 1 {
                // No meter value arrived after the start: a curve of no energy.
                session.readings.push(last);
            }
            let detail = format!(
                "pile {} offline since {} and silent about this session since {}; ended after {} min, billed on the last meter reading ({} kWh at {})",
                session.ocpp_id,
                lost_at.to_rfc3339(),
                last_word.to_rfc3339(),
                timeout.num_minutes(),
                last.kwh.value(),
                last.at.to_rfc3339(),
            );
            let mut transitions = Vec::new();
            if order.state != OrderState::Interrupted {
                transitions.push(order.apply(OrderEvent::AbnormalStop { reason: StopReason::ChargerFault }, now).map_err(state_conflict)?);
            }
            let billed = self.bill_session(&mut tx, &mut order, version, &session, StopReason::ChargerFault, asked, transitions, Some(&detail), now).await?;
            let Some(fee) = billed else { continue };
            tx.commit().await.map_err(store::Error::from)?;
            self.waker.wake();
            tracing::warn!(order = %order.id, pile = %session.ocpp_id, energy = %fee.total_energy.value(), amount = %fee.total, "session of an offline pile ended and billed on its last meter reading");
            return Ok(true);
        }
        Err(Error::Internal("order kept changing under us".into()))
    }

    /// The pile's StopTransaction for an order that already has its charge record: a repeat
    /// (nothing to do), or the real end of a session we closed while the pile was offline. The
    /// energy after what was billed is recorded once on the order's transitions, not billed.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn late_stop_reading(
        &self,
        tx: &mut Conn,
        order: &Order,
        session: &PileSession,
        meter_wh: i64,
        at: DateTime<Utc>,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let billed_register = session.readings.last().map(|r| r.kwh.value()).unwrap_or_default();
        let reported = wh_to_kwh(meter_wh).value();
        if reported <= billed_register || orders::transitions(tx, order.id).await?.iter().any(|t| t.event == LATE_STOP_READING) {
            return Ok(());
        }
        let unbilled = reported - billed_register;
        let billed = order.record.as_ref().map(|r| r.energy.value()).unwrap_or_default();
        let detail = format!(
            "pile {} delivered its StopTransaction ({}) of {} late: meter {reported} kWh, {unbilled} kWh more than the {billed} kWh billed; not billed again, kept for reconciliation",
            session.ocpp_id,
            reason.unwrap_or("Local"),
            at.to_rfc3339(),
        );
        let transition = Transition { order_id: order.id, from: order.state, to: order.state, event: LATE_STOP_READING, at: now };
        orders::record_transition(tx, &transition, Some(&detail)).await?;
        tracing::warn!(order = %order.id, pile = %session.ocpp_id, %unbilled, "a pile reported energy after its session was closed and billed");
        Ok(())
    }
}
