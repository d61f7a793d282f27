//! Errors of the OCPP layer: CALLERROR codes on the wire and the outcome of our own CALLs.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// CALLERROR `errorCode`. The spelling is normative, typos included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CallErrorCode {
    /// Action unknown to the receiver.
    NotImplemented,
    /// Action known but not supported.
    NotSupported,
    InternalError,
    /// Payload incomplete.
    ProtocolError,
    /// Security problem, also "charge point not accepted yet".
    SecurityError,
    /// Payload not conforming to the PDU structure (1.6 spelling; 2.0 says `FormatViolation`).
    #[serde(alias = "FormatViolation")]
    FormationViolation,
    /// A field has an invalid value.
    PropertyConstraintViolation,
    /// A required field is missing or repeated (1.6 spelling with one "r").
    #[serde(alias = "OccurrenceConstraintViolation")]
    OccurenceConstraintViolation,
    /// A field has the wrong JSON type.
    TypeConstraintViolation,
    GenericError,
}

impl CallErrorCode {
    /// Reads a received code; unknown codes become `GenericError` rather than failing the frame.
    pub fn from_wire(text: &str) -> Self {
        serde_json::from_value(Value::String(text.to_owned())).unwrap_or(Self::GenericError)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotImplemented => "NotImplemented",
            Self::NotSupported => "NotSupported",
            Self::InternalError => "InternalError",
            Self::ProtocolError => "ProtocolError",
            Self::SecurityError => "SecurityError",
            Self::FormationViolation => "FormationViolation",
            Self::PropertyConstraintViolation => "PropertyConstraintViolation",
            Self::OccurenceConstraintViolation => "OccurenceConstraintViolation",
            Self::TypeConstraintViolation => "TypeConstraintViolation",
            Self::GenericError => "GenericError",
        }
    }
}

impl std::fmt::Display for CallErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The content of a CALLERROR: what a handler returns to refuse a CALL at the RPC level.
///
/// Business refusals (`status: Rejected`) are normal responses, not this.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct CallError {
    pub code: CallErrorCode,
    pub description: String,
    /// `errorDetails`; `{}` when there are none.
    pub details: Value,
}

impl CallError {
    pub fn new(code: CallErrorCode, description: impl Into<String>) -> Self {
        Self { code, description: description.into(), details: Value::Object(Default::default()) }
    }

    /// The receiver failed internally (e.g. storage down); the sender may retry.
    pub fn internal(description: impl Into<String>) -> Self {
        Self::new(CallErrorCode::InternalError, description)
    }

    /// Maps a payload decoding failure to the most specific code of the specification.
    ///
    /// serde_json does not expose the failure kind, so its message is inspected; the fallback
    /// is `FormationViolation`.
    pub fn from_decode(action: &str, err: &serde_json::Error) -> Self {
        let msg = err.to_string();
        let code = if msg.starts_with("missing field") || msg.starts_with("duplicate field") {
            CallErrorCode::OccurenceConstraintViolation
        } else if msg.starts_with("invalid type") {
            CallErrorCode::TypeConstraintViolation
        } else if msg.starts_with("unknown variant") || msg.starts_with("invalid value") || msg.starts_with("invalid length") {
            CallErrorCode::PropertyConstraintViolation
        } else {
            CallErrorCode::FormationViolation
        };
        Self::new(code, format!("{action}: {msg}"))
    }
}

/// Why a CALL we sent (in either role) did not produce a response.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    /// No live connection for this charge point.
    #[error("charge point not connected")]
    NotConnected,
    /// The per-connection queue of outgoing CALLs is full.
    #[error("too many commands queued for this connection")]
    Busy,
    /// The charge point has not been Accepted; Remote start/stop are not allowed while Pending.
    #[error("charge point registration is not Accepted")]
    NotAccepted,
    /// No answer before the deadline (queue wait included).
    #[error("no answer within the call timeout")]
    Timeout,
    /// The connection closed before the answer arrived.
    #[error("connection lost before the answer arrived")]
    ConnectionLost,
    /// The peer answered with a CALLERROR.
    #[error("CALLERROR {code}: {description}")]
    CallError { code: CallErrorCode, description: String },
    /// The CALLRESULT payload does not match the response schema.
    #[error("invalid response payload: {0}")]
    InvalidResponse(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_keep_the_normative_typos() {
        assert_eq!(serde_json::to_string(&CallErrorCode::OccurenceConstraintViolation).unwrap(), "\"OccurenceConstraintViolation\"");
        assert_eq!(CallErrorCode::from_wire("FormatViolation"), CallErrorCode::FormationViolation);
        assert_eq!(CallErrorCode::from_wire("SomethingNew"), CallErrorCode::GenericError);
    }
}
