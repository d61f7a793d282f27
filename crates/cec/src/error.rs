//! `Ret` codes (T/CEC 102 §4.3) and the one place where server-side failures become them.

use serde::{Deserialize, Serialize};

/// Envelope result codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ret {
    /// -1 系统繁忙
    Busy,
    /// 0: accepted; the business result is inside Data.
    Ok,
    /// 4001 签名错误
    Signature,
    /// 4002 Token 错误
    Token,
    /// 4003 envelope invalid (missing field, unknown OperatorID, Data that will not decrypt)
    Envelope,
    /// 4004 业务参数不合法
    Parameter,
    /// 500 系统错误
    System,
    /// Any other code a partner sends.
    Other(i64),
}

impl Ret {
    pub fn code(self) -> i64 {
        match self {
            Self::Busy => -1,
            Self::Ok => 0,
            Self::Signature => 4001,
            Self::Token => 4002,
            Self::Envelope => 4003,
            Self::Parameter => 4004,
            Self::System => 500,
            Self::Other(code) => code,
        }
    }

    pub fn from_code(code: i64) -> Self {
        match code {
            -1 => Self::Busy,
            0 => Self::Ok,
            4001 => Self::Signature,
            4002 => Self::Token,
            4003 => Self::Envelope,
            4004 => Self::Parameter,
            500 => Self::System,
            other => Self::Other(other),
        }
    }
}

/// A refusal from our server: the `Ret` and a `Msg` that tells the caller what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Ret {}: {msg}", ret.code())]
pub struct Refusal {
    pub ret: Ret,
    pub msg: String,
}

impl Refusal {
    pub fn new(ret: Ret, msg: impl Into<String>) -> Self {
        Self { ret, msg: msg.into() }
    }
    pub fn envelope(msg: impl Into<String>) -> Self {
        Self::new(Ret::Envelope, msg)
    }
    pub fn parameter(msg: impl Into<String>) -> Self {
        Self::new(Ret::Parameter, msg)
    }
}

/// What a business handler may answer instead of a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// The request's business fields are wrong (→ 4004); say which.
    #[error("{0}")]
    BadParameter(String),
    /// Try again later (→ -1).
    #[error("busy: {0}")]
    Busy(String),
    /// Our fault (→ 500); the detail is logged, not sent.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<HandlerError> for Refusal {
    fn from(e: HandlerError) -> Self {
        match e {
            HandlerError::BadParameter(msg) => Refusal::parameter(msg),
            HandlerError::Busy(msg) => Refusal::new(Ret::Busy, format!("系统繁忙 / busy: {msg}")),
            HandlerError::Internal(detail) => {
                tracing::error!(%detail, "T/CEC 102 handler failed");
                Refusal::new(Ret::System, "系统错误 / system error")
            }
        }
    }
}
