//! The pure core of chargebridge: types and rules with no I/O and no async.
//!
//! Everything that decides something about money, state or identity lives here so it can be
//! tested without a database, a network or a clock (time is always passed in).

/// The words an enum is known by outside the program — in the store and in our own APIs — the
/// same as its serde names: `as_str`, `parse` and `ALL`. Protocol codes are not words: each
/// protocol adapter maps its own codes onto these enums.
macro_rules! words {
    ($name:ident { $($variant:ident => $word:literal),* $(,)? }) => {
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $word),* }
            }

            pub fn parse(word: &str) -> Option<Self> {
                match word { $($word => Some(Self::$variant),)* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

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
