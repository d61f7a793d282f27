//! A REST operator's answers to our commands (docs/partner-api.md, section 5), read into the
//! ports' replies. Unknown words are not guessed at: a `result` we do not know is an error, a
//! refusal `reason` we do not know is kept with the partner's message for the driver.

use chrono::{DateTime, Utc};
use domain::order::FailureReason;
use rust_decimal::Decimal;
use serde::Deserialize;
use services::ports::{CancelReserveReply, GatewayError, ReserveReply, SessionReport, StartReply, StopReply};

/// The answer to `start_session`, `stop_session`, `reserve` and `cancel_reservation`.
#[derive(Debug, Deserialize)]
pub struct Answer {
    result: String,
    reason: Option<String>,
    message: Option<String>,
    expires_at: Option<DateTime<Utc>>,
}

/// The answer to `get_session`.
#[derive(Debug, Deserialize)]
pub struct SessionAnswer {
    state: String,
    /// Decimal strings, as every figure in this API.
    energy_kwh: Option<String>,
    cost: Option<String>,
    /// Percent, 0–100.
    soc: Option<u8>,
    at: Option<DateTime<Utc>>,
}

enum Verdict {
    Accepted,
    Refused,
}

impl Answer {
    fn verdict(&self) -> Result<Verdict, GatewayError> {
        match self.result.as_str() {
            "accepted" => Ok(Verdict::Accepted),
            "refused" => Ok(Verdict::Refused),
            other => Err(GatewayError::Refused(format!("the command endpoint answered result {other:?}, not \"accepted\" or \"refused\""))),
        }
    }

    fn failure(&self) -> FailureReason {
        failure_reason(self.reason.as_deref(), self.message.clone())
    }

    pub fn start(self) -> Result<StartReply, GatewayError> {
        Ok(match self.verdict()? {
            Verdict::Accepted => StartReply::Accepted,
            Verdict::Refused => StartReply::Refused(self.failure()),
        })
    }

    pub fn stop(self) -> Result<StopReply, GatewayError> {
        Ok(match (self.verdict()?, self.reason.as_deref()) {
            (Verdict::Accepted, _) => StopReply::Accepted,
            (Verdict::Refused, Some("already_stopped")) => StopReply::AlreadyStopped,
            (Verdict::Refused, reason) => StopReply::Refused(self.message.or_else(|| reason.map(str::to_owned)).unwrap_or_else(|| "refused".into())),
        })
    }

    pub fn reserve(self) -> Result<ReserveReply, GatewayError> {
        Ok(match (self.verdict()?, self.expires_at) {
            (Verdict::Accepted, Some(until)) => ReserveReply::Reserved { until },
            (Verdict::Accepted, None) => return Err(GatewayError::Refused("the reservation was accepted without expires_at".into())),
            (Verdict::Refused, _) => ReserveReply::Refused(self.failure()),
        })
    }

    pub fn cancel(self) -> Result<CancelReserveReply, GatewayError> {
        Ok(match (self.verdict()?, self.reason.as_deref()) {
            (Verdict::Accepted, _) => CancelReserveReply::Cancelled,
            (Verdict::Refused, Some("not_found")) => CancelReserveReply::NotFound,
            (Verdict::Refused, Some("already_ended")) => CancelReserveReply::AlreadyEnded,
            (Verdict::Refused, reason) => return Err(GatewayError::Refused(format!("cancelling was refused: {}", reason.unwrap_or("no reason")))),
        })
    }
}

impl SessionAnswer {
    pub fn report(self, now: DateTime<Utc>) -> Result<SessionReport, GatewayError> {
        Ok(match self.state.as_str() {
            "not_found" => SessionReport::NotFound,
            "starting" => SessionReport::Starting,
            "charging" => SessionReport::Charging {
                energy_kwh: figure("energy_kwh", self.energy_kwh.as_deref())?
                    .ok_or_else(|| GatewayError::Refused("a charging session without energy_kwh".into()))?,
                money: figure("cost", self.cost.as_deref())?,
                soc: self.soc.filter(|s| *s <= 100).map(Decimal::from),
                at: self.at.unwrap_or(now),
            },
            "stopping" => SessionReport::Stopping,
            "ended" => SessionReport::Ended,
            other => return Err(GatewayError::Refused(format!("get_session answered state {other:?}"))),
        })
    }
}

/// A refused start's or reservation's `reason` in the guide's words; one we do not know keeps
/// the partner's message for the driver.
pub fn failure_reason(reason: Option<&str>, message: Option<String>) -> FailureReason {
    match reason {
        Some("connector_not_found") => FailureReason::ConnectorNotFound,
        Some("connector_offline") => FailureReason::ConnectorOffline,
        Some("connector_occupied") => FailureReason::ConnectorOccupied,
        Some("connector_faulted") => FailureReason::ConnectorFaulted,
        Some("not_plugged_in") => FailureReason::GunNotPlugged,
        Some("reservation_unsupported") => FailureReason::ReservationUnsupported,
        other => FailureReason::Refused { code: 0, detail: message.or_else(|| other.map(str::to_owned)) },
    }
}

/// A decimal string of the answer, if present.
fn figure(field: &str, text: Option<&str>) -> Result<Option<Decimal>, GatewayError> {
    text.map(|t| t.trim().parse::<Decimal>().map_err(|_| GatewayError::Refused(format!("get_session answered {field} {t:?}, not a decimal string"))))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(json: &str) -> Answer {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn refusals_keep_their_reason() {
        assert_eq!(answer(r#"{"result":"refused","reason":"connector_occupied"}"#).start().unwrap(), StartReply::Refused(FailureReason::ConnectorOccupied));
        assert_eq!(
            answer(r#"{"result":"refused","reason":"other","message":"card blocked"}"#).start().unwrap(),
            StartReply::Refused(FailureReason::Refused { code: 0, detail: Some("card blocked".into()) })
        );
        assert_eq!(answer(r#"{"result":"refused","reason":"already_stopped"}"#).stop().unwrap(), StopReply::AlreadyStopped);
        assert_eq!(answer(r#"{"result":"refused","reason":"already_ended"}"#).cancel().unwrap(), CancelReserveReply::AlreadyEnded);
    }

    #[test]
    fn answers_that_do_not_follow_the_contract_are_errors() {
        assert!(answer(r#"{"result":"ok"}"#).start().is_err());
        assert!(answer(r#"{"result":"accepted"}"#).reserve().is_err(), "a hold needs its end");
        let charging: SessionAnswer = serde_json::from_str(r#"{"state":"charging"}"#).unwrap();
        assert!(charging.report(Utc::now()).is_err(), "progress without energy");
    }

    #[test]
    fn a_charging_session_reports_its_figures() {
        let s: SessionAnswer = serde_json::from_str(r#"{"state":"charging","energy_kwh":"3.20","cost":"4.10","soc":45}"#).unwrap();
        let now = Utc::now();
        assert_eq!(
            s.report(now).unwrap(),
            SessionReport::Charging { energy_kwh: "3.20".parse().unwrap(), money: Some("4.10".parse().unwrap()), soc: Some(45.into()), at: now }
        );
    }
}
