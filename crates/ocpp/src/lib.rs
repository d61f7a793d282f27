//! OCPP 1.6J: message types and RPC framing, the central system (server role) that drives our
//! own charge points, and the charge point role used by the pile simulator.
//!
//! The crate speaks only the wire; the application plugs in through the port traits
//! [`central_system::ChargePointAuth`] and [`central_system::CentralSystemHandler`] and never
//! the other way round.

pub mod central_system;
pub mod charge_point;
pub mod enums;
pub mod error;
pub mod messages;
pub mod rpc;
mod session;
pub mod time;
pub mod types;

pub use central_system::{CentralSystem, CentralSystemConfig, CentralSystemHandler, ChargePointAuth};
pub use error::{CallError, CallErrorCode, CommandError};
pub use messages::Request;
pub use session::SessionEnd;
pub use types::{ChargePointId, CiString, IdToken};
