//! The services' one error type. Each variant carries what a person needs to fix the problem;
//! the HTTP layer maps it to a status once (server `http/error.rs`).

use domain::partner::{FieldError, ReviewError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more fields are wrong; all of them are listed.
    #[error("invalid input: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// The request could not be read at all (malformed JSON, wrong content type).
    #[error("malformed request: {0}")]
    Malformed(String),
    /// `what` is one of the nouns [`noun_zh`] knows, so both languages name it.
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// The request conflicts with what exists (duplicate registration, …).
    #[error("{message}")]
    Conflict { code: &'static str, field: Option<&'static str>, message: String, message_zh: String },
    #[error(transparent)]
    Review(#[from] ReviewError),
    #[error("{}", .0.message())]
    Unauthorized(AuthFailure),
    /// Authenticated but not allowed (e.g. a partner that is not approved).
    #[error("{message}")]
    Forbidden { message: String, message_zh: String },
    #[error("file is larger than the limit of {limit_bytes} bytes")]
    TooLarge { limit_bytes: usize },
    #[error("file type is not accepted; allowed: {allowed}")]
    UnsupportedType { allowed: &'static str },
    /// A partner or device we depend on did not answer or refused; try again later.
    #[error("{message}")]
    Unavailable { message: String, message_zh: String },
    /// One of our devices did not answer in time: what it did is unknown.
    #[error("{message}")]
    NoAnswer { code: &'static str, message: String, message_zh: String },
    /// Too many attempts from one address or on one account (logins, token requests): wait.
    #[error("too many attempts; try again in {retry_after_secs} seconds")]
    TooManyAttempts { retry_after_secs: u64 },
    /// A partner API client over its request rate: wait.
    #[error("request rate over this client's limit; retry in {retry_after_secs} seconds")]
    RateLimited { retry_after_secs: u64 },
    #[error("storage error: {0}")]
    Store(#[from] store::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why authentication failed; the OAuth2 endpoint maps these to RFC 6749 error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// Unknown client_id or wrong secret (indistinguishable on purpose).
    InvalidClient,
    /// The bearer token is unknown.
    InvalidToken,
    ExpiredToken,
    /// The token's partner is suspended: it must talk to us, a new token would be refused too.
    PartnerSuspended,
    /// Admin login failed.
    BadLogin,
    /// No credentials were sent.
    Missing,
    /// The token lacks the scope the endpoint needs.
    InsufficientScope(&'static str),
}

impl AuthFailure {
    pub fn message(&self) -> String {
        match self {
            Self::InvalidClient => "client authentication failed: unknown client_id or wrong client_secret".into(),
            Self::InvalidToken => "the access token is not valid".into(),
            Self::ExpiredToken => "the access token has expired; request a new one at /oauth/token".into(),
            Self::PartnerSuspended => {
                "this partner is suspended, so its access tokens no longer work; the partner portal shows why, and access returns when the platform reinstates it"
                    .into()
            }
            Self::BadLogin => "wrong username or password".into(),
            Self::Missing => "authentication required: send `Authorization: Bearer <token>`".into(),
            Self::InsufficientScope(s) => format!("the access token lacks the `{s}` scope"),
        }
    }
    pub fn message_zh(&self) -> String {
        match self {
            Self::InvalidClient => "客户端认证失败：client_id 不存在或 client_secret 错误".into(),
            Self::InvalidToken => "访问令牌无效".into(),
            Self::ExpiredToken => "访问令牌已过期，请重新获取".into(),
            Self::PartnerSuspended => "合作商已被暂停，访问令牌已失效；暂停原因可在合作商门户查看，平台恢复后方可再次访问".into(),
            Self::BadLogin => "用户名或密码错误".into(),
            Self::Missing => "需要认证：请携带 Authorization: Bearer 令牌".into(),
            Self::InsufficientScope(s) => format!("访问令牌缺少 `{s}` 权限范围"),
        }
    }
}

impl Error {
    pub fn not_found(what: &'static str) -> Self {
        Self::NotFound { what }
    }

    pub fn forbidden(message: impl Into<String>, message_zh: impl Into<String>) -> Self {
        Self::Forbidden { message: message.into(), message_zh: message_zh.into() }
    }

    pub fn invalid(field: &'static str, message: impl Into<String>, message_zh: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message, message_zh)])
    }

    /// A short stable code for clients to branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid_input",
            Self::Malformed(_) => "malformed_request",
            Self::NotFound { .. } => "not_found",
            Self::Conflict { code, .. } => code,
            Self::Review(ReviewError::IllegalTransition { .. }) => "illegal_transition",
            Self::Review(ReviewError::ReasonRequired { .. }) => "reason_required",
            Self::Review(ReviewError::ReasonTooShort { .. }) => "reason_too_short",
            Self::Review(ReviewError::ReasonTooLong { .. }) => "reason_too_long",
            Self::Unauthorized(AuthFailure::ExpiredToken) => "expired_token",
            Self::Unauthorized(AuthFailure::InsufficientScope(_)) => "insufficient_scope",
            Self::Unauthorized(AuthFailure::PartnerSuspended) => "partner_suspended",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden { .. } => "forbidden",
            Self::TooLarge { .. } => "payload_too_large",
            Self::UnsupportedType { .. } => "unsupported_media_type",
            Self::Unavailable { .. } => "partner_unavailable",
            Self::NoAnswer { code, .. } => code,
            Self::Store(e) if e.is_unavailable() => "database_unavailable",
            Self::TooManyAttempts { .. } => "too_many_attempts",
            Self::RateLimited { .. } => "rate_limited",
            Self::Store(_) | Self::Internal(_) => "internal",
        }
    }

    pub fn message_zh(&self) -> String {
        match self {
            Self::Invalid(errors) => errors.iter().map(|e| format!("{}：{}", e.field, e.message_zh)).collect::<Vec<_>>().join("；"),
            Self::Malformed(_) => "请求无法解析：请检查 JSON 格式与 Content-Type".into(),
            Self::NotFound { what } => format!("未找到{}", noun_zh(what)),
            Self::Conflict { message_zh, .. }
            | Self::Forbidden { message_zh, .. }
            | Self::Unavailable { message_zh, .. }
            | Self::NoAnswer { message_zh, .. } => message_zh.clone(),
            Self::Review(e) => e.message_zh(),
            Self::Unauthorized(f) => f.message_zh(),
            Self::TooLarge { limit_bytes } => format!("文件超过大小上限 {limit_bytes} 字节"),
            Self::UnsupportedType { allowed } => format!("不支持的文件类型，仅允许：{allowed}"),
            Self::Store(e) if e.is_unavailable() => DATABASE_UNAVAILABLE_ZH.into(),
            Self::TooManyAttempts { retry_after_secs } => format!("尝试次数过多，请 {retry_after_secs} 秒后再试"),
            Self::RateLimited { retry_after_secs } => format!("请求过于频繁，请 {retry_after_secs} 秒后再试"),
            Self::Store(_) | Self::Internal(_) => "系统内部错误，请稍后重试".into(),
        }
    }
}

/// What a person is told while the database cannot be reached (the request changed nothing).
pub const DATABASE_UNAVAILABLE_EN: &str = "the database is unavailable right now; nothing was changed, please retry in a few seconds";
pub const DATABASE_UNAVAILABLE_ZH: &str = "数据库暂时无法访问，本次请求未做任何更改，请稍后几秒重试";

impl Error {
    /// The database could not be reached: answer "unavailable, retry", not "internal error".
    pub fn is_database_unavailable(&self) -> bool {
        matches!(self, Self::Store(e) if e.is_unavailable())
    }
}

/// A transaction that failed only because the database was busy can be run again.
impl store::Transient for Error {
    fn is_transient(&self) -> bool {
        matches!(self, Self::Store(e) if e.is_transient())
    }
}

/// The Chinese name of what [`Error::NotFound`] did not find. Every noun the services use is
/// here (a unit test walks the sources); anything else reads as "record".
pub fn noun_zh(what: &str) -> &'static str {
    match what {
        "partner" => "合作商",
        "order" => "订单",
        "session" => "充电会话",
        "disputed order" => "待处理的争议订单",
        "top-up" => "充值单",
        "connector" => "充电枪",
        "pile" => "充电桩",
        "station" => "充电站",
        "reservation" => "预约",
        "payment" => "支付单",
        "payment gateway" => "支付渠道",
        "statement" => "结算单",
        "delivery" => "推送记录",
        "document" => "资质文件",
        "user" => "用户",
        _ => "记录",
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every noun the services pass to `Error::not_found` has a Chinese name.
    #[test]
    fn every_not_found_noun_has_a_chinese_name() {
        let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
        let mut nouns = Vec::new();
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(path).unwrap();
                for part in text.split("not_found(\"").skip(1) {
                    nouns.push(part.split('"').next().unwrap().to_owned());
                }
            }
        }
        assert!(nouns.iter().any(|n| n == "order"), "{nouns:?}");
        for noun in nouns {
            assert_ne!(noun_zh(&noun), "记录", "{noun} has no Chinese name");
        }
        assert_eq!(Error::not_found("order").message_zh(), "未找到订单");
    }
}
