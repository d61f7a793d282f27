//! The charger side: what each command is answered (decided at once, under the state lock),
//! and the life of a session and a reservation afterwards.
//!
//! A session moves starting → charging → stopping → ended (or starting → failed). One task per
//! session sends all of its events, one after the other, so the platform hears `started`, the
//! `charging` events, `stopped` and then the charge record in that order. Reservations end by
//! use (a start with the same id), cancellation, or expiry (then an `expired` event).

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::billing::{self, dp2, rfc3339};
use super::state::{ReservationInfo, ReservationState, SessionInfo, SessionState, State};
use super::{ConnectorStatus, Inner};

/// Battery size used to turn energy into a state of charge, kWh.
const BATTERY_KWH: i64 = 60;
/// State of charge when a car plugs in, percent.
const SOC_AT_START: i64 = 20;

fn accepted() -> (u16, Value) {
    (200, json!({"result": "accepted"}))
}

fn refused(reason: &str, message: &str) -> (u16, Value) {
    (200, json!({"result": "refused", "reason": reason, "message": message}))
}

fn text<'a>(request: &'a Value, field: &str) -> &'a str {
    request[field].as_str().unwrap_or_default()
}

/// The answer to one command (status and body); acts on the state and spawns what follows.
pub(crate) fn decide(inner: &Arc<Inner>, state: &mut State, command: &str, request: &Value) -> (u16, Value) {
    let acting = matches!(command, "start_session" | "stop_session" | "reserve" | "cancel_reservation");
    if acting && state.misbehaviour.refuse_commands {
        return refused("other", "this operator refuses every command at the moment (simulated)");
    }
    match command {
        "start_session" => start(inner, state, text(request, "session_id"), text(request, "connector_id")),
        "stop_session" => stop(state, text(request, "session_id")),
        "reserve" => reserve(inner, state, text(request, "reservation_id"), text(request, "connector_id"), request["minutes"].as_i64()),
        "cancel_reservation" => cancel(inner, state, text(request, "reservation_id")),
        "get_session" => (200, session_state(inner, state, text(request, "session_id"))),
        other => (400, json!({"error": {"code": "unknown_command", "message": format!("unknown command {other:?}")}})),
    }
}

/// Why `connector_id` cannot take a new start or hold (a refusal reason and message).
fn unavailable(state: &State, connector_id: &str, reservation_id: Option<&str>) -> Option<(&'static str, &'static str)> {
    let Some(connector) = state.connectors.get(connector_id) else { return Some(("connector_not_found", "no such connector")) };
    if state.active_session_on(connector_id).is_some() {
        return Some(("connector_occupied", "a session is running on this connector"));
    }
    if let Some(held) = state.held_reservation_on(connector_id) {
        return (Some(held.reservation_id.as_str()) != reservation_id).then_some(("connector_occupied", "the connector is reserved for someone else"));
    }
    match connector.status {
        ConnectorStatus::Offline => Some(("connector_offline", "the charger is offline")),
        ConnectorStatus::Faulted => Some(("connector_faulted", "the charger reports a fault")),
        ConnectorStatus::Charging | ConnectorStatus::Reserved => Some(("connector_occupied", "the connector is in use")),
        ConnectorStatus::Available | ConnectorStatus::Occupied => None,
    }
}

fn start(inner: &Arc<Inner>, state: &mut State, session_id: &str, connector_id: &str) -> (u16, Value) {
    if session_id.is_empty() {
        return refused("other", "the command has no session_id");
    }
    if state.sessions.contains_key(session_id) {
        return refused("other", "this session was started before");
    }
    if let Some((reason, message)) = unavailable(state, connector_id, Some(session_id)) {
        return refused(reason, message);
    }
    if state.misbehaviour.nobody_plugged_in {
        return refused("not_plugged_in", "no car is plugged in at this connector");
    }
    let from_reservation = match state.reservations.get_mut(session_id) {
        Some(r) if r.state == ReservationState::Held && r.connector_id == connector_id => {
            r.state = ReservationState::Used;
            true
        }
        _ => false,
    };
    let Some(power_kw) = state.connectors.get(connector_id).map(|c| c.spec.power_kw) else { return refused("connector_not_found", "no such connector") };
    let start_fails = state.rng.chance(inner.config.failure_rate);
    let session = SessionInfo {
        session_id: session_id.to_owned(),
        connector_id: connector_id.to_owned(),
        state: SessionState::Starting,
        power_kw,
        accepted_at: Utc::now(),
        start_time: None,
        end_time: None,
        stop_reason: None,
        start_fails,
        from_reservation,
        record: None,
        record_answer: None,
    };
    state.sessions.insert(session_id.to_owned(), session);
    state.session_order.push(session_id.to_owned());
    let signal = Arc::new(Notify::new());
    state.stop_signals.insert(session_id.to_owned(), signal.clone());
    inner.spawn(run(inner.clone(), session_id.to_owned(), signal));
    accepted()
}

fn stop(state: &mut State, session_id: &str) -> (u16, Value) {
    let Some(session) = state.sessions.get_mut(session_id) else { return refused("other", "no such session") };
    match session.state {
        SessionState::Starting | SessionState::Charging if session.stop_reason.is_none() => {
            session.stop_reason = Some("user".into());
            if session.state == SessionState::Charging {
                session.state = SessionState::Stopping;
            }
            if let Some(signal) = state.stop_signals.get(session_id) {
                signal.notify_one();
            }
            accepted()
        }
        SessionState::Starting | SessionState::Charging | SessionState::Stopping => accepted(),
        SessionState::Ended | SessionState::Failed => refused("already_stopped", "the session has ended; its record follows"),
    }
}

fn reserve(inner: &Arc<Inner>, state: &mut State, reservation_id: &str, connector_id: &str, minutes: Option<i64>) -> (u16, Value) {
    if !inner.config.reservations {
        return refused("reservation_unsupported", "this operator takes no reservations");
    }
    let Some(minutes) = minutes.filter(|m| (1..=24 * 60).contains(m)) else { return refused("other", "minutes must be 1 to 1440") };
    if reservation_id.is_empty() || state.reservations.contains_key(reservation_id) {
        return refused("other", "no reservation_id, or one used before");
    }
    if let Some((reason, message)) = unavailable(state, connector_id, None) {
        // A faulted connector cannot be held either; the reserve reasons have no fault word.
        let reason = if reason == "connector_faulted" { "connector_offline" } else { reason };
        return refused(reason, message);
    }
    let hold = inner.config.reservation_minute * minutes as u32;
    let expires_at = Utc::now() + chrono::Duration::from_std(hold).unwrap_or_default();
    let reservation =
        ReservationInfo { reservation_id: reservation_id.to_owned(), connector_id: connector_id.to_owned(), expires_at, state: ReservationState::Held };
    state.reservations.insert(reservation_id.to_owned(), reservation);
    state.reservation_order.push(reservation_id.to_owned());
    inner.set_status(state, connector_id, ConnectorStatus::Reserved);
    inner.spawn(expire(inner.clone(), reservation_id.to_owned(), hold));
    (200, json!({"result": "accepted", "expires_at": expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)}))
}

/// Ends a held reservation from the charger's side and reports `cancelled`.
pub(crate) fn cancel_at_charger(inner: &Arc<Inner>, reservation_id: &str) -> bool {
    {
        let mut state = inner.state.lock();
        let Some(reservation) = state.reservations.get_mut(reservation_id).filter(|r| r.state == ReservationState::Held) else { return false };
        reservation.state = ReservationState::Cancelled;
        let connector_id = reservation.connector_id.clone();
        inner.set_status(&mut state, &connector_id, ConnectorStatus::Available);
    }
    let (reporter, path) = (inner.clone(), format!("/reservations/{reservation_id}/events"));
    inner.spawn(async move {
        let body = json!({"type": "cancelled", "at": rfc3339(Utc::now())});
        reporter.client.report("reservation_event", path, body).await;
    });
    true
}

fn cancel(inner: &Arc<Inner>, state: &mut State, reservation_id: &str) -> (u16, Value) {
    let Some(reservation) = state.reservations.get_mut(reservation_id) else { return refused("not_found", "no such reservation") };
    if reservation.state != ReservationState::Held {
        return refused("already_ended", "the reservation has ended");
    }
    reservation.state = ReservationState::Cancelled;
    let connector_id = reservation.connector_id.clone();
    inner.set_status(state, &connector_id, ConnectorStatus::Available);
    accepted()
}

fn soc(energy: Decimal) -> i64 {
    let soc = Decimal::from(SOC_AT_START) + energy * Decimal::from(100) / Decimal::from(BATTERY_KWH);
    soc.min(Decimal::from(100)).trunc().try_into().unwrap_or(100)
}

/// `get_session`'s answer: the state, with the figures so far while charging.
fn session_state(inner: &Inner, state: &State, session_id: &str) -> Value {
    let Some(session) = state.sessions.get(session_id) else { return json!({"state": "not_found"}) };
    match (session.state, session.start_time) {
        (SessionState::Charging, Some(start)) => {
            let now = Utc::now().trunc_subsecs(0);
            let totals = billing::totals(&inner.config.tariff, session.power_kw, start, now);
            json!({"state": "charging", "energy_kwh": dp2(totals.energy_kwh), "cost": dp2(totals.total_money), "soc": soc(totals.energy_kwh), "at": rfc3339(now)})
        }
        (state, _) => json!({"state": state.as_str()}),
    }
}

/// Ends a charging session from the charger's side.
pub(crate) fn end_at_charger(inner: &Inner, session_id: &str, stop_reason: &str) -> bool {
    let mut state = inner.state.lock();
    let Some(session) = state.sessions.get_mut(session_id) else { return false };
    if session.state != SessionState::Charging || session.stop_reason.is_some() {
        return false;
    }
    session.stop_reason = Some(stop_reason.to_owned());
    session.state = SessionState::Stopping;
    if let Some(signal) = state.stop_signals.get(session_id) {
        signal.notify_one();
    }
    true
}

async fn event(inner: &Inner, session_id: &str, body: Value) {
    inner.client.report("event", format!("/sessions/{session_id}/events"), body).await;
}

/// The life of an accepted session, reporting each step as it happens.
async fn run(inner: Arc<Inner>, session_id: String, stop_signal: Arc<Notify>) {
    let reservation_used = inner.state.lock().sessions.get(&session_id).is_some_and(|s| s.from_reservation);
    if reservation_used {
        let body = json!({"type": "used", "at": rfc3339(Utc::now())});
        inner.client.report("reservation_event", format!("/reservations/{session_id}/events"), body).await;
    }
    tokio::time::sleep(inner.config.start_delay).await;
    let (fails, start) = {
        let mut state = inner.state.lock();
        let now = Utc::now().trunc_subsecs(0);
        let Some(session) = state.sessions.get_mut(&session_id) else { return };
        let fails = session.start_fails;
        if fails {
            session.state = SessionState::Failed;
            session.end_time = Some(now);
        } else {
            session.state = if session.stop_reason.is_some() { SessionState::Stopping } else { SessionState::Charging };
            session.start_time = Some(now);
        }
        let connector_id = session.connector_id.clone();
        let status = if fails { ConnectorStatus::Available } else { ConnectorStatus::Charging };
        inner.set_status(&mut state, &connector_id, status);
        (fails, now)
    };
    if fails {
        let body = json!({"type": "failed", "at": rfc3339(start), "reason": "other", "message": "the charger did not start (simulated failure)"});
        return event(&inner, &session_id, body).await;
    }
    event(&inner, &session_id, json!({"type": "started", "at": rfc3339(start)})).await;
    charge(&inner, &session_id, start, &stop_signal).await;
    finish(&inner, &session_id).await;
}

/// Whether the stop just asked for fails ([`super::Misbehaviour::stops_fail`], our user's stop
/// only): the session goes back to charging as if nothing was asked.
fn stop_failed(inner: &Inner, session_id: &str) -> bool {
    let mut state = inner.state.lock();
    let fails = state.misbehaviour.stops_fail;
    let Some(session) = state.sessions.get_mut(session_id) else { return false };
    if !fails || session.stop_reason.as_deref() != Some("user") {
        return false;
    }
    session.stop_reason = None;
    session.state = SessionState::Charging;
    true
}

/// Reports `charging` until a stop is signalled, the car is full or the time is up.
async fn charge(inner: &Inner, session_id: &str, start: DateTime<Utc>, stop_signal: &Notify) {
    let deadline = tokio::time::Instant::now() + inner.config.max_duration;
    loop {
        tokio::select! {
            _ = stop_signal.notified() => {
                if !stop_failed(inner, session_id) {
                    return;
                }
                let body = json!({"type": "stop_failed", "at": rfc3339(Utc::now()), "message": "the charger did not take the stop (simulated)"});
                event(inner, session_id, body).await;
                continue;
            }
            _ = tokio::time::sleep_until(deadline) => break,
            _ = tokio::time::sleep(inner.config.charging_interval) => {}
        }
        let (power, stopping) = match inner.state.lock().sessions.get(session_id) {
            Some(s) => (s.power_kw, s.stop_reason.is_some()),
            None => return,
        };
        if stopping {
            return;
        }
        // Whole seconds like every time we send, so progress never exceeds the record.
        let now = Utc::now().trunc_subsecs(0);
        let totals = billing::totals(&inner.config.tariff, power, start, now);
        let soc = soc(totals.energy_kwh);
        let body = json!({"type": "charging", "at": rfc3339(now), "energy_kwh": dp2(totals.energy_kwh), "cost": dp2(totals.total_money), "soc": soc});
        event(inner, session_id, body).await;
        if soc >= 100 {
            break;
        }
    }
    // Full or out of time: the car (its BMS) ends it.
    let mut state = inner.state.lock();
    if let Some(session) = state.sessions.get_mut(session_id).filter(|s| s.stop_reason.is_none()) {
        session.stop_reason = Some("bms".into());
        session.state = SessionState::Stopping;
    }
}

/// Stops the charger, reports `stopped` and then the charge record.
async fn finish(inner: &Inner, session_id: &str) {
    tokio::time::sleep(inner.config.start_delay).await;
    let record = {
        let mut state = inner.state.lock();
        let skew = if state.misbehaviour.unbalanced_records { Decimal::ONE } else { Decimal::ZERO };
        let Some(session) = state.sessions.get_mut(session_id) else { return };
        let start = session.start_time.unwrap_or_else(|| Utc::now().trunc_subsecs(0));
        // Times travel in whole seconds; a session stopped within its first second still lasts
        // one, so its record has a period.
        let end = Utc::now().trunc_subsecs(0).max(start + chrono::Duration::seconds(1));
        session.state = SessionState::Ended;
        session.end_time = Some(end);
        let reason = session.stop_reason.clone().unwrap_or_else(|| "user".into());
        let record = billing::charge_record(&inner.config.tariff, &session.connector_id, session.power_kw, start, end, &reason, skew);
        session.record = Some(record.clone());
        let connector_id = session.connector_id.clone();
        inner.set_status(&mut state, &connector_id, ConnectorStatus::Available);
        state.stop_signals.remove(session_id);
        record
    };
    let end = record["end"].clone();
    event(inner, session_id, json!({"type": "stopped", "at": end})).await;
    let path = format!("/sessions/{session_id}/charge-record");
    // The record is what gets the driver billed: retried until the platform takes it.
    let mut pause = std::time::Duration::from_millis(500);
    for attempt in 1..=8 {
        let report = inner.client.report("charge_record", path.clone(), record.clone()).await;
        if let Ok((status, answer)) = report.outcome {
            tracing::info!(%session_id, status, verdict = %answer["verdict"], "charge record sent");
            if let Some(session) = inner.state.lock().sessions.get_mut(session_id) {
                session.record_answer = Some((status, answer));
            }
            if status < 500 {
                return;
            }
        }
        if attempt < 8 {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_secs(60));
        }
    }
}

/// Ends a hold that nobody used in time and tells the platform.
async fn expire(inner: Arc<Inner>, reservation_id: String, after: std::time::Duration) {
    tokio::time::sleep(after).await;
    {
        let mut state = inner.state.lock();
        let Some(reservation) = state.reservations.get_mut(&reservation_id).filter(|r| r.state == ReservationState::Held) else { return };
        reservation.state = ReservationState::Expired;
        let connector_id = reservation.connector_id.clone();
        inner.set_status(&mut state, &connector_id, ConnectorStatus::Available);
    }
    let body = json!({"type": "expired", "at": rfc3339(Utc::now())});
    inner.client.report("reservation_event", format!("/reservations/{reservation_id}/events"), body).await;
}
