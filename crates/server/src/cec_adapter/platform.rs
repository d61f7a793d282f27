//! Flow A, the partner calling us: its T/CEC 102 notifications handed to the services.

use async_trait::async_trait;
use cec::error::HandlerError;
use cec::messages::*;
use cec::server::{Caller, PlatformHandler};
use domain::money::{AmountError, Energy, Money, UnitPrice};
use domain::settlement::LedgerEntry;
use domain::tariff::{PartnerDetail, PartnerTotals};
use services::Services;
use services::charging::{PartnerChargeOrder, RecordVerdict};
use services::reservations::ReservationEnd;
use uuid::Uuid;

use super::codes;
use super::errors::to_handler;

pub struct PlatformAdapter {
    pub services: Services,
}

fn partner_id(caller: &Caller) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(&caller.partner_ref).map_err(|_| HandlerError::Internal("caller without a partner id".into()))
}

/// Figures from a partner are bounded per session here, at the edge (`domain::money`'s
/// maxima): a record beyond them is refused with 4004 and changes nothing.
fn bad_figure(field: &str, e: AmountError) -> HandlerError {
    HandlerError::BadParameter(format!("{field}: {} / {e}", e.message_zh()))
}

fn money(field: &str, m: Money2) -> Result<Money, HandlerError> {
    Money::session(m.value()).map_err(|e| bad_figure(field, e))
}

fn energy(field: &str, e: Energy2) -> Result<Energy, HandlerError> {
    Energy::session(e.value()).map_err(|e| bad_figure(field, e))
}

fn price(field: &str, p: Price4) -> Result<UnitPrice, HandlerError> {
    UnitPrice::bounded(p.value()).map_err(|e| bad_figure(field, e))
}

#[async_trait]
impl PlatformHandler for PlatformAdapter {
    async fn notification_station_status(&self, caller: &Caller, req: NotificationStationStatus) -> Result<NotificationStationStatusResponse, HandlerError> {
        let info = req.connector_status_info;
        let partner = partner_id(caller)?;
        // Status comes from operators only, and each reaches only its own connectors.
        self.services.require_operator(partner).await.map_err(to_handler)?;
        let known = self.services.report_status(Some(partner), &info.connector_id, codes::connector_status(info.status), self.services.now());
        // Status 1: discarded (a connector we do not know yet); the partner must not retry.
        Ok(NotificationStationStatusResponse { status: if known { 0 } else { 1 } })
    }

    async fn notification_start_charge_result(
        &self,
        caller: &Caller,
        req: NotificationStartChargeResult,
    ) -> Result<NotificationStartChargeResultResponse, HandlerError> {
        let success = req.start_charge_seq_stat == StartChargeSeqStat::Charging;
        // A start that did not reach "charging" reads its state code as a start FailReason.
        let failure = (!success).then(|| codes::start_failure(req.start_charge_seq_stat.code(), None));
        self.services.on_start_result(partner_id(caller)?, req.start_charge_seq.as_str(), failure).await.map_err(to_handler)?;
        Ok(NotificationStartChargeResultResponse { start_charge_seq: req.start_charge_seq, succ_stat: SuccStat::Success, fail_reason: 0 })
    }

    async fn notification_equip_charge_status(&self, caller: &Caller, req: ChargeStatus) -> Result<NotificationEquipChargeStatusResponse, HandlerError> {
        self.services
            .on_charge_status(
                partner_id(caller)?,
                req.start_charge_seq.as_str(),
                codes::remote_state(req.start_charge_seq_stat),
                Some(energy("TotalPower", req.total_power)?.value()),
                req.total_money.map(|m| money("TotalMoney", m)).transpose()?.map(Money::yuan),
                Some(req.soc.value()),
            )
            .await
            .map_err(to_handler)?;
        Ok(NotificationEquipChargeStatusResponse { start_charge_seq: req.start_charge_seq, succ_stat: SuccStat::Success })
    }

    async fn notification_stop_charge_result(
        &self,
        caller: &Caller,
        req: NotificationStopChargeResult,
    ) -> Result<NotificationStopChargeResultResponse, HandlerError> {
        self.services.on_stop_result(partner_id(caller)?, req.start_charge_seq.as_str(), req.succ_stat == SuccStat::Success).await.map_err(to_handler)?;
        Ok(NotificationStopChargeResultResponse { start_charge_seq: req.start_charge_seq, succ_stat: SuccStat::Success, fail_reason: 0 })
    }

    async fn notification_charge_order_info(&self, caller: &Caller, req: ChargeOrderInfo) -> Result<ChargeOrderInfoResponse, HandlerError> {
        let details = req
            .charge_details
            .iter()
            .map(|d| {
                Ok(PartnerDetail {
                    start: d.detail_start_time,
                    end: d.detail_end_time,
                    energy: energy("DetailPower", d.detail_power)?,
                    elec_price: price("ElecPrice", d.elec_price)?,
                    service_price: price("SevicePrice", d.sevice_price)?,
                    elec_money: money("DetailElecMoney", d.detail_elec_money)?,
                    service_money: money("DetailSeviceMoney", d.detail_sevice_money)?,
                })
            })
            .collect::<Result<Vec<_>, HandlerError>>()?;
        let record = PartnerChargeOrder {
            seq: req.start_charge_seq.as_str().into(),
            connector_external_id: req.connector_id.clone(),
            start: req.start_time,
            end: req.end_time,
            totals: PartnerTotals {
                total_energy: energy("TotalPower", req.total_power)?,
                total_elec: money("TotalElecMoney", req.total_elec_money)?,
                total_service: money("TotalSeviceMoney", req.total_sevice_money)?,
                total: money("TotalMoney", req.total_money)?,
            },
            details,
            stop_reason: codes::stop_reason(req.stop_reason),
        };
        let verdict = self.services.on_charge_order(partner_id(caller)?, record).await.map_err(to_handler)?;
        Ok(ChargeOrderInfoResponse {
            start_charge_seq: req.start_charge_seq,
            connector_id: req.connector_id,
            confirm_result: if verdict == RecordVerdict::Accepted { 0 } else { 1 },
        })
    }

    async fn check_charge_orders(&self, caller: &Caller, req: CheckChargeOrders) -> Result<CheckChargeOrdersResponse, HandlerError> {
        let listed: Vec<LedgerEntry> = req
            .charge_orders
            .iter()
            .map(|o| {
                let energy = energy("TotalPower", o.total_power)?;
                Ok(LedgerEntry { order: o.start_charge_seq.as_str().into(), energy, amount: money("TotalMoney", o.total_money)? })
            })
            .collect::<Result<_, HandlerError>>()?;
        let disputes = self.services.reconcile_listed_orders(partner_id(caller)?, &listed).await.map_err(to_handler)?;
        let dispute_orders: Vec<DisputeOrder> = disputes
            .iter()
            .map(|d| DisputeOrder {
                start_charge_seq: Seq27(d.seq.clone()),
                total_power: d.energy.value().into(),
                total_money: d.money.yuan().into(),
                dispute_reason: codes::dispute_reason(d.kind),
            })
            .collect();
        Ok(CheckChargeOrdersResponse {
            check_order_seq: req.check_order_seq,
            start_time: req.start_time,
            end_time: req.end_time,
            total_dispute_order: dispute_orders.len() as i64,
            total_dispute_power: disputes.iter().map(|d| d.energy.value()).sum::<rust_decimal::Decimal>().into(),
            total_dispute_money: disputes.iter().map(|d| d.money.yuan()).sum::<rust_decimal::Decimal>().into(),
            dispute_orders,
        })
    }

    async fn notification_reserve_result(&self, caller: &Caller, req: NotificationReserveResult) -> Result<NotificationReserveResultResponse, HandlerError> {
        let end = match req.reserve_seq_stat {
            ReserveSeqStat::Expired => ReservationEnd::Expired,
            ReserveSeqStat::Used => ReservationEnd::Used,
            ReserveSeqStat::Cancelled => ReservationEnd::Cancelled,
            ReserveSeqStat::Failed => ReservationEnd::Failed,
            ReserveSeqStat::Reserved | ReserveSeqStat::Other(_) => {
                return Err(HandlerError::BadParameter(format!(
                    "ReserveSeqStat {} is not how a reservation ends / 预约结果状态无效",
                    req.reserve_seq_stat.code()
                )));
            }
        };
        self.services.on_reserve_result(partner_id(caller)?, req.reserve_seq.as_str(), end, req.end_time).await.map_err(to_handler)?;
        Ok(NotificationReserveResultResponse { reserve_seq: req.reserve_seq, succ_stat: SuccStat::Success })
    }
}
