//! T/CEC 102-2016 (中电联《电动汽车充换电服务信息交换》, "互联互通") in both roles.
//!
//! - [`crypto`], [`envelope`]: AES-128-CBC + HMAC-MD5 envelopes, exactly as the standard writes
//!   them and tolerant of the deviations real partners send.
//! - [`messages`]: typed payloads of `query_token` and every business interface, plus our
//!   reservation extension.
//! - [`server`]: an axum router for `/evcs/{version}/{interface}` that authenticates, decrypts
//!   and hands typed requests to port traits the application implements.
//! - [`client`]: calls a partner's interfaces with token caching and safe retries.
//!
//! The crate knows nothing of storage or of the application.

pub mod bench;
pub mod client;
pub mod crypto;
pub mod envelope;
pub mod error;
pub mod messages;
pub mod secrets;
pub mod server;
pub mod time;
pub mod tolerant;

pub use client::{CecClient, ClientConfig, ClientError};
pub use crypto::Keys;
pub use error::Ret;
pub use secrets::Secrets;
