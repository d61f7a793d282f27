//! Ports the application implements: who may connect, and what to do with each CALL.

use async_trait::async_trait;
use chrono::Utc;

use crate::enums::DataTransferStatus;
use crate::error::CallError;
use crate::messages::*;
use crate::session::SessionEnd;
use crate::types::ChargePointId;

/// Outcome of checking an upgrade request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthDecision {
    Accept,
    /// Identity unknown: answered with HTTP 404, as the specification suggests.
    UnknownChargePoint,
    /// Wrong or missing credentials: HTTP 401.
    Refuse,
}

/// Security profile 1/2 Basic authentication of charge points.
#[async_trait]
pub trait ChargePointAuth: Send + Sync + 'static {
    /// `password` is the raw bytes after `<id>:` in the Basic header (it may be the raw
    /// AuthorizationKey bytes, not UTF-8; see [`password_matches`]); `None` when the request
    /// carried no Basic credentials. A username different from `cp` never reaches this call.
    async fn verify(&self, cp: &ChargePointId, password: Option<&[u8]>) -> AuthDecision;
}

/// Closures work as authenticators in tests and tools.
#[async_trait]
impl<F> ChargePointAuth for F
where
    F: Fn(&ChargePointId, Option<&[u8]>) -> AuthDecision + Send + Sync + 'static,
{
    async fn verify(&self, cp: &ChargePointId, password: Option<&[u8]>) -> AuthDecision {
        self(cp, password)
    }
}

/// The specification's password rule: a charge point may send the AuthorizationKey as raw
/// bytes or as its hexadecimal text (any case); both are accepted. Compares in constant time
/// with respect to the content.
pub fn password_matches(key: &[u8], presented: &[u8]) -> bool {
    fn ct_eq(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
    let hex: Vec<u8> = key.iter().flat_map(|b| format!("{b:02x}").into_bytes()).collect();
    let lowered: Vec<u8> = presented.to_ascii_lowercase();
    ct_eq(key, presented) | ct_eq(&hex, &lowered)
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The charge point closed the socket or the network failed.
    Closed,
    /// No traffic within heartbeat interval × offline factor.
    Offline,
    /// A newer connection with the same identity took over: the charge point is still
    /// reachable, through that connection (whose `connected` follows).
    Replaced,
    /// We closed it on request ([`super::CentralSystem::disconnect`]).
    ClosedByUs,
    /// The charge point sent a message above `max_message_size`; closed with 1009.
    MessageTooBig,
}

impl From<SessionEnd> for DisconnectReason {
    fn from(end: SessionEnd) -> Self {
        match end {
            SessionEnd::PeerClosed => Self::Closed,
            SessionEnd::Idle => Self::Offline,
            SessionEnd::Closed => Self::ClosedByUs,
            SessionEnd::TooBig => Self::MessageTooBig,
        }
    }
}

/// What the application does with the CALLs of a charge point.
///
/// Each method answers one `.req`. Return business refusals as normal responses; return a
/// [`CallError`] only when the request cannot be processed (it becomes a CALLERROR and the
/// charge point will retry transaction messages). Calls of one charge point arrive one at a time
/// and in order; different charge points are served concurrently.
///
/// `connected` happens-before any CALL of that connection; `disconnected` of a connection
/// happens-before `connected` of the connection that replaces it.
#[async_trait]
pub trait CentralSystemHandler: Send + Sync + 'static {
    async fn connected(&self, _cp: &ChargePointId) {}

    async fn disconnected(&self, _cp: &ChargePointId, _reason: DisconnectReason) {}

    /// Unknown or blocked charge points get `Rejected` (or `Pending` while onboarding).
    /// While the last answer on this connection is not Accepted, other CALLs get `SecurityError`.
    async fn boot_notification(&self, cp: &ChargePointId, req: BootNotificationRequest) -> Result<BootNotificationResponse, CallError>;

    async fn heartbeat(&self, _cp: &ChargePointId, _req: HeartbeatRequest) -> Result<HeartbeatResponse, CallError> {
        Ok(HeartbeatResponse { current_time: Utc::now() })
    }

    async fn status_notification(&self, _cp: &ChargePointId, _req: StatusNotificationRequest) -> Result<StatusNotificationResponse, CallError> {
        Ok(StatusNotificationResponse {})
    }

    async fn authorize(&self, cp: &ChargePointId, req: AuthorizeRequest) -> Result<AuthorizeResponse, CallError>;

    /// Must deduplicate retries (same connector, idTag, timestamp, meterStart → same id).
    async fn start_transaction(&self, cp: &ChargePointId, req: StartTransactionRequest) -> Result<StartTransactionResponse, CallError>;

    /// Must answer unknown transaction ids (and -1) normally.
    async fn stop_transaction(&self, cp: &ChargePointId, req: StopTransactionRequest) -> Result<StopTransactionResponse, CallError>;

    async fn meter_values(&self, _cp: &ChargePointId, _req: MeterValuesRequest) -> Result<MeterValuesResponse, CallError> {
        Ok(MeterValuesResponse {})
    }

    async fn data_transfer(&self, _cp: &ChargePointId, _req: DataTransferRequest) -> Result<DataTransferResponse, CallError> {
        Ok(DataTransferResponse { status: DataTransferStatus::UnknownVendorId, data: None })
    }

    async fn diagnostics_status_notification(
        &self,
        _cp: &ChargePointId,
        _req: DiagnosticsStatusNotificationRequest,
    ) -> Result<DiagnosticsStatusNotificationResponse, CallError> {
        Ok(DiagnosticsStatusNotificationResponse {})
    }

    async fn firmware_status_notification(
        &self,
        _cp: &ChargePointId,
        _req: FirmwareStatusNotificationRequest,
    ) -> Result<FirmwareStatusNotificationResponse, CallError> {
        Ok(FirmwareStatusNotificationResponse {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_may_be_raw_key_or_hex_text() {
        let key = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(password_matches(&key, &key));
        assert!(password_matches(&key, b"0001020304050607FFFFFFFFFFFFFFFFFFFFFFFF"));
        assert!(password_matches(&key, b"0001020304050607ffffffffffffffffffffffff"));
        assert!(!password_matches(&key, b"0001020304050607ffffffffffffffffffffff00"));
        assert!(!password_matches(&key, b""));
    }
}
