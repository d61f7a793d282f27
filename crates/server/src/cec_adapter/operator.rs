//! Flow B over T/CEC 102: partner platforms query our stations, status and prices, start and
//! stop their users' sessions on our piles, and — where their terms enable our extension —
//! reserve connectors (docs/cec-reservation-extension.md).

use async_trait::async_trait;
use cec::error::HandlerError;
use cec::messages::*;
use cec::server::{Caller, OperatorHandler};
use chrono::Utc;
use domain::geo::Coordinate;
use domain::station::{ConnectorStatus, NationalStandard};
use rust_decimal::Decimal;
use services::Services;
use services::open_network::VisibleStation;
use services::partner_sessions::{PartnerStart, PartnerStop, StartRefusal};
use services::pile_reservations::{CancelAnswer, ReserveFailure, ReserveOutcome};

use super::codes;
use super::errors::to_handler;
use super::notices;
use uuid::Uuid;

pub struct OperatorAdapter {
    pub services: Services,
}

fn partner_id(caller: &Caller) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(&caller.partner_ref).map_err(|_| HandlerError::Internal("caller without a partner id".into()))
}

fn dec(value: f64, dp: u32) -> Decimal {
    Decimal::try_from(value).unwrap_or_default().round_dp(dp)
}

/// `reservations`: whether the partner's terms enable our reservation extension; only then is a
/// station advertised with `SupportOrder 1` (a partner without it would be refused the calls).
fn station_info(services: &Services, visible: &VisibleStation, reservations: bool) -> StationInfo {
    let s = &visible.station;
    // Chinese partners' maps use GCJ-02; we store WGS-84.
    let gcj = Coordinate::new(s.lat, s.lng).map(|c| c.to_gcj02()).ok();
    let operator = services.settings.our_operator_id.clone();
    StationInfo {
        station_id: s.external_id.clone(),
        operator_id: operator.clone(),
        equipment_owner_id: operator,
        station_name: s.name.clone(),
        country_code: "CN".into(),
        area_code: s.area_code.clone(),
        address: s.address.clone(),
        station_tel: None,
        service_tel: s.service_tel.clone(),
        station_type: codes::station_type_code(s.station_type),
        station_status: codes::station_status_code(s.station_status),
        park_nums: 0,
        station_lng: dec(gcj.map_or(s.lng, |g| g.lng()), 6).into(),
        station_lat: dec(gcj.map_or(s.lat, |g| g.lat()), 6).into(),
        site_guide: None,
        construction: 255,
        pictures: vec![],
        match_cars: None,
        park_info: None,
        busine_hours: s.business_hours.clone(),
        electricity_fee: None,
        service_fee: None,
        park_fee: None,
        payment: Some("线上".into()),
        support_order: Some(i64::from(reservations)),
        remark: None,
        equipment_infos: visible
            .equipment
            .iter()
            .map(|(e, connectors)| EquipmentInfo {
                equipment_id: e.external_id.clone(),
                manufacturer_id: None,
                manufacturer_name: None,
                equipment_model: None,
                production_date: None,
                equipment_type: codes::equipment_type_code(e.equipment_type),
                connector_infos: connectors
                    .iter()
                    .map(|c| {
                        let power: Decimal = c.power_kw.parse().unwrap_or_default();
                        let dc = c.connector_type.is_dc();
                        let (upper, lower) = if dc { (750, 200) } else { (220, 220) };
                        ConnectorInfo {
                            connector_id: c.external_id.clone(),
                            connector_name: None,
                            connector_type: codes::connector_type_code(c.connector_type),
                            voltage_upper_limits: upper,
                            voltage_lower_limits: lower,
                            current: if dc { 250 } else { 32 },
                            power: power.into(),
                            park_no: None,
                            // We do not record the edition: written as the current one.
                            national_standard: codes::national_standard_code(NationalStandard::Unspecified),
                        }
                    })
                    .collect(),
                equipment_lng: None,
                equipment_lat: None,
                power: e.power_kw.parse::<Decimal>().unwrap_or_default().into(),
                equipment_name: None,
            })
            .collect(),
    }
}

/// The extension's `query_reserve` FailReason.
fn reserve_fail_reason(failure: Option<ReserveFailure>) -> i64 {
    match failure {
        None => 0,
        Some(ReserveFailure::UnknownConnector) => 1,
        Some(ReserveFailure::Offline) => 2,
        Some(ReserveFailure::NotFree) => 3,
        Some(ReserveFailure::NotSupported) => 4,
    }
}

#[async_trait]
impl OperatorHandler for OperatorAdapter {
    async fn query_stations_info(&self, caller: &Caller, req: QueryStationsInfo) -> Result<QueryStationsInfoResponse, HandlerError> {
        let page = req.page_no.unwrap_or(1);
        let size = req.page_size.unwrap_or(10);
        let partner = partner_id(caller)?;
        let (total, stations) = self.services.visible_stations(partner, req.last_query_time, page, size).await.map_err(to_handler)?;
        let reservations = self.services.partner_terms(partner).await.map_err(to_handler)?.open.reservations;
        Ok(QueryStationsInfoResponse {
            page_no: page,
            page_count: (total + size - 1) / size,
            item_size: total,
            station_infos: stations.iter().map(|s| station_info(&self.services, s, reservations)).collect(),
        })
    }

    async fn query_station_status(&self, caller: &Caller, req: QueryStationStatus) -> Result<QueryStationStatusResponse, HandlerError> {
        let partner = partner_id(caller)?;
        let mut infos = Vec::new();
        for id in &req.station_ids {
            // Stations the partner may not see are left out, as if they did not exist.
            let Some(visible) = self.services.visible_station(partner, id).await.map_err(to_handler)? else { continue };
            infos.push(StationStatusInfo {
                station_id: id.clone(),
                connector_status_infos: visible
                    .equipment
                    .iter()
                    .flat_map(|(_, cs)| cs)
                    .map(|c| ConnectorStatusInfo {
                        connector_id: c.external_id.clone(),
                        status: codes::connector_status_code(self.services.own_connector_status(c.id)),
                        park_status: None,
                        lock_status: None,
                    })
                    .collect(),
            });
        }
        Ok(QueryStationStatusResponse { total: infos.len() as i64, station_status_infos: infos })
    }

    async fn query_station_stats(&self, caller: &Caller, req: QueryStationStats) -> Result<QueryStationStatsResponse, HandlerError> {
        let visible = self.services.visible_station(partner_id(caller)?, &req.station_id).await.map_err(to_handler)?;
        let visible = visible.ok_or_else(|| HandlerError::BadParameter(format!("StationID {} 不存在 / unknown station", req.station_id)))?;
        // StartTime/EndTime are Beijing calendar days, both included.
        let midnight = |day: chrono::NaiveDate| {
            use chrono::TimeZone;
            domain::tariff::beijing().from_local_datetime(&day.and_time(chrono::NaiveTime::MIN)).single().map(|t| t.to_utc())
        };
        let (Some(start), Some(end)) = (midnight(req.start_time), req.end_time.succ_opt().and_then(midnight)) else {
            return Err(HandlerError::BadParameter("StartTime / EndTime 无效 / invalid dates".into()));
        };
        if end <= start {
            return Err(HandlerError::BadParameter("EndTime 早于 StartTime / EndTime is before StartTime".into()));
        }
        let energy = self.services.station_energy(&visible, start, end).await.map_err(to_handler)?;
        let of = |c: &store::catalog::ConnectorRow| energy.get(&c.id).copied().unwrap_or_default();
        let equipment_stats_infos: Vec<EquipmentStatsInfo> = visible
            .equipment
            .iter()
            .map(|(e, cs)| EquipmentStatsInfo {
                equipment_id: e.external_id.clone(),
                equipment_electricity: cs.iter().map(of).sum::<Decimal>().into(),
                connector_stats_infos: cs
                    .iter()
                    .map(|c| ConnectorStatsInfo { connector_id: c.external_id.clone(), connector_electricity: of(c).into() })
                    .collect(),
            })
            .collect();
        Ok(QueryStationStatsResponse {
            station_stats: StationStatsInfo {
                station_id: req.station_id,
                start_time: req.start_time,
                end_time: req.end_time,
                station_electricity: energy.values().copied().sum::<Decimal>().into(),
                equipment_stats_infos,
            },
        })
    }

    async fn query_equip_auth(&self, caller: &Caller, req: QueryEquipAuth) -> Result<QueryEquipAuthResponse, HandlerError> {
        // §6.3 FailReason: 1 gun not plugged in, 2 device check failed (unknown, offline, faulted or busy).
        let readiness = self.services.partner_connector_readiness(partner_id(caller)?, &req.connector_id).await.map_err(to_handler)?;
        let fail_reason = match readiness {
            Some(ConnectorStatus::Occupied) => 0,
            Some(ConnectorStatus::Available) => 1,
            _ => 2,
        };
        Ok(QueryEquipAuthResponse {
            equip_auth_seq: req.equip_auth_seq,
            connector_id: req.connector_id,
            succ_stat: if fail_reason == 0 { SuccStat::Success } else { SuccStat::Failure },
            fail_reason,
        })
    }

    async fn query_equip_business_policy(&self, caller: &Caller, req: QueryEquipBusinessPolicy) -> Result<QueryEquipBusinessPolicyResponse, HandlerError> {
        let partner = partner_id(caller)?;
        // Our connector → its station → whether this partner may see it.
        let station_ext =
            self.services.connector_by_external(None, &req.connector_id).and_then(|(_, station)| self.services.station_summary(station)).map(|s| s.external_id);
        let station = match station_ext {
            Some(ext) => self.services.visible_station(partner, &ext).await.map_err(to_handler)?,
            None => None,
        };
        let tariff = match &station {
            Some(v) => self.services.partner_tariff(partner, &v.station).await.map_err(to_handler)?,
            None => None,
        };
        let Some(tariff) = tariff else {
            return Ok(QueryEquipBusinessPolicyResponse {
                equip_biz_seq: req.equip_biz_seq,
                connector_id: req.connector_id,
                succ_stat: SuccStat::Failure,
                fail_reason: 1,
                sum_period: 0,
                policy_infos: vec![],
            });
        };
        let policy_infos: Vec<PolicyInfo> = tariff
            .periods()
            .iter()
            .map(|p| PolicyInfo { start_time: p.start.hhmmss(), elec_price: p.elec_price.value().into(), sevice_price: p.service_price.value().into() })
            .collect();
        Ok(QueryEquipBusinessPolicyResponse {
            equip_biz_seq: req.equip_biz_seq,
            connector_id: req.connector_id,
            succ_stat: SuccStat::Success,
            fail_reason: 0,
            sum_period: policy_infos.len() as i64,
            policy_infos,
        })
    }

    async fn query_start_charge(&self, caller: &Caller, req: QueryStartCharge) -> Result<QueryStartChargeResponse, HandlerError> {
        let answer = self.services.partner_start(partner_id(caller)?, req.start_charge_seq.as_str(), &req.connector_id).await.map_err(to_handler)?;
        let (stat, succ, fail_reason) = match answer {
            PartnerStart::Accepted(order) => (notices::seq_stat(order.state), SuccStat::Success, 0),
            // §6.5 FailReason: 1 no such device, 2 device offline; 3 (ours) connector not free.
            PartnerStart::Refused(StartRefusal::UnknownConnector) => (StartChargeSeqStat::Ended, SuccStat::Failure, 1),
            PartnerStart::Refused(StartRefusal::PileOffline) => (StartChargeSeqStat::Ended, SuccStat::Failure, 2),
            PartnerStart::Refused(StartRefusal::ConnectorBusy(_)) => (StartChargeSeqStat::Ended, SuccStat::Failure, 3),
        };
        Ok(QueryStartChargeResponse {
            start_charge_seq: req.start_charge_seq,
            start_charge_seq_stat: stat,
            connector_id: req.connector_id,
            succ_stat: succ,
            fail_reason,
        })
    }

    async fn query_equip_charge_status(&self, caller: &Caller, req: QueryEquipChargeStatus) -> Result<ChargeStatus, HandlerError> {
        let now = Utc::now();
        match self.services.partner_session(partner_id(caller)?, req.start_charge_seq.as_str()).await.map_err(to_handler)? {
            Some((order, notice)) => Ok(notices::charge_status(&notice, self.services.own_connector_status(order.connector_id), now)),
            // A sequence we never saw (or another partner's): StartChargeSeqStat 5, unknown.
            None => Ok(ChargeStatus::unknown(req.start_charge_seq, now)),
        }
    }

    async fn query_stop_charge(&self, caller: &Caller, req: QueryStopCharge) -> Result<QueryStopChargeResponse, HandlerError> {
        let answer = self.services.partner_stop(partner_id(caller)?, req.start_charge_seq.as_str()).await.map_err(to_handler)?;
        // §6.7 FailReason: 1 no such device, 2 device offline, 3 already stopped.
        let (stat, succ, fail_reason) = match answer {
            PartnerStop::Accepted(order) => (notices::seq_stat(order.state), SuccStat::Success, 0),
            PartnerStop::AlreadyStopped(order) => (notices::seq_stat(order.state), SuccStat::Failure, 3),
            PartnerStop::PileOffline(order) => (notices::seq_stat(order.state), SuccStat::Failure, 2),
        };
        Ok(QueryStopChargeResponse { start_charge_seq: req.start_charge_seq, start_charge_seq_stat: stat, succ_stat: succ, fail_reason })
    }

    async fn query_reserve(&self, caller: &Caller, req: QueryReserve) -> Result<QueryReserveResponse, HandlerError> {
        if req.reserve_seq.creator() != caller.operator_id {
            return Err(HandlerError::BadParameter("ReserveSeq 须以调用方 OperatorID 开头 / ReserveSeq must start with the caller's OperatorID".into()));
        }
        let answer = self.services.partner_reserve(partner_id(caller)?, req.reserve_seq.as_str(), &req.connector_id, req.minutes).await.map_err(to_handler)?;
        Ok(QueryReserveResponse {
            reserve_seq: req.reserve_seq,
            connector_id: req.connector_id,
            succ_stat: if answer.outcome == ReserveOutcome::Failed { SuccStat::Failure } else { SuccStat::Success },
            reserve_seq_stat: notices::reserve_stat(answer.outcome),
            expire_time: answer.expires_at,
            fail_reason: reserve_fail_reason(answer.failure),
        })
    }

    async fn query_cancel_reserve(&self, caller: &Caller, req: QueryCancelReserve) -> Result<QueryCancelReserveResponse, HandlerError> {
        let answer = self.services.partner_cancel_reserve(partner_id(caller)?, req.reserve_seq.as_str(), &req.connector_id).await.map_err(to_handler)?;
        // FailReason: 1 no such reservation, 2 already ended.
        let (succ_stat, reserve_seq_stat, fail_reason) = match answer {
            CancelAnswer::Cancelled => (SuccStat::Success, ReserveSeqStat::Cancelled, 0),
            CancelAnswer::NoSuchReservation => (SuccStat::Failure, ReserveSeqStat::Failed, 1),
            CancelAnswer::AlreadyEnded(outcome) => (SuccStat::Failure, notices::reserve_stat(outcome), 2),
        };
        Ok(QueryCancelReserveResponse { reserve_seq: req.reserve_seq, succ_stat, reserve_seq_stat, fail_reason })
    }
}
