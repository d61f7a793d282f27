//! Operator commands to one of our piles from the admin console: ask it to send a message now
//! (OCPP TriggerMessage — its statuses after a suspected missed update, a meter reading, a
//! heartbeat to see it is alive) and release a connector's cable lock (UnlockConnector — a
//! driver who cannot pull the cable out). Every command that reaches the pile is audited with
//! the admin as actor and the pile's answer (or its silence).

use serde::Serialize;
use store::audit::{self, AuditEntry};
use store::pile_sessions;

use crate::network::CachedPile;
use crate::ports::{PileCommandError, TriggerReply, TriggeredMessage, UnlockReply};
use crate::{Error, Result, Services};

/// What the pile answered.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PileCommandResult {
    pub ocpp_id: String,
    /// `TriggerMessage` or `UnlockConnector`.
    pub command: &'static str,
    /// The connector the command was about, if one.
    pub connector_id: Option<i64>,
    /// The pile's answer, as OCPP spells it: `Accepted`, `Rejected` or `NotImplemented` for a
    /// trigger; `Unlocked`, `UnlockFailed` or `NotSupported` for an unlock.
    pub status: &'static str,
}

fn trigger_status(reply: TriggerReply) -> &'static str {
    match reply {
        TriggerReply::Accepted => "Accepted",
        TriggerReply::Rejected => "Rejected",
        TriggerReply::NotImplemented => "NotImplemented",
    }
}

fn unlock_status(reply: UnlockReply) -> &'static str {
    match reply {
        UnlockReply::Unlocked => "Unlocked",
        UnlockReply::UnlockFailed => "UnlockFailed",
        UnlockReply::NotSupported => "NotSupported",
    }
}

fn pile_offline(ocpp_id: &str) -> Error {
    Error::Conflict {
        code: "pile_offline",
        field: None,
        message: format!("pile {ocpp_id} is not connected; try again when it is back online"),
        message_zh: format!("充电桩 {ocpp_id} 当前离线，请待其上线后重试"),
    }
}

fn no_answer(ocpp_id: &str, why: &str) -> Error {
    Error::NoAnswer {
        code: "pile_no_answer",
        message: format!("pile {ocpp_id} did not answer in time ({why}); it may or may not have acted on the command"),
        message_zh: format!("充电桩 {ocpp_id} 未在规定时间内应答，指令可能已执行也可能未执行"),
    }
}

/// Connector numbers go from 1 (OCPP forbids 0 for both commands).
fn check_connector(pile: &CachedPile, connector_no: i64) -> Result<()> {
    if pile.has_connector(connector_no) {
        return Ok(());
    }
    let count = pile.connector_count();
    Err(Error::invalid("connector_id", format!("this pile has connectors 1 to {count}"), format!("该桩的充电枪编号为 1 至 {count}")))
}

impl Services {
    /// Asks pile `ocpp_id` to send `requested` now (OCPP TriggerMessage), for one connector or
    /// all that apply. BootNotification is refused: OCPP 1.6 (errata) forbids triggering it on a
    /// pile that was accepted, and every connected pile of ours was.
    pub async fn trigger_pile_message(&self, admin: &str, ocpp_id: &str, requested: &str, connector_no: Option<i64>) -> Result<PileCommandResult> {
        let message = TriggeredMessage::parse(requested).ok_or_else(|| {
            let names = TriggeredMessage::ALL.map(TriggeredMessage::as_str).join(", ");
            Error::invalid("requested_message", format!("must be one of {names}"), format!("须为以下之一：{names}"))
        })?;
        let pile = self.pile(ocpp_id).await?.ok_or(Error::not_found("pile"))?;
        if let Some(n) = connector_no {
            check_connector(&pile, n)?;
        }
        if message == TriggeredMessage::BootNotification {
            return Err(Error::Conflict {
                code: "trigger_not_allowed",
                field: Some("requested_message"),
                message: "BootNotification may not be triggered on a pile that was accepted (OCPP 1.6 errata); reset the pile to make it boot".into(),
                message_zh: "充电桩已通过注册，OCPP 1.6 勘误禁止再触发 BootNotification；如需重新注册请重启充电桩".into(),
            });
        }
        let control = self.pile_control()?;
        if !control.is_connected(ocpp_id) {
            return Err(pile_offline(ocpp_id));
        }
        let reply = control.trigger_message(ocpp_id, message, connector_no).await;
        let about = match connector_no {
            Some(n) => format!("{} for connector {n}", message.as_str()),
            None => message.as_str().to_owned(),
        };
        let status = self.audit_command(admin, ocpp_id, "pile.trigger_message", &about, reply.map(trigger_status)).await?;
        Ok(PileCommandResult { ocpp_id: ocpp_id.to_owned(), command: "TriggerMessage", connector_id: connector_no, status })
    }

    /// Releases the cable lock of a connector (OCPP UnlockConnector). Refused while a session
    /// runs there: firmware ends the transaction to unlock, so an unlock would stop someone's
    /// charge from the back office; stop the session instead.
    pub async fn unlock_pile_connector(&self, admin: &str, ocpp_id: &str, connector_no: i64) -> Result<PileCommandResult> {
        let pile = self.pile(ocpp_id).await?.ok_or(Error::not_found("pile"))?;
        check_connector(&pile, connector_no)?;
        let running = {
            let mut conn = self.db.acquire().await?;
            pile_sessions::open_on(&mut conn, ocpp_id, connector_no).await?
        };
        let charging_there =
            pile.connector_id(connector_no).is_some_and(|id| self.hub.reading(id).is_some_and(|r| r.status == domain::station::ConnectorStatus::Charging));
        if !running.is_empty() || charging_there {
            return Err(Error::Conflict {
                code: "session_running",
                field: Some("connector_id"),
                message: format!("a charging session runs on connector {connector_no}; stop it before unlocking"),
                message_zh: format!("{connector_no} 号枪正在充电，请先停止充电再解锁"),
            });
        }
        let control = self.pile_control()?;
        if !control.is_connected(ocpp_id) {
            return Err(pile_offline(ocpp_id));
        }
        let reply = control.unlock_connector(ocpp_id, connector_no).await;
        let about = format!("connector {connector_no}");
        let status = self.audit_command(admin, ocpp_id, "pile.unlock_connector", &about, reply.map(unlock_status)).await?;
        Ok(PileCommandResult { ocpp_id: ocpp_id.to_owned(), command: "UnlockConnector", connector_id: Some(connector_no), status })
    }

    /// Audits a command that went to the pile, answered or not, and turns its error into ours.
    async fn audit_command(
        &self,
        admin: &str,
        ocpp_id: &str,
        action: &str,
        about: &str,
        reply: Result<&'static str, PileCommandError>,
    ) -> Result<&'static str> {
        let outcome = match &reply {
            Ok(status) => Some(*status),
            Err(PileCommandError::NoAnswer(_)) => Some("no_answer"),
            // Never sent: nothing happened to audit.
            Err(PileCommandError::Offline) => None,
        };
        if let Some(outcome) = outcome {
            let entry = AuditEntry {
                at: self.now(),
                actor: format!("admin:{admin}"),
                action: action.to_owned(),
                subject_type: "pile".into(),
                subject_id: ocpp_id.to_owned(),
                from_state: None,
                to_state: Some(outcome.to_owned()),
                reason: Some(about.to_owned()),
            };
            let mut conn = self.db.acquire().await?;
            audit::record(&mut conn, &entry).await?;
        }
        match reply {
            Ok(status) => {
                tracing::info!(pile = ocpp_id, admin, action, about, status, "pile command answered");
                Ok(status)
            }
            Err(PileCommandError::Offline) => Err(pile_offline(ocpp_id)),
            Err(PileCommandError::NoAnswer(why)) => Err(no_answer(ocpp_id, &why)),
        }
    }

    /// A pile's audited commands, oldest first.
    pub async fn pile_audit(&self, ocpp_id: &str) -> Result<Vec<AuditEntry>> {
        self.pile(ocpp_id).await?.ok_or(Error::not_found("pile"))?;
        let mut conn = self.db.acquire().await?;
        Ok(audit::for_subject(&mut conn, "pile", ocpp_id).await?)
    }
}
