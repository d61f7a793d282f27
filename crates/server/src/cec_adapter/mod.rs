//! Joins the T/CEC 102 crate to the application: the partner directory, the flow-A gateway
//! (we call partners' piles) and the flow-A notification handler (partners call us).

mod directory;
mod gateway;
mod operator;
mod platform;

pub use directory::ServicesDirectory;
pub use gateway::CecOperatorGateway;
pub use operator::OperatorAdapter;
pub use platform::PlatformAdapter;
