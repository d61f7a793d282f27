//! A partner directory and recording handlers for both roles, and a server on loopback.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cec::error::HandlerError;
use cec::messages::*;
use cec::server::{Caller, CecServer, OperatorHandler, PartnerDirectory, PartnerEntry, PlatformHandler, ServerConfig};
use cec::{CecClient, ClientConfig, Secrets};
use chrono::{TimeZone, Utc};
use rust_decimal_macros::dec;

pub const PARTNER: &str = "MA5DEMO01";
pub const SUSPENDED: &str = "SUSPEND01";
pub const NO_RESERVE: &str = "NORESV001";
/// The OperatorID of the standard's appendix example; it uses the appendix secrets.
pub const APPENDIX: &str = "123456789";

/// key = IV = SigSecret = `1234567890abcdef`, as in the appendix (cec102-vectors.json).
pub fn appendix_secrets() -> Secrets {
    Secrets::new("1234567890abcdef", "1234567890abcdef", "1234567890abcdef", "1234567890abcdef")
}

pub fn secrets() -> Secrets {
    Secrets::new("OpSecret12345678", "Gq3Vn8Rz2Lp6Xw1T", "Hk9Ts4Bm7Qc2Yd5J", "Sg7Kp2Wn5Xr8Vb3M")
}

pub fn rotated() -> Secrets {
    Secrets::new("NewOpSecret87654", "Aa1Bb2Cc3Dd4Ee5F", "Ff6Gg7Hh8Ii9Jj0K", "NewSigSecret0001")
}

pub struct Directory;

#[async_trait]
impl PartnerDirectory for Directory {
    async fn lookup(&self, operator_id: &str) -> Result<Option<PartnerEntry>, HandlerError> {
        let entry = |active, reservation| PartnerEntry {
            partner_ref: format!("ref-{operator_id}"),
            secret_sets: vec![rotated(), secrets()],
            versions: vec!["v1.0".into(), "20160701".into()],
            reservation_enabled: reservation,
            active,
        };
        Ok(match operator_id {
            APPENDIX => Some(PartnerEntry { secret_sets: vec![appendix_secrets()], ..entry(true, false) }),
            PARTNER => Some(entry(true, true)),
            NO_RESERVE => Some(entry(true, false)),
            SUSPENDED => Some(entry(false, true)),
            _ => None,
        })
    }
}

/// Records every request it is given (interface name and JSON) and answers from it.
#[derive(Default)]
pub struct Recorder {
    pub calls: Mutex<Vec<(String, String, serde_json::Value)>>,
}

impl Recorder {
    fn record<T: serde::Serialize>(&self, caller: &Caller, name: &str, req: &T) {
        self.calls.lock().unwrap().push((caller.partner_ref.clone(), name.into(), serde_json::to_value(req).unwrap()));
    }
    pub fn names(&self) -> Vec<String> {
        self.calls.lock().unwrap().iter().map(|(_, n, _)| n.clone()).collect()
    }
}

pub fn t(h: u32, m: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, h, m, 5).unwrap()
}

pub fn station() -> StationInfo {
    serde_json::from_value(serde_json::json!({
        "StationID":"S001","OperatorID":"CPODEMO01","EquipmentOwnerID":"CPODEMO01",
        "StationName":"示例充电站","CountryCode":"CN","AreaCode":"110108",
        "Address":"北京市海淀区示例路1号","ServiceTel":"4000000000","StationType":1,
        "StationStatus":50,"ParkNums":10,"StationLng":116.310000,"StationLat":39.990000,
        "Construction":4,"BusineHours":"00:00-24:00","SupportOrder":0,
        "EquipmentInfos":[{"EquipmentID":"330106000100","EquipmentType":1,"Power":120.0,
          "ConnectorInfos":[{"ConnectorID":"33010600010001","ConnectorType":4,
            "VoltageUpperLimits":750,"VoltageLowerLimits":200,"Current":250,"Power":120.0,
            "NationalStandard":2}]}]}))
    .unwrap()
}

pub fn charge_status(seq: &Seq27) -> ChargeStatus {
    ChargeStatus {
        start_charge_seq: seq.clone(),
        start_charge_seq_stat: StartChargeSeqStat::Charging,
        connector_id: "33010600010001".into(),
        connector_status: ConnectorStatusCode::Charging,
        current_a: dec!(98.5).into(),
        current_b: None,
        current_c: None,
        voltage_a: dec!(402.3).into(),
        voltage_b: None,
        voltage_c: None,
        soc: dec!(56.0).into(),
        start_time: t(4, 0),
        end_time: t(4, 20),
        total_power: dec!(12.35).into(),
        elec_money: Some(dec!(9.88).into()),
        sevice_money: Some(dec!(4.94).into()),
        total_money: Some(dec!(14.82).into()),
        sum_period: Some(0),
        charge_details: vec![],
    }
}

#[async_trait]
impl OperatorHandler for Recorder {
    async fn query_stations_info(&self, c: &Caller, req: QueryStationsInfo) -> Result<QueryStationsInfoResponse, HandlerError> {
        self.record(c, "query_stations_info", &req);
        Ok(QueryStationsInfoResponse { page_no: req.page_no.unwrap_or(1), page_count: 1, item_size: 1, station_infos: vec![station()] })
    }
    async fn query_station_status(&self, c: &Caller, req: QueryStationStatus) -> Result<QueryStationStatusResponse, HandlerError> {
        self.record(c, "query_station_status", &req);
        let infos = req
            .station_ids
            .iter()
            .map(|id| StationStatusInfo {
                station_id: id.clone(),
                connector_status_infos: vec![ConnectorStatusInfo {
                    connector_id: format!("{id}-1"),
                    status: ConnectorStatusCode::Idle,
                    park_status: None,
                    lock_status: None,
                }],
            })
            .collect::<Vec<_>>();
        Ok(QueryStationStatusResponse { total: infos.len() as i64, station_status_infos: infos })
    }
    async fn query_station_stats(&self, c: &Caller, req: QueryStationStats) -> Result<QueryStationStatsResponse, HandlerError> {
        self.record(c, "query_station_stats", &req);
        Ok(QueryStationStatsResponse {
            station_stats: StationStatsInfo {
                station_id: req.station_id,
                start_time: req.start_time,
                end_time: req.end_time,
                station_electricity: dec!(120.5).into(),
                equipment_stats_infos: vec![EquipmentStatsInfo {
                    equipment_id: "E1".into(),
                    equipment_electricity: dec!(120.5).into(),
                    connector_stats_infos: vec![ConnectorStatsInfo { connector_id: "E1-1".into(), connector_electricity: dec!(120.5).into() }],
                }],
            },
        })
    }
    async fn query_equip_auth(&self, c: &Caller, req: QueryEquipAuth) -> Result<QueryEquipAuthResponse, HandlerError> {
        self.record(c, "query_equip_auth", &req);
        Ok(QueryEquipAuthResponse { equip_auth_seq: req.equip_auth_seq, connector_id: req.connector_id, succ_stat: SuccStat::Success, fail_reason: 0 })
    }
    async fn query_equip_business_policy(&self, c: &Caller, req: QueryEquipBusinessPolicy) -> Result<QueryEquipBusinessPolicyResponse, HandlerError> {
        self.record(c, "query_equip_business_policy", &req);
        Ok(QueryEquipBusinessPolicyResponse {
            equip_biz_seq: req.equip_biz_seq,
            connector_id: req.connector_id,
            succ_stat: SuccStat::Success,
            fail_reason: 0,
            sum_period: 2,
            policy_infos: vec![
                PolicyInfo { start_time: "000000".into(), elec_price: dec!(0.3).into(), sevice_price: dec!(0.4).into() },
                PolicyInfo { start_time: "080000".into(), elec_price: dec!(0.8).into(), sevice_price: dec!(0.4).into() },
            ],
        })
    }
    async fn query_start_charge(&self, c: &Caller, req: QueryStartCharge) -> Result<QueryStartChargeResponse, HandlerError> {
        self.record(c, "query_start_charge", &req);
        if req.connector_id == "BUSY" {
            return Err(HandlerError::Busy("pile is rebooting".into()));
        }
        if req.connector_id == "BROKEN" {
            return Err(HandlerError::Internal("database on fire".into()));
        }
        if req.connector_id == "NOPE" {
            return Err(HandlerError::BadParameter("ConnectorID NOPE 不存在 / no such connector".into()));
        }
        Ok(QueryStartChargeResponse {
            start_charge_seq: req.start_charge_seq,
            start_charge_seq_stat: StartChargeSeqStat::Starting,
            connector_id: req.connector_id,
            succ_stat: SuccStat::Success,
            fail_reason: 0,
        })
    }
    async fn query_equip_charge_status(&self, c: &Caller, req: QueryEquipChargeStatus) -> Result<ChargeStatus, HandlerError> {
        self.record(c, "query_equip_charge_status", &req);
        Ok(charge_status(&req.start_charge_seq))
    }
    async fn query_stop_charge(&self, c: &Caller, req: QueryStopCharge) -> Result<QueryStopChargeResponse, HandlerError> {
        self.record(c, "query_stop_charge", &req);
        Ok(QueryStopChargeResponse {
            start_charge_seq: req.start_charge_seq,
            start_charge_seq_stat: StartChargeSeqStat::Stopping,
            succ_stat: SuccStat::Success,
            fail_reason: 0,
        })
    }
    async fn query_reserve(&self, c: &Caller, req: QueryReserve) -> Result<QueryReserveResponse, HandlerError> {
        self.record(c, "query_reserve", &req);
        Ok(QueryReserveResponse {
            reserve_seq: req.reserve_seq,
            connector_id: req.connector_id,
            succ_stat: SuccStat::Success,
            reserve_seq_stat: ReserveSeqStat::Reserved,
            expire_time: Some(t(4, 15)),
            fail_reason: 0,
        })
    }
    async fn query_cancel_reserve(&self, c: &Caller, req: QueryCancelReserve) -> Result<QueryCancelReserveResponse, HandlerError> {
        self.record(c, "query_cancel_reserve", &req);
        Ok(QueryCancelReserveResponse {
            reserve_seq: req.reserve_seq,
            succ_stat: SuccStat::Success,
            reserve_seq_stat: ReserveSeqStat::Cancelled,
            fail_reason: 0,
        })
    }
}

#[async_trait]
impl PlatformHandler for Recorder {
    async fn notification_station_status(&self, c: &Caller, req: NotificationStationStatus) -> Result<NotificationStationStatusResponse, HandlerError> {
        self.record(c, "notification_stationStatus", &req);
        Ok(NotificationStationStatusResponse { status: 0 })
    }
    async fn notification_start_charge_result(
        &self,
        c: &Caller,
        req: NotificationStartChargeResult,
    ) -> Result<NotificationStartChargeResultResponse, HandlerError> {
        self.record(c, "notification_start_charge_result", &req);
        Ok(NotificationStartChargeResultResponse { start_charge_seq: req.start_charge_seq, succ_stat: SuccStat::Success, fail_reason: 0 })
    }
    async fn notification_equip_charge_status(&self, c: &Caller, req: ChargeStatus) -> Result<NotificationEquipChargeStatusResponse, HandlerError> {
        self.record(c, "notification_equip_charge_status", &req);
        Ok(NotificationEquipChargeStatusResponse { start_charge_seq: req.start_charge_seq, succ_stat: SuccStat::Success })
    }
    async fn notification_stop_charge_result(
        &self,
        c: &Caller,
        req: NotificationStopChargeResult,
    ) -> Result<NotificationStopChargeResultResponse, HandlerError> {
        self.record(c, "notification_stop_charge_result", &req);
        Ok(NotificationStopChargeResultResponse { start_charge_seq: req.start_charge_seq, succ_stat: SuccStat::Success, fail_reason: 0 })
    }
    async fn notification_charge_order_info(&self, c: &Caller, req: ChargeOrderInfo) -> Result<ChargeOrderInfoResponse, HandlerError> {
        self.record(c, "notification_charge_order_info", &req);
        Ok(ChargeOrderInfoResponse { start_charge_seq: req.start_charge_seq, connector_id: req.connector_id, confirm_result: 0 })
    }
    async fn check_charge_orders(&self, c: &Caller, req: CheckChargeOrders) -> Result<CheckChargeOrdersResponse, HandlerError> {
        self.record(c, "check_charge_orders", &req);
        Ok(CheckChargeOrdersResponse {
            check_order_seq: req.check_order_seq,
            start_time: req.start_time,
            end_time: req.end_time,
            total_dispute_order: 0,
            total_dispute_power: dec!(0).into(),
            total_dispute_money: dec!(0).into(),
            dispute_orders: vec![],
        })
    }
    async fn notification_reserve_result(&self, c: &Caller, req: NotificationReserveResult) -> Result<NotificationReserveResultResponse, HandlerError> {
        self.record(c, "notification_reserve_result", &req);
        Ok(NotificationReserveResultResponse { reserve_seq: req.reserve_seq, succ_stat: SuccStat::Success })
    }
}

pub struct Running {
    pub base: String,
    pub recorder: Arc<Recorder>,
}

/// A server serving both roles on a random loopback port.
pub async fn start() -> Running {
    start_with(ServerConfig::default()).await
}

pub async fn start_with(config: ServerConfig) -> Running {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let recorder = Arc::new(Recorder::default());
    let server = CecServer::new(Arc::new(Directory), config).with_operator(recorder.clone()).with_platform(recorder.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, server.router()).await });
    Running { base, recorder }
}

pub fn client(base: &str, operator_id: &str, secrets: Secrets) -> CecClient {
    let mut config = ClientConfig::new(base, "v1.0", operator_id, secrets);
    config.min_backoff = std::time::Duration::from_millis(10);
    CecClient::new(config, reqwest::Client::new()).unwrap()
}

pub fn seq(n: u32) -> Seq27 {
    Seq27(format!("{PARTNER}2024010112000000{n:02}"))
}
