//! Partner simulators: third-party platforms and piles that speak the wire protocols.

pub mod cec_cpo;
pub mod cec_emsp;
mod directory;
pub mod piles;
