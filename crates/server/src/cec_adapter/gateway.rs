//! Flow A over T/CEC 102: the services' `OperatorGateway` implemented with `cec::CecClient`,
//! one client per partner built from the endpoint and secrets the partner registered with us.

use std::sync::Arc;

use async_trait::async_trait;
use cec::messages::*;
use cec::{CecClient, ClientError};
use chrono::{DateTime, Utc};
use domain::money::{Energy, Money};
use domain::order::{FailureReason, StartChargeSeq};
use domain::partner::Partner;
use domain::partner::Protocol;
use domain::settlement::DisputeKind;
use domain::settlement::LedgerEntry;
use domain::station::{Connector, ConnectorStatus, Equipment, Station};
use domain::tariff::{Tariff, TariffPeriod};
use services::Services;
use services::ports::{CancelReserveReply, GatewayError, OperatorGateway, OrderDispute, PartnerLedger, ReserveReply, SessionReport, StartReply, StopReply};

use super::clients::PartnerClients;
use super::codes;

pub struct CecOperatorGateway {
    clients: PartnerClients,
    page_size: i64,
}

impl CecOperatorGateway {
    pub fn new(services: Services, http: reqwest::Client) -> Self {
        Self { clients: PartnerClients::new(services, http), page_size: 50 }
    }

    async fn client(&self, partner: &Partner) -> Result<Arc<CecClient>, GatewayError> {
        self.clients.get(partner.id).await
    }
}

fn map_error(e: ClientError) -> GatewayError {
    if e.outcome_unknown() { GatewayError::NoAnswer(e.to_string()) } else { GatewayError::Refused(e.to_string()) }
}

fn remote_station(s: StationInfo) -> Station {
    let detail = serde_json::to_value(&s).unwrap_or_default();
    Station {
        external_id: s.station_id,
        name: s.station_name,
        address: s.address,
        area_code: s.area_code,
        lat_gcj02: s.station_lat.value().try_into().unwrap_or(f64::NAN),
        lng_gcj02: s.station_lng.value().try_into().unwrap_or(f64::NAN),
        station_type: codes::station_type(s.station_type),
        status: codes::station_status(s.station_status),
        service_tel: s.service_tel,
        business_hours: s.busine_hours,
        equipment: s
            .equipment_infos
            .into_iter()
            .map(|e| Equipment {
                external_id: e.equipment_id,
                equipment_type: codes::equipment_type(e.equipment_type),
                power_kw: e.power.value(),
                connectors: e
                    .connector_infos
                    .into_iter()
                    .map(|c| Connector {
                        detail: serde_json::to_value(&c).unwrap_or_default(),
                        external_id: c.connector_id,
                        connector_type: codes::connector_type(c.connector_type),
                        power_kw: c.power.value(),
                    })
                    .collect(),
            })
            .collect(),
        detail,
    }
}

#[async_trait]
impl OperatorGateway for CecOperatorGateway {
    async fn stations(&self, partner: &Partner, since: Option<DateTime<Utc>>) -> Result<Vec<Station>, GatewayError> {
        let client = self.client(partner).await?;
        let mut stations = Vec::new();
        let mut page = 1;
        loop {
            let reply =
                client.call(&QueryStationsInfo { last_query_time: since, page_no: Some(page), page_size: Some(self.page_size) }).await.map_err(map_error)?;
            stations.extend(reply.station_infos.into_iter().map(remote_station));
            if page >= reply.page_count || page >= 10_000 {
                break;
            }
            page += 1;
        }
        Ok(stations)
    }

    async fn statuses(&self, partner: &Partner, station_ids: &[String]) -> Result<Vec<(String, ConnectorStatus)>, GatewayError> {
        let client = self.client(partner).await?;
        let reply = client.call(&QueryStationStatus { station_ids: station_ids.to_vec() }).await.map_err(map_error)?;
        Ok(reply.station_status_infos.into_iter().flat_map(|s| s.connector_status_infos).map(|c| (c.connector_id, codes::connector_status(c.status))).collect())
    }

    async fn tariff(&self, partner: &Partner, connector_id: &str) -> Result<Option<Tariff>, GatewayError> {
        let client = self.client(partner).await?;
        let seq = Seq27::generate(client.config().operator_id.as_str(), Utc::now(), rand::random::<u32>());
        let reply = client.call(&QueryEquipBusinessPolicy { equip_biz_seq: seq, connector_id: connector_id.into() }).await.map_err(map_error)?;
        if reply.succ_stat != SuccStat::Success {
            return Ok(None);
        }
        let periods = reply
            .policy_infos
            .iter()
            .enumerate()
            .map(|(i, p)| TariffPeriod::parse(i, &p.start_time, p.elec_price.value(), p.sevice_price.value()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| GatewayError::Refused(format!("price periods: {e}")))?;
        Tariff::new(periods).map(Some).map_err(|e| GatewayError::Refused(format!("price periods: {e}")))
    }

    async fn start(&self, partner: &Partner, seq: &StartChargeSeq, connector_id: &str) -> Result<StartReply, GatewayError> {
        let client = self.client(partner).await?;
        let reply = client
            .call(&QueryStartCharge { start_charge_seq: Seq27(seq.as_str().into()), connector_id: connector_id.into(), qr_code: String::new() })
            .await
            .map_err(map_error)?;
        Ok(match reply.succ_stat {
            SuccStat::Success => StartReply::Accepted,
            _ => StartReply::Refused(codes::start_failure(reply.fail_reason, None)),
        })
    }

    async fn stop(&self, partner: &Partner, seq: &StartChargeSeq, connector_id: &str) -> Result<StopReply, GatewayError> {
        let client = self.client(partner).await?;
        let reply =
            client.call(&QueryStopCharge { start_charge_seq: Seq27(seq.as_str().into()), connector_id: connector_id.into() }).await.map_err(map_error)?;
        Ok(match (reply.succ_stat, reply.fail_reason) {
            (SuccStat::Success, _) => StopReply::Accepted,
            (_, 3) => StopReply::AlreadyStopped,
            (_, code) => StopReply::Refused(format!("FailReason {code}")),
        })
    }

    async fn reserve(&self, partner: &Partner, seq: &StartChargeSeq, connector_id: &str, minutes: u32) -> Result<ReserveReply, GatewayError> {
        let client = self.client(partner).await?;
        let request = QueryReserve { reserve_seq: Seq27(seq.as_str().into()), connector_id: connector_id.into(), minutes: i64::from(minutes) };
        let reply = match client.call(&request).await {
            Ok(reply) => reply,
            // The extension answers 4004 to a partner it is not enabled for.
            Err(ClientError::Ret { ret: cec::Ret::Parameter, .. }) => return Ok(ReserveReply::Refused(FailureReason::ReservationUnsupported)),
            Err(e) => return Err(map_error(e)),
        };
        Ok(match (reply.succ_stat, reply.reserve_seq_stat, reply.expire_time) {
            (SuccStat::Success, ReserveSeqStat::Reserved, Some(until)) => ReserveReply::Reserved { until },
            (SuccStat::Success, _, _) => return Err(GatewayError::Refused(format!("reservation answered {:?} without an expiry", reply.reserve_seq_stat))),
            _ => ReserveReply::Refused(match reply.fail_reason {
                1 => FailureReason::ConnectorNotFound,
                2 => FailureReason::ConnectorOffline,
                3 => FailureReason::ConnectorOccupied,
                4 => FailureReason::ReservationUnsupported,
                code => FailureReason::Refused { code, detail: None },
            }),
        })
    }

    async fn cancel_reserve(&self, partner: &Partner, seq: &StartChargeSeq, connector_id: &str) -> Result<CancelReserveReply, GatewayError> {
        let client = self.client(partner).await?;
        let reply = client.call(&QueryCancelReserve { reserve_seq: Seq27(seq.as_str().into()), connector_id: connector_id.into() }).await.map_err(map_error)?;
        Ok(match (reply.succ_stat, reply.fail_reason) {
            (SuccStat::Success, _) => CancelReserveReply::Cancelled,
            (_, 1) => CancelReserveReply::NotFound,
            (_, 2) => CancelReserveReply::AlreadyEnded,
            (_, code) => return Err(GatewayError::Refused(format!("cancel refused with FailReason {code}"))),
        })
    }

    async fn session(&self, partner: &Partner, seq: &StartChargeSeq) -> Result<SessionReport, GatewayError> {
        let client = self.client(partner).await?;
        let r = client.call(&QueryEquipChargeStatus { start_charge_seq: Seq27(seq.as_str().into()) }).await.map_err(map_error)?;
        Ok(match r.start_charge_seq_stat {
            StartChargeSeqStat::Starting => SessionReport::Starting,
            StartChargeSeqStat::Charging => {
                SessionReport::Charging { energy_kwh: r.total_power.value(), money: r.total_money.map(|m| m.value()), soc: Some(r.soc.value()), at: r.end_time }
            }
            StartChargeSeqStat::Stopping => SessionReport::Stopping,
            StartChargeSeqStat::Ended => SessionReport::Ended,
            _ => SessionReport::NotFound,
        })
    }
}

/// One `DisputeOrders` entry (§9.12): its reason (§10.10) and the partner's own figures.
fn order_dispute(d: DisputeOrder) -> Result<OrderDispute, GatewayError> {
    let kind: DisputeKind = codes::dispute_kind(d.dispute_reason);
    let energy = Energy::kwh(d.total_power.value())
        .map_err(|e| GatewayError::Refused(format!("the dispute of order {} carries an invalid TotalPower: {e}", d.start_charge_seq)))?;
    Ok(OrderDispute { seq: d.start_charge_seq.0, kind, energy, amount: Money::new(d.total_money.value()) })
}

#[async_trait]
impl PartnerLedger for CecOperatorGateway {
    /// `check_charge_orders` is asked of T/CEC 102 partners only.
    fn checks_orders(&self, partner: &Partner) -> bool {
        partner.application.protocol == Protocol::Cec102
    }

    async fn check_orders(
        &self,
        partner: &Partner,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        orders: &[LedgerEntry],
    ) -> Result<Vec<OrderDispute>, GatewayError> {
        let client = self.client(partner).await?;
        let check_order_seq = Seq27::generate(&self.clients.our_operator_id(), Utc::now(), rand::random::<u32>());
        let request = CheckChargeOrders {
            check_order_seq,
            start_time: start,
            end_time: end,
            order_count: orders.len() as i64,
            total_order_power: orders.iter().map(|o| o.energy.value()).sum::<rust_decimal::Decimal>().into(),
            total_order_money: orders.iter().map(|o| o.amount.yuan()).sum::<rust_decimal::Decimal>().into(),
            charge_orders: orders
                .iter()
                .map(|o| ChargeOrder { start_charge_seq: Seq27(o.order.clone()), total_power: o.energy.value().into(), total_money: o.amount.yuan().into() })
                .collect(),
        };
        let answer = client.call(&request).await.map_err(map_error)?;
        answer.dispute_orders.into_iter().map(order_dispute).collect()
    }
}
