//! Flow A reaches each operator in the protocol it registered with: one `OperatorGateway` for
//! the services that hands every call to the partner's own protocol adapter.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::order::StartChargeSeq;
use domain::partner::{Partner, Protocol};
use domain::station::{ConnectorStatus, Station};
use domain::tariff::Tariff;
use services::ports::{CancelReserveReply, GatewayError, OperatorGateway, ReserveReply, SessionReport, StartReply, StopReply};

use crate::cec_adapter::CecOperatorGateway;
use crate::rest_adapter::RestOperatorGateway;

pub struct OperatorGateways {
    pub cec: Arc<CecOperatorGateway>,
    pub rest: RestOperatorGateway,
}

impl OperatorGateways {
    fn of(&self, partner: &Partner) -> Result<&dyn OperatorGateway, GatewayError> {
        match partner.application.protocol {
            Protocol::Cec102 => Ok(self.cec.as_ref()),
            Protocol::RestApi => Ok(&self.rest),
            Protocol::Ocpi221 => Err(GatewayError::NotConfigured("OCPI 2.2.1 operators cannot be reached yet".into())),
        }
    }
}

#[async_trait]
impl OperatorGateway for OperatorGateways {
    async fn stations(&self, partner: &Partner, since: Option<DateTime<Utc>>) -> Result<Vec<Station>, GatewayError> {
        self.of(partner)?.stations(partner, since).await
    }

    async fn statuses(&self, partner: &Partner, station_ids: &[String]) -> Result<Vec<(String, ConnectorStatus)>, GatewayError> {
        self.of(partner)?.statuses(partner, station_ids).await
    }

    async fn tariff(&self, partner: &Partner, connector_id: &str) -> Result<Option<Tariff>, GatewayError> {
        self.of(partner)?.tariff(partner, connector_id).await
    }

    async fn start(&self, partner: &Partner, seq: &StartChargeSeq, connector_id: &str) -> Result<StartReply, GatewayError> {
        self.of(partner)?.start(partner, seq, connector_id).await
    }

    async fn stop(&self, partner: &Partner, seq: &StartChargeSeq, connector_id: &str) -> Result<StopReply, GatewayError> {
        self.of(partner)?.stop(partner, seq, connector_id).await
    }

    async fn session(&self, partner: &Partner, seq: &StartChargeSeq) -> Result<SessionReport, GatewayError> {
        self.of(partner)?.session(partner, seq).await
    }

    async fn reserve(&self, partner: &Partner, seq: &StartChargeSeq, connector_id: &str, minutes: u32) -> Result<ReserveReply, GatewayError> {
        self.of(partner)?.reserve(partner, seq, connector_id, minutes).await
    }

    async fn cancel_reserve(&self, partner: &Partner, seq: &StartChargeSeq, connector_id: &str) -> Result<CancelReserveReply, GatewayError> {
        self.of(partner)?.cancel_reserve(partner, seq, connector_id).await
    }
}
