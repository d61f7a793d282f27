//! Partner simulators: third-party platforms and piles that speak the wire protocols.

pub mod cec_cpo;
pub mod cec_emsp;
mod directory;
mod energy_meter;
pub mod piles;
pub mod rest_cpo;
pub mod rest_emsp;
