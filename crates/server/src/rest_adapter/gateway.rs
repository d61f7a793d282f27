//! Flow A over our partner REST API: the services' `OperatorGateway` as signed calls to the
//! operator's command endpoint, `POST {callback_base_url}/chargebridge/commands`
//! (docs/partner-api.md, section 5).
//!
//! Each call is signed like our webhooks (same keys, both during a rotation's overlap) and
//! carries an idempotency key made of the session id and the command, so a repeat of one
//! command is recognisable as such. The answer says only what the operator will do; what
//! happens at the charger comes back as session events. No answer in time, a connection error
//! or a 5xx leaves the outcome unknown — the order machine's `UnknownOutcome`, resolved later
//! with `get_session` — while any other 4xx is a refusal.
//!
//! REST operators upload their stations, status and prices to us, so there is nothing to pull:
//! those methods say so rather than answer with an empty catalog.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::order::StartChargeSeq;
use domain::partner::Partner;
use domain::station::{ConnectorStatus, Station};
use domain::tariff::Tariff;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use services::Services;
use services::ports::{CancelReserveReply, GatewayError, OperatorGateway, ReserveReply, SessionReport, StartReply, StopReply};

use super::answers::{Answer, SessionAnswer};

/// How long an operator has to answer a command (the guide promises 10 s).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

pub struct RestOperatorGateway {
    services: Services,
    http: reqwest::Client,
}

impl RestOperatorGateway {
    pub fn new(services: Services, http: reqwest::Client) -> Self {
        Self { services, http }
    }

    /// Our id of the session numbered `seq`: what the operator knows it by.
    async fn session_id(&self, seq: &StartChargeSeq) -> Result<String, GatewayError> {
        let id = self.services.order_id_of_seq(seq.as_str()).await.map_err(|e| GatewayError::NotConfigured(format!("order {seq}: {e}")))?;
        Ok(id.to_string())
    }

    /// Sends one command and reads the answer as `T`.
    async fn command<T: DeserializeOwned>(&self, partner: &Partner, command: &str, subject: &str, mut body: Value) -> Result<T, GatewayError> {
        let url = format!("{}/chargebridge/commands", partner.application.callback_base_url.trim_end_matches('/'));
        crate::partner_http::check_literal_address(&url, self.services.settings.allow_private_endpoints).map_err(GatewayError::NotConfigured)?;
        let keys = self.services.webhook_keys(partner.id).await.map_err(|e| GatewayError::NotConfigured(format!("signing keys: {e}")))?;
        let keys: Vec<String> = std::iter::once(keys.current).chain(keys.previous).collect();
        body["command"] = json!(command);
        body["sent_at"] = json!(self.services.now());
        let body = body.to_string();
        let signature = crate::webhooks::signatures(&keys, self.services.now().timestamp(), &body);
        let response = self
            .http
            .post(&url)
            .timeout(COMMAND_TIMEOUT)
            .header("content-type", "application/json")
            .header("x-chargebridge-command", command)
            .header("idempotency-key", format!("{subject}:{command}"))
            .header("x-chargebridge-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| GatewayError::NoAnswer(format!("{url}: {e}")))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| GatewayError::NoAnswer(format!("{url}: reading the answer: {e}")))?;
        if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
            return Err(GatewayError::NoAnswer(format!("{url} answered {status}")));
        }
        if !status.is_success() {
            return Err(GatewayError::Refused(format!("{url} answered {status}: {}", snippet(&text))));
        }
        // A 2xx we cannot read may mean the command was taken: the outcome is unknown.
        serde_json::from_str(&text).map_err(|e| GatewayError::NoAnswer(format!("{url} answered {status} with an unreadable body ({e}): {}", snippet(&text))))
    }
}

/// The start of a partner's answer, for logs and errors.
fn snippet(text: &str) -> &str {
    let end = text.char_indices().nth(200).map_or(text.len(), |(i, _)| i);
    &text[..end]
}

fn nothing_to_pull(what: &str) -> GatewayError {
    GatewayError::NotConfigured(format!("REST operators upload their {what} to us; there is nothing to pull"))
}

#[async_trait]
impl OperatorGateway for RestOperatorGateway {
    async fn stations(&self, _partner: &Partner, _since: Option<DateTime<Utc>>) -> Result<Vec<Station>, GatewayError> {
        Err(nothing_to_pull("stations"))
    }

    async fn statuses(&self, _partner: &Partner, _station_ids: &[String]) -> Result<Vec<(String, ConnectorStatus)>, GatewayError> {
        Err(nothing_to_pull("connector status"))
    }

    async fn tariff(&self, _partner: &Partner, _connector_id: &str) -> Result<Option<Tariff>, GatewayError> {
        Err(nothing_to_pull("prices"))
    }

    async fn start(&self, partner: &Partner, seq: &StartChargeSeq, connector_id: &str) -> Result<StartReply, GatewayError> {
        let id = self.session_id(seq).await?;
        let answer: Answer = self.command(partner, "start_session", &id, json!({"session_id": id, "connector_id": connector_id})).await?;
        answer.start()
    }

    async fn stop(&self, partner: &Partner, seq: &StartChargeSeq, connector_id: &str) -> Result<StopReply, GatewayError> {
        let id = self.session_id(seq).await?;
        let answer: Answer = self.command(partner, "stop_session", &id, json!({"session_id": id, "connector_id": connector_id})).await?;
        answer.stop()
    }

    async fn session(&self, partner: &Partner, seq: &StartChargeSeq) -> Result<SessionReport, GatewayError> {
        let id = self.session_id(seq).await?;
        let answer: SessionAnswer = self.command(partner, "get_session", &id, json!({"session_id": id})).await?;
        answer.report(self.services.now())
    }

    async fn reserve(&self, partner: &Partner, seq: &StartChargeSeq, connector_id: &str, minutes: u32) -> Result<ReserveReply, GatewayError> {
        let id = self.session_id(seq).await?;
        let answer: Answer = self.command(partner, "reserve", &id, json!({"reservation_id": id, "connector_id": connector_id, "minutes": minutes})).await?;
        answer.reserve()
    }

    async fn cancel_reserve(&self, partner: &Partner, seq: &StartChargeSeq, connector_id: &str) -> Result<CancelReserveReply, GatewayError> {
        let id = self.session_id(seq).await?;
        let answer: Answer = self.command(partner, "cancel_reservation", &id, json!({"reservation_id": id, "connector_id": connector_id})).await?;
        answer.cancel()
    }
}
