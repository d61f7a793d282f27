//! The central system (server role): accepts charge point connections on
//! `/ocpp/{chargePointId}`, hands their CALLs to the application through
//! [`CentralSystemHandler`], and sends commands through the cloneable [`CentralSystem`] handle.
//!
//! Wiring: the application implements [`ChargePointAuth`] and [`CentralSystemHandler`], builds
//! `CentralSystem::new(config, auth, handler)` and merges `central_system.router()` into its
//! axum app.

mod config;
mod connection;
mod dispatch;
mod ports;
mod registry;
mod upgrade;

pub use config::CentralSystemConfig;
pub use ports::{AuthDecision, CentralSystemHandler, ChargePointAuth, DisconnectReason, password_matches};
pub use registry::CentralSystem;

/// The subprotocol we speak.
pub const SUBPROTOCOL: &str = "ocpp1.6";
