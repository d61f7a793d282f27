//! Joins the T/CEC 102 crate to the application: the partner directory, the flow-A gateway
//! (we call partners' piles) and notification handler (partners call us), and flow B's
//! operator side (partners use our piles) with its outbound notifications.

mod clients;
mod codes;
mod directory;
mod errors;
mod gateway;
mod notices;
mod notify;
mod operator;
mod platform;
mod token_store;

pub use clients::PartnerClients;
pub use notify::{CecNotifier, handles as notifier_handles};

pub use directory::ServicesDirectory;
pub use gateway::CecOperatorGateway;
pub use operator::OperatorAdapter;
pub use platform::PlatformAdapter;
pub use token_store::DbTokens;
