//! OCPP-J RPC framing: `[2,id,action,payload]`, `[3,id,payload]`, `[4,id,code,desc,details]`.
//!
//! Parsing decides what the receiver must do with a bad frame: answer a CALLERROR (when the
//! frame is, or may be, a CALL), or ignore it (unknown MessageTypeId, broken responses, which
//! cannot be answered).

use serde_json::{Map, Value};

use crate::error::{CallError, CallErrorCode};

/// Maximum length of a UniqueId.
pub const MAX_UNIQUE_ID_LEN: usize = 36;

/// One parsed WebSocket text frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Call { id: String, action: String, payload: Value },
    CallResult { id: String, payload: Value },
    CallError { id: String, error: CallError },
}

/// What to do with a frame that is not a valid [`Frame`].
#[derive(Debug, Clone, PartialEq)]
pub enum FrameError {
    /// Unknown MessageTypeId: the specification says to ignore it.
    UnknownType(i64),
    /// A malformed CALLRESULT/CALLERROR: nothing can be answered, log and drop it.
    BadResponse(String),
    /// A malformed CALL (or an unreadable frame): answer `[4, reply_id, code, ...]`.
    ///
    /// `reply_id` is the frame's UniqueId when it could be read, else `"-1"`.
    BadCall { reply_id: String, error: CallError },
}

impl Frame {
    /// Parses one text frame.
    pub fn parse(text: &str) -> Result<Frame, FrameError> {
        let value: Value = serde_json::from_str(text).map_err(|e| bad_call("-1", CallErrorCode::FormationViolation, format!("not JSON: {e}")))?;
        let Value::Array(items) = value else {
            return Err(bad_call("-1", CallErrorCode::FormationViolation, "frame is not a JSON array"));
        };
        let reply_id = match items.get(1) {
            Some(Value::String(s)) if s.len() <= MAX_UNIQUE_ID_LEN => s.clone(),
            _ => "-1".to_owned(),
        };
        let type_id = match items.first() {
            Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64().unwrap_or_default(),
            _ => {
                return Err(bad_call(&reply_id, CallErrorCode::FormationViolation, "MessageTypeId must be an integer"));
            }
        };
        match type_id {
            2 => parse_call(items, reply_id),
            3 => parse_result(items).map_err(FrameError::BadResponse),
            4 => parse_error(items).map_err(FrameError::BadResponse),
            other => Err(FrameError::UnknownType(other)),
        }
    }

    /// Serializes to the wire text.
    pub fn to_text(&self) -> String {
        let value = match self {
            Frame::Call { id, action, payload } => Value::Array(vec![2.into(), id.as_str().into(), action.as_str().into(), payload.clone()]),
            Frame::CallResult { id, payload } => Value::Array(vec![3.into(), id.as_str().into(), payload.clone()]),
            Frame::CallError { id, error } => {
                let details = if error.details.is_object() { error.details.clone() } else { Value::Object(Map::new()) };
                Value::Array(vec![4.into(), id.as_str().into(), error.code.as_str().into(), error.description.as_str().into(), details])
            }
        };
        value.to_string()
    }

    /// The UniqueId of any frame kind.
    pub fn id(&self) -> &str {
        match self {
            Frame::Call { id, .. } | Frame::CallResult { id, .. } | Frame::CallError { id, .. } => id,
        }
    }
}

fn bad_call(reply_id: &str, code: CallErrorCode, description: impl Into<String>) -> FrameError {
    FrameError::BadCall { reply_id: reply_id.to_owned(), error: CallError::new(code, description) }
}

fn parse_id(items: &[Value]) -> Result<String, String> {
    match items.get(1) {
        Some(Value::String(s)) if s.is_empty() => Err("UniqueId is empty".into()),
        Some(Value::String(s)) if s.len() > MAX_UNIQUE_ID_LEN => Err(format!("UniqueId longer than {MAX_UNIQUE_ID_LEN}")),
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err("UniqueId must be a string".into()),
    }
}

fn parse_call(mut items: Vec<Value>, reply_id: String) -> Result<Frame, FrameError> {
    let formation = |d: String| bad_call(&reply_id, CallErrorCode::FormationViolation, d);
    let id = parse_id(&items).map_err(formation)?;
    if items.len() != 4 {
        return Err(formation(format!("CALL must have 4 elements, got {}", items.len())));
    }
    let payload = items.pop().unwrap_or(Value::Null);
    let Some(Value::String(action)) = items.pop() else {
        return Err(formation("Action must be a string".into()));
    };
    if !payload.is_object() {
        return Err(formation("payload must be a JSON object".into()));
    }
    Ok(Frame::Call { id, action, payload })
}

fn parse_result(mut items: Vec<Value>) -> Result<Frame, String> {
    let id = parse_id(&items)?;
    if items.len() != 3 {
        return Err(format!("CALLRESULT must have 3 elements, got {}", items.len()));
    }
    let payload = items.pop().unwrap_or(Value::Null);
    if !payload.is_object() {
        return Err("CALLRESULT payload must be a JSON object".into());
    }
    Ok(Frame::CallResult { id, payload })
}

/// Tolerates a missing `errorDetails` (some implementations omit it) but not a missing code.
fn parse_error(items: Vec<Value>) -> Result<Frame, String> {
    let id = parse_id(&items)?;
    if !(4..=5).contains(&items.len()) {
        return Err(format!("CALLERROR must have 5 elements, got {}", items.len()));
    }
    let Some(Value::String(code)) = items.get(2) else {
        return Err("errorCode must be a string".into());
    };
    let description = items.get(3).and_then(Value::as_str).unwrap_or_default().to_owned();
    let details = items.get(4).filter(|d| d.is_object()).cloned().unwrap_or_else(|| Value::Object(Map::new()));
    Ok(Frame::CallError { id, error: CallError { code: CallErrorCode::from_wire(code), description, details } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_specification_examples() {
        let call = Frame::parse(r#"[2, "19223201", "BootNotification", {"chargePointVendor": "VendorX", "chargePointModel": "SingleSocketCharger"}]"#).unwrap();
        assert_eq!(
            call,
            Frame::Call {
                id: "19223201".into(),
                action: "BootNotification".into(),
                payload: json!({"chargePointVendor": "VendorX", "chargePointModel": "SingleSocketCharger"}),
            }
        );
        let result = Frame::parse(r#"[3, "19223201", {"status": "Accepted", "currentTime": "2013-02-01T20:53:32.486Z", "interval": 300}]"#).unwrap();
        assert_eq!(result.id(), "19223201");
        let err = Frame::parse(r#"[4, "162376037", "NotSupported", "SendLocalList.req not implemented", {}]"#).unwrap();
        let Frame::CallError { error, .. } = err else { panic!("not a CALLERROR") };
        assert_eq!(error.code, CallErrorCode::NotSupported);
        assert_eq!(error.description, "SendLocalList.req not implemented");
    }

    #[test]
    fn writes_frames_in_canonical_form() {
        let f = Frame::CallError { id: "1".into(), error: CallError::new(CallErrorCode::NotImplemented, "") };
        assert_eq!(f.to_text(), r#"[4,"1","NotImplemented","",{}]"#);
        let f = Frame::Call { id: "a".into(), action: "Heartbeat".into(), payload: json!({}) };
        assert_eq!(f.to_text(), r#"[2,"a","Heartbeat",{}]"#);
    }

    fn bad_call_code(text: &str) -> (String, CallErrorCode) {
        match Frame::parse(text) {
            Err(FrameError::BadCall { reply_id, error }) => (reply_id, error.code),
            other => panic!("expected BadCall, got {other:?}"),
        }
    }

    #[test]
    fn malformed_calls_get_formation_violation_with_their_id_when_readable() {
        assert_eq!(bad_call_code("not json"), ("-1".into(), CallErrorCode::FormationViolation));
        assert_eq!(bad_call_code("{}"), ("-1".into(), CallErrorCode::FormationViolation));
        assert_eq!(bad_call_code(r#"[2, "7", "Heartbeat"]"#), ("7".into(), CallErrorCode::FormationViolation));
        assert_eq!(bad_call_code(r#"[2, "7", "Heartbeat", null]"#), ("7".into(), CallErrorCode::FormationViolation));
        assert_eq!(bad_call_code(r#"[2, 7, "Heartbeat", {}]"#), ("-1".into(), CallErrorCode::FormationViolation));
        let long = "x".repeat(37);
        assert_eq!(bad_call_code(&format!(r#"[2, "{long}", "Heartbeat", {{}}]"#)).1, CallErrorCode::FormationViolation);
    }

    #[test]
    fn unknown_message_type_is_ignored_and_bad_responses_are_not_answered() {
        assert_eq!(Frame::parse(r#"[5, "1", {}]"#), Err(FrameError::UnknownType(5)));
        assert!(matches!(Frame::parse(r#"[3, "1"]"#), Err(FrameError::BadResponse(_))));
    }
}
