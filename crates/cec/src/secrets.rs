//! The secret set of one call direction (T/CEC 102 §3): the server of a direction issues
//! OperatorSecret, DataSecret, DataSecretIV and SigSecret to the caller.

use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secrets {
    pub operator_secret: String,
    pub data_secret: String,
    pub data_secret_iv: String,
    pub sig_secret: String,
}

impl Secrets {
    pub fn new(operator_secret: &str, data_secret: &str, data_secret_iv: &str, sig_secret: &str) -> Self {
        Self { operator_secret: operator_secret.into(), data_secret: data_secret.into(), data_secret_iv: data_secret_iv.into(), sig_secret: sig_secret.into() }
    }
}

/// Secrets never reach logs.
impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(..)")
    }
}
