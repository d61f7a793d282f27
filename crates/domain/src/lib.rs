//! The pure core of chargebridge: types and rules with no I/O and no async.
//!
//! Everything that decides something about money, state or identity lives here so it can be
//! tested without a database, a network or a clock (time is always passed in).

pub mod credit_code;
pub mod daily_check;
pub mod endpoint;
pub mod geo;
pub mod money;
pub mod order;
pub mod partner;
pub mod settlement;
pub mod station;
pub mod tariff;
