//! Flow-B session and reservation notices (protocol-neutral, from the outbox or a query) in
//! T/CEC 102 terms.

use cec::messages::*;
use chrono::{DateTime, Utc};
use domain::order::OrderState;
use domain::station::ConnectorStatus;
use rust_decimal::Decimal;
use services::partner_sessions::SessionNotice;
use services::pile_reservations::{ReserveNotice, ReserveOutcome};

pub fn seq_stat(state: OrderState) -> StartChargeSeqStat {
    match state {
        OrderState::Created | OrderState::Starting => StartChargeSeqStat::Starting,
        OrderState::Charging => StartChargeSeqStat::Charging,
        OrderState::Stopping => StartChargeSeqStat::Stopping,
        OrderState::UnknownOutcome => StartChargeSeqStat::Unknown,
        _ => StartChargeSeqStat::Ended,
    }
}

fn seq(notice: &SessionNotice) -> Seq27 {
    Seq27(notice.seq.clone())
}

fn money(value: Decimal) -> Option<Money2> {
    Some(value.into())
}

pub fn start_result(notice: &SessionNotice) -> NotificationStartChargeResult {
    NotificationStartChargeResult {
        start_charge_seq: seq(notice),
        // A failed start is reported as ended: the partner's order closes without charging.
        start_charge_seq_stat: if notice.success { StartChargeSeqStat::Charging } else { StartChargeSeqStat::Ended },
        connector_id: notice.connector.clone(),
        start_time: notice.started_at.unwrap_or(notice.at),
    }
}

pub fn stop_result(notice: &SessionNotice) -> NotificationStopChargeResult {
    NotificationStopChargeResult {
        start_charge_seq: seq(notice),
        start_charge_seq_stat: if notice.success { StartChargeSeqStat::Ended } else { seq_stat(notice.state) },
        connector_id: notice.connector.clone(),
        succ_stat: if notice.success { SuccStat::Success } else { SuccStat::Failure },
        fail_reason: if notice.success { 0 } else { 4 },
    }
}

/// Our piles report energy, not currents and voltages: those stay at the zero values
/// [`ChargeStatus::unknown`] gives them.
pub fn charge_status(notice: &SessionNotice, connector: ConnectorStatus, now: DateTime<Utc>) -> ChargeStatus {
    ChargeStatus {
        start_charge_seq_stat: seq_stat(notice.state),
        connector_id: notice.connector.clone(),
        connector_status: super::codes::connector_status_code(connector),
        start_time: notice.started_at.unwrap_or(notice.at),
        total_power: notice.energy_kwh.into(),
        elec_money: money(notice.elec_money),
        sevice_money: money(notice.service_money),
        total_money: money(notice.total_money),
        ..ChargeStatus::unknown(seq(notice), now)
    }
}

pub fn charge_order(notice: &SessionNotice) -> ChargeOrderInfo {
    let details: Vec<ChargeDetail> = notice
        .lines
        .iter()
        .map(|l| ChargeDetail {
            detail_start_time: l.start,
            detail_end_time: l.end,
            elec_price: l.elec_price.value().into(),
            sevice_price: l.service_price.value().into(),
            detail_power: l.energy.value().into(),
            detail_elec_money: l.elec_money.yuan().into(),
            detail_sevice_money: l.service_money.yuan().into(),
        })
        .collect();
    ChargeOrderInfo {
        start_charge_seq: seq(notice),
        connector_id: notice.connector.clone(),
        start_time: notice.started_at.unwrap_or(notice.at),
        end_time: notice.lines.last().map_or(notice.at, |l| l.end),
        total_power: notice.energy_kwh.into(),
        total_elec_money: notice.elec_money.into(),
        total_sevice_money: notice.service_money.into(),
        total_money: notice.total_money.into(),
        stop_reason: notice.stop_reason.map_or(StopReason::User, super::codes::stop_reason_code),
        sum_period: Some(details.len() as i64),
        charge_details: details,
    }
}

/// How a reservation ended, in the extension's `notification_reserve_result`.
pub fn reserve_result(notice: &ReserveNotice) -> NotificationReserveResult {
    NotificationReserveResult {
        reserve_seq: Seq27(notice.seq.clone()),
        connector_id: notice.connector.clone(),
        reserve_seq_stat: reserve_stat(notice.outcome),
        end_time: notice.at,
    }
}

/// The extension's ReserveSeqStat.
pub fn reserve_stat(outcome: ReserveOutcome) -> ReserveSeqStat {
    match outcome {
        ReserveOutcome::Reserved => ReserveSeqStat::Reserved,
        ReserveOutcome::Cancelled => ReserveSeqStat::Cancelled,
        ReserveOutcome::Expired => ReserveSeqStat::Expired,
        ReserveOutcome::Used => ReserveSeqStat::Used,
        ReserveOutcome::Failed => ReserveSeqStat::Failed,
    }
}
