//! Typed payloads of every OCPP 1.6 message we send or handle, one file per feature area.
//!
//! Field names, optionality and enums follow the 2019 corrected JSON schemas. Unknown fields are
//! ignored when reading (tolerant reader); absent optional fields are omitted when writing.

mod common;
mod configuration;
mod core;
mod remote;
mod reservation;
mod transaction;

pub use common::*;
pub use configuration::*;
pub use core::*;
pub use remote::*;
pub use reservation::*;
pub use transaction::*;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::CallError;

/// A `.req` payload: knows its Action name and its `.conf` type.
pub trait Request: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Case-sensitive Action name on the wire (without `.req`).
    const ACTION: &'static str;
    type Response: Serialize + DeserializeOwned + Send + Sync + 'static;
}

macro_rules! request {
    ($req:ty => $resp:ty, $action:literal) => {
        impl $crate::messages::Request for $req {
            const ACTION: &'static str = $action;
            type Response = $resp;
        }
    };
}
pub(crate) use request;

/// Decodes a CALL payload, mapping failures to the CALLERROR code the specification asks for.
pub fn decode<T: DeserializeOwned>(action: &str, payload: Value) -> Result<T, CallError> {
    serde_json::from_value(payload).map_err(|e| CallError::from_decode(action, &e))
}

/// Encodes a payload. Our types always serialize to a JSON object.
pub fn encode<T: Serialize>(payload: &T) -> Value {
    serde_json::to_value(payload).unwrap_or_else(|_| Value::Object(Default::default()))
}

/// Decodes a CALLRESULT payload into the request's response type.
pub(crate) fn decode_response<R: Request>(payload: Value) -> Result<R::Response, crate::error::CommandError> {
    serde_json::from_value(payload).map_err(|e| crate::error::CommandError::InvalidResponse(format!("{}: {e}", R::ACTION)))
}
