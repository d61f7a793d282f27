//! Our partner REST API's outbound half: the commands we send to a REST operator's command
//! endpoint (flow A). Its inbound half — what partners call — is in `http::partner_cpo*` and
//! `http::partner_emsp`.

mod answers;
mod gateway;

pub use answers::failure_reason;
pub use gateway::RestOperatorGateway;
