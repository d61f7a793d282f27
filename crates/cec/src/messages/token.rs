use serde::{Deserialize, Serialize};

use super::common::{SuccStat, int, int_enum};

/// `query_token` request (§6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryToken {
    #[serde(rename = "OperatorID")]
    pub operator_id: String,
    #[serde(rename = "OperatorSecret")]
    pub operator_secret: String,
}

int_enum!(
    /// Why a token was refused.
    TokenFailReason "FailReason" { None = 0, NoSuchOperator = 1, WrongSecret = 2 } custom 3..=99
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryTokenResponse {
    #[serde(rename = "OperatorID")]
    pub operator_id: String,
    pub succ_stat: SuccStat,
    #[serde(default)]
    pub access_token: String,
    /// Seconds.
    #[serde(with = "int")]
    pub token_available_time: i64,
    pub fail_reason: TokenFailReason,
}
