//! The interfaces the simulated operator serves (`query_*`) and who may call them.
//!
//! Envelope, token, signature and field-level checks are done by `cec::server` before these
//! run; here only business answers are decided. Commands are idempotent on their sequence
//! numbers because a platform that timed out will ask again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cec::error::HandlerError;
use cec::messages::*;
use cec::server::{Caller, OperatorHandler};
use rust_decimal::Decimal;

use super::data::policy_infos;
use super::sessions::{self, charge_status};
use super::{Inner, ReservationInfo, SessionInfo, State};

/// Custom `query_start_charge` / `query_reserve` FailReason: the connector is occupied
/// (charging, starting or held for someone else).
pub const FAIL_OCCUPIED: i64 = 3;
/// Custom `query_start_charge` FailReason: the connector reports a fault.
pub const FAIL_FAULT: i64 = 4;
/// Custom `query_stop_charge` FailReason: the session is still starting.
pub const FAIL_STILL_STARTING: i64 = 4;
/// `query_stop_charge` FailReason: already stopped (standard).
pub const FAIL_ALREADY_STOPPED: i64 = 3;

pub(crate) struct Handler {
    pub inner: Arc<Inner>,
}

fn energy1(d: Decimal) -> Fixed<1> {
    d.round_dp(1).into()
}

/// Why a connector cannot take a new start or reservation for `caller`, as a FailReason; the
/// reservation it may consume otherwise.
fn connector_refusal(state: &State, connector_id: &str, caller: &str) -> Result<Option<usize>, i64> {
    let Some(connector) = state.connectors.get(connector_id) else { return Err(1) };
    let busy = state.sessions.values().any(|s| {
        s.connector_id == connector_id && matches!(s.stat, StartChargeSeqStat::Starting | StartChargeSeqStat::Charging | StartChargeSeqStat::Stopping)
    });
    if busy {
        return Err(FAIL_OCCUPIED);
    }
    match connector.status {
        ConnectorStatusCode::Offline => Err(2),
        ConnectorStatusCode::Fault => Err(FAIL_FAULT),
        ConnectorStatusCode::Idle | ConnectorStatusCode::OccupiedNotCharging => Ok(None),
        ConnectorStatusCode::Reserved => state
            .reservations
            .iter()
            .position(|r| r.connector_id == connector_id && r.stat == ReserveSeqStat::Reserved && r.reserved_by == caller)
            .map(Some)
            .ok_or(FAIL_OCCUPIED),
        _ => Err(FAIL_OCCUPIED),
    }
}

#[async_trait]
impl OperatorHandler for Handler {
    async fn query_stations_info(&self, _caller: &Caller, req: QueryStationsInfo) -> Result<QueryStationsInfoResponse, HandlerError> {
        let page_size = req.page_size.unwrap_or(10).clamp(1, self.inner.config.max_page_size.max(1));
        let page_no = req.page_no.unwrap_or(1).max(1);
        let state = self.inner.lock();
        // LastQueryTime arrives with whole seconds, so a change within the same second is sent
        // again (`>=`): a repeat is harmless to an upsert, a miss is not.
        let matching: Vec<&StationInfo> =
            state.stations.iter().filter(|s| req.last_query_time.is_none_or(|since| s.updated_at >= since)).map(|s| &s.info).collect();
        let item_size = matching.len() as i64;
        let page_count = (item_size + page_size - 1) / page_size;
        let station_infos = matching.into_iter().skip(((page_no - 1) * page_size) as usize).take(page_size as usize).cloned().collect();
        Ok(QueryStationsInfoResponse { page_no, page_count, item_size, station_infos })
    }

    async fn query_station_status(&self, _caller: &Caller, req: QueryStationStatus) -> Result<QueryStationStatusResponse, HandlerError> {
        let state = self.inner.lock();
        let mut infos = Vec::new();
        for id in &req.station_ids {
            if !state.stations.iter().any(|s| &s.info.station_id == id) || infos.iter().any(|i: &StationStatusInfo| &i.station_id == id) {
                continue;
            }
            let connector_status_infos = state
                .connectors
                .values()
                .filter(|c| &c.spec.station_id == id)
                .map(|c| ConnectorStatusInfo { connector_id: c.spec.connector_id.clone(), status: c.status, park_status: None, lock_status: None })
                .collect();
            infos.push(StationStatusInfo { station_id: id.clone(), connector_status_infos });
        }
        Ok(QueryStationStatusResponse { total: infos.len() as i64, station_status_infos: infos })
    }

    async fn query_station_stats(&self, _caller: &Caller, req: QueryStationStats) -> Result<QueryStationStatsResponse, HandlerError> {
        let state = self.inner.lock();
        if !state.stations.iter().any(|s| s.info.station_id == req.station_id) {
            return Err(HandlerError::BadParameter(format!("StationID {} 不存在 / no such station", req.station_id)));
        }
        // Energy of the orders that ended within the (Beijing) dates, per connector.
        let mut per_connector: BTreeMap<&str, Decimal> = BTreeMap::new();
        for order in &state.orders {
            let day = cec::time::beijing_date(order.end_time);
            if day >= req.start_time && day <= req.end_time {
                *per_connector.entry(order.connector_id.as_str()).or_default() += order.total_power.value();
            }
        }
        let mut equipment: BTreeMap<&str, Vec<ConnectorStatsInfo>> = BTreeMap::new();
        for c in state.connectors.values().filter(|c| c.spec.station_id == req.station_id) {
            let energy = per_connector.get(c.spec.connector_id.as_str()).copied().unwrap_or_default();
            equipment
                .entry(c.spec.equipment_id.as_str())
                .or_default()
                .push(ConnectorStatsInfo { connector_id: c.spec.connector_id.clone(), connector_electricity: energy1(energy) });
        }
        // Upper levels are sums of the rounded lower levels, so the figures add up.
        let equipment_stats_infos: Vec<EquipmentStatsInfo> = equipment
            .into_iter()
            .map(|(id, connectors)| EquipmentStatsInfo {
                equipment_id: id.to_owned(),
                equipment_electricity: connectors.iter().map(|c| c.connector_electricity.value()).sum::<Decimal>().into(),
                connector_stats_infos: connectors,
            })
            .collect();
        let station_electricity = equipment_stats_infos.iter().map(|e| e.equipment_electricity.value()).sum::<Decimal>().into();
        Ok(QueryStationStatsResponse {
            station_stats: StationStatsInfo {
                station_id: req.station_id,
                start_time: req.start_time,
                end_time: req.end_time,
                station_electricity,
                equipment_stats_infos,
            },
        })
    }

    async fn query_equip_auth(&self, caller: &Caller, req: QueryEquipAuth) -> Result<QueryEquipAuthResponse, HandlerError> {
        let state = self.inner.lock();
        // 2 "device check failed" for anything that cannot charge now; custom 3 for occupied.
        let fail_reason = match connector_refusal(&state, &req.connector_id, &caller.operator_id) {
            Ok(_) => 0,
            Err(FAIL_OCCUPIED) => FAIL_OCCUPIED,
            Err(_) => 2,
        };
        let succ_stat = if fail_reason == 0 { SuccStat::Success } else { SuccStat::Failure };
        Ok(QueryEquipAuthResponse { equip_auth_seq: req.equip_auth_seq, connector_id: req.connector_id, succ_stat, fail_reason })
    }

    async fn query_equip_business_policy(&self, _caller: &Caller, req: QueryEquipBusinessPolicy) -> Result<QueryEquipBusinessPolicyResponse, HandlerError> {
        let (known, policies) = {
            let state = self.inner.lock();
            let known = state.connectors.contains_key(&req.connector_id);
            (known, if known { policy_infos(state.tariff_at(&self.inner.config, &req.connector_id)) } else { Vec::new() })
        };
        Ok(QueryEquipBusinessPolicyResponse {
            equip_biz_seq: req.equip_biz_seq,
            connector_id: req.connector_id,
            succ_stat: if known { SuccStat::Success } else { SuccStat::Failure },
            fail_reason: if known { 0 } else { 1 },
            sum_period: policies.len() as i64,
            policy_infos: policies,
        })
    }

    async fn query_start_charge(&self, caller: &Caller, req: QueryStartCharge) -> Result<QueryStartChargeResponse, HandlerError> {
        let inner = &self.inner;
        let key = req.start_charge_seq.0.clone();
        let (reply, used) = {
            let mut state = inner.lock();
            // The same StartChargeSeq again gets the first answer, whatever happened since.
            if let Some(reply) = state.start_replies.get(&key) {
                return Ok(reply.clone());
            }
            let mut reply = QueryStartChargeResponse {
                start_charge_seq: req.start_charge_seq.clone(),
                start_charge_seq_stat: StartChargeSeqStat::Starting,
                connector_id: req.connector_id.clone(),
                succ_stat: SuccStat::Success,
                fail_reason: 0,
            };
            let mut used = None;
            match connector_refusal(&state, &req.connector_id, &caller.operator_id) {
                Err(reason) => {
                    reply.succ_stat = SuccStat::Failure;
                    reply.start_charge_seq_stat = StartChargeSeqStat::Unknown;
                    reply.fail_reason = reason;
                }
                Ok(reservation) => {
                    if let Some(i) = reservation {
                        let r = &mut state.reservations[i];
                        r.stat = ReserveSeqStat::Used;
                        used = Some(r.clone());
                    }
                    let start_fails = state.rng.chance(inner.config.failure_rate);
                    // Cars rarely draw the rated power: 60–95 % of it, from the seed.
                    let share = Decimal::from(60 + state.rng.below(36) as i64) / Decimal::from(100);
                    let rated = state.connectors[&req.connector_id].spec.power_kw;
                    let session = SessionInfo {
                        start_charge_seq: req.start_charge_seq.clone(),
                        connector_id: req.connector_id.clone(),
                        started_by: caller.operator_id.clone(),
                        stat: StartChargeSeqStat::Starting,
                        power_kw: (rated * share).round_dp(1),
                        accepted_at: inner.clock.now(),
                        start_time: None,
                        end_time: None,
                        stop_reason: None,
                        start_fails,
                    };
                    state.sessions.insert(key.clone(), session);
                    state.session_order.push(key.clone());
                }
            }
            state.start_replies.insert(key.clone(), reply.clone());
            (reply, used)
        };
        if reply.succ_stat == SuccStat::Success {
            if let Some(reservation) = used {
                inner.spawn(sessions::reservation_used(inner.clone(), reservation));
            }
            inner.spawn(sessions::run(inner.clone(), key));
        }
        Ok(reply)
    }

    async fn query_equip_charge_status(&self, caller: &Caller, req: QueryEquipChargeStatus) -> Result<ChargeStatus, HandlerError> {
        let state = self.inner.lock();
        let now = self.inner.clock.now();
        let mine = state.sessions.get(req.start_charge_seq.as_str()).is_some_and(|s| s.started_by == caller.operator_id);
        let status = if mine { charge_status(&self.inner, &state, req.start_charge_seq.as_str(), now) } else { None };
        Ok(status.unwrap_or_else(|| ChargeStatus::unknown(req.start_charge_seq, now)))
    }

    async fn query_stop_charge(&self, caller: &Caller, req: QueryStopCharge) -> Result<QueryStopChargeResponse, HandlerError> {
        let inner = &self.inner;
        let seq = req.start_charge_seq.0.clone();
        let refuse = |stat, fail_reason| QueryStopChargeResponse {
            start_charge_seq: req.start_charge_seq.clone(),
            start_charge_seq_stat: stat,
            succ_stat: SuccStat::Failure,
            fail_reason,
        };
        let mut state = inner.lock();
        let Some(session) = state.sessions.get(&seq).filter(|s| s.started_by == caller.operator_id && s.connector_id == req.connector_id) else {
            return Ok(refuse(StartChargeSeqStat::Unknown, 1));
        };
        let stat = session.stat;
        let offline = state.connectors.get(&req.connector_id).is_some_and(|c| c.status == ConnectorStatusCode::Offline);
        match stat {
            StartChargeSeqStat::Starting => return Ok(refuse(stat, FAIL_STILL_STARTING)),
            StartChargeSeqStat::Charging if offline => return Ok(refuse(stat, 2)),
            StartChargeSeqStat::Charging => {}
            _ => return Ok(refuse(stat, FAIL_ALREADY_STOPPED)),
        }
        sessions::begin_stop(&mut state, &seq);
        drop(state);
        inner.spawn(sessions::stop_requested(inner.clone(), seq));
        Ok(QueryStopChargeResponse {
            start_charge_seq: req.start_charge_seq,
            start_charge_seq_stat: StartChargeSeqStat::Stopping,
            succ_stat: SuccStat::Success,
            fail_reason: 0,
        })
    }

    async fn query_reserve(&self, caller: &Caller, req: QueryReserve) -> Result<QueryReserveResponse, HandlerError> {
        let inner = &self.inner;
        let key = req.reserve_seq.0.clone();
        let reply = {
            let mut state = inner.lock();
            if let Some(reply) = state.reserve_replies.get(&key) {
                return Ok(reply.clone());
            }
            let mut reply = QueryReserveResponse {
                reserve_seq: req.reserve_seq.clone(),
                connector_id: req.connector_id.clone(),
                succ_stat: SuccStat::Failure,
                reserve_seq_stat: ReserveSeqStat::Failed,
                expire_time: None,
                fail_reason: 0,
            };
            // Only an idle connector can be held (a held one is "not free" even for its holder).
            match connector_refusal(&state, &req.connector_id, "") {
                Err(reason) => reply.fail_reason = if reason == FAIL_FAULT { 3 } else { reason },
                Ok(_) if state.connectors[&req.connector_id].status != ConnectorStatusCode::Idle => reply.fail_reason = 3,
                Ok(_) => {
                    let expire = inner.clock.now() + chrono::Duration::minutes(req.minutes);
                    reply.succ_stat = SuccStat::Success;
                    reply.reserve_seq_stat = ReserveSeqStat::Reserved;
                    reply.expire_time = Some(expire);
                    state.reservations.push(ReservationInfo {
                        reserve_seq: req.reserve_seq.clone(),
                        connector_id: req.connector_id.clone(),
                        reserved_by: caller.operator_id.clone(),
                        stat: ReserveSeqStat::Reserved,
                        expire_time: expire,
                    });
                    if let Some(c) = state.connectors.get_mut(&req.connector_id) {
                        c.status = ConnectorStatusCode::Reserved;
                    }
                }
            }
            state.reserve_replies.insert(key.clone(), reply.clone());
            reply
        };
        if reply.succ_stat == SuccStat::Success {
            let hold = inner.clock.real(Duration::from_secs(req.minutes.max(0) as u64 * 60));
            let (status_inner, expiry_inner, connector_id) = (inner.clone(), inner.clone(), req.connector_id);
            inner.spawn(async move { status_inner.push_status(&connector_id, ConnectorStatusCode::Reserved).await });
            inner.spawn(sessions::expire_reservation(expiry_inner, key, hold));
        }
        Ok(reply)
    }

    async fn query_cancel_reserve(&self, caller: &Caller, req: QueryCancelReserve) -> Result<QueryCancelReserveResponse, HandlerError> {
        let inner = &self.inner;
        let mut state = inner.lock();
        let Some(i) = state.reservations.iter().position(|r| r.reserve_seq == req.reserve_seq && r.reserved_by == caller.operator_id) else {
            return Ok(QueryCancelReserveResponse {
                reserve_seq: req.reserve_seq,
                succ_stat: SuccStat::Failure,
                reserve_seq_stat: ReserveSeqStat::Failed,
                fail_reason: 1,
            });
        };
        let stat = state.reservations[i].stat;
        if stat != ReserveSeqStat::Reserved {
            return Ok(QueryCancelReserveResponse { reserve_seq: req.reserve_seq, succ_stat: SuccStat::Failure, reserve_seq_stat: stat, fail_reason: 2 });
        }
        state.reservations[i].stat = ReserveSeqStat::Cancelled;
        let connector_id = state.reservations[i].connector_id.clone();
        sessions::release_reserved(&mut state, &connector_id);
        drop(state);
        let push_inner = inner.clone();
        inner.spawn(async move { push_inner.push_status(&connector_id, ConnectorStatusCode::Idle).await });
        Ok(QueryCancelReserveResponse {
            reserve_seq: req.reserve_seq,
            succ_stat: SuccStat::Success,
            reserve_seq_stat: ReserveSeqStat::Cancelled,
            fail_reason: 0,
        })
    }
}
