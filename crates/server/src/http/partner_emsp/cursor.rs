//! Opaque page cursors: where the next page starts, as base64url JSON. Partners must pass them
//! back as given; one that does not decode is bad input, never a server error.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use services::Error;

pub fn encode<T: Serialize>(position: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).expect("cursor positions serialize"))
}

pub fn decode<T: DeserializeOwned>(cursor: &str) -> Result<T, Error> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| invalid())?;
    serde_json::from_slice(&bytes).map_err(|_| invalid())
}

pub fn invalid() -> Error {
    Error::invalid("cursor", "the cursor is not one we gave out; pass `next_cursor` as received", "cursor 无效，请原样传回上一页的 next_cursor")
}
