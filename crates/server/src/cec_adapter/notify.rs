//! Flow B's outbound side over T/CEC 102: session notices and connector status pushes from
//! the outbox, sent as the standard's notifications to the partner's platform. A notification
//! counts as delivered only when the partner acknowledged it in protocol terms (SuccStat 0,
//! Status 0, ConfirmResult 0); anything else is retried by the dispatcher.

use cec::messages::Interface;
use cec::messages::*;
use cec::{ClientError, Ret};
use serde::de::DeserializeOwned;
use services::Services;
use services::delivery::DeliveryError;
use services::partner_sessions::{self as sessions, SessionNotice};
use services::pile_reservations::{self as reservations, ReserveNotice};
use services::ports::GatewayError;
use services::status_push::{CONNECTOR_STATUS, ConnectorNotice};
use store::outbox::OutboxMessage;

use super::clients::PartnerClients;
use super::notices;

pub struct CecNotifier {
    pub services: Services,
    pub clients: PartnerClients,
}

/// Whether this deliverer speaks for an outbox kind.
pub fn handles(kind: &str) -> bool {
    kind.starts_with("session.") || kind == CONNECTOR_STATUS
}

fn payload<T: DeserializeOwned>(message: &OutboxMessage) -> Result<T, DeliveryError> {
    serde_json::from_value(message.payload.clone()).map_err(|e| DeliveryError::Permanent(format!("unreadable {}: {e}", message.kind)))
}

fn call_error(e: ClientError) -> DeliveryError {
    match e {
        ClientError::Config(why) => DeliveryError::Permanent(why),
        // The partner says our message is malformed: sending it again will not help.
        ClientError::Ret { ret: Ret::Envelope | Ret::Parameter, .. } => DeliveryError::Permanent(e.to_string()),
        other => DeliveryError::Retry(other.to_string()),
    }
}

fn refused(what: &str, code: i64) -> DeliveryError {
    DeliveryError::Retry(format!("the partner did not acknowledge {what} (code {code})"))
}

impl CecNotifier {
    async fn send<I: Interface>(&self, message: &OutboxMessage, request: &I) -> Result<I::Response, DeliveryError> {
        let client = self.clients.get(message.partner_id).await.map_err(|e| match e {
            GatewayError::NotConfigured(why) => DeliveryError::Retry(format!("no T/CEC 102 endpoint registered yet: {why}")),
            other => DeliveryError::Retry(other.to_string()),
        })?;
        client.call(request).await.map_err(call_error)
    }

    pub async fn deliver(&self, message: &OutboxMessage) -> Result<(), DeliveryError> {
        if message.kind == CONNECTOR_STATUS {
            let notice: ConnectorNotice = payload(message)?;
            let request = NotificationStationStatus {
                connector_status_info: ConnectorStatusInfo {
                    connector_id: notice.connector,
                    status: super::codes::connector_status_code(notice.status),
                    park_status: None,
                    lock_status: None,
                },
            };
            let answer = self.send(message, &request).await?;
            return if answer.status == 0 { Ok(()) } else { Err(refused("the status push", answer.status)) };
        }
        if message.kind == reservations::RESERVE_RESULT {
            let notice: ReserveNotice = payload(message)?;
            let answer = self.send(message, &notices::reserve_result(&notice)).await?;
            return succ(answer.succ_stat, "the reservation result");
        }
        let notice: SessionNotice = payload(message)?;
        match message.kind.as_str() {
            sessions::START_RESULT => {
                let answer = self.send(message, &notices::start_result(&notice)).await?;
                succ(answer.succ_stat, "the start result")
            }
            sessions::STOP_RESULT => {
                let answer = self.send(message, &notices::stop_result(&notice)).await?;
                succ(answer.succ_stat, "the stop result")
            }
            sessions::CHARGE_STATUS => {
                let connector = self.services.connector_by_external(None, &notice.connector).map(|(id, _)| self.services.own_connector_status(id));
                let status = notices::charge_status(&notice, connector.unwrap_or(domain::station::ConnectorStatus::Unknown), notice.at);
                let answer = self.send(message, &status).await?;
                succ(answer.succ_stat, "the charge status")
            }
            sessions::CHARGE_RECORD => {
                let answer = self.send(message, &notices::charge_order(&notice)).await?;
                if answer.confirm_result == 0 { Ok(()) } else { Err(refused("the charge order", answer.confirm_result)) }
            }
            other => Err(DeliveryError::Permanent(format!("no T/CEC 102 notification for {other}"))),
        }
    }
}

fn succ(stat: SuccStat, what: &str) -> Result<(), DeliveryError> {
    if stat == SuccStat::Success { Ok(()) } else { Err(refused(what, stat.code())) }
}
