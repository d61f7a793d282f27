//! Partners: who they are, what they asked to do, and the review they go through.
//!
//! Both seed flows start here: a partner registers, we review its qualifications and approve
//! (credentials are issued) or reject with a reason it can read and act on; a rejected partner
//! fixes its application and resubmits. Approved partners can be suspended and reinstated.
//! Every transition is decided by [`ReviewState::apply`], so the HTTP API, the CLI and the tests
//! cannot disagree about what is allowed.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::credit_code::{CreditCode, CreditCodeError};

/// A field that failed validation, named as the API names it, with a reason in both languages.
/// Usually a fixed name; a path into a nested body (`open.price_policy`) when a request could not
/// be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: Cow<'static, str>,
    pub message: String,
    pub message_zh: String,
}

impl FieldError {
    pub fn new(field: impl Into<Cow<'static, str>>, message: impl Into<String>, message_zh: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into(), message_zh: message_zh.into() }
    }
}

/// The roles a partner asks for. One partner may play both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PartnerRoles {
    /// Owns charge points and puts them on our platform (flow A, 基础设施运营商).
    Operator,
    /// Owns users and charges them on our piles (flow B, 客户归属运营商).
    Platform,
    Both,
}

impl PartnerRoles {
    pub fn is_operator(self) -> bool {
        matches!(self, Self::Operator | Self::Both)
    }
    pub fn is_platform(self) -> bool {
        matches!(self, Self::Platform | Self::Both)
    }
    /// OAuth2 scopes granted to this partner's REST credentials.
    pub fn scopes(self) -> Vec<&'static str> {
        let mut scopes = vec!["partner"];
        if self.is_operator() {
            scopes.push("cpo");
        }
        if self.is_platform() {
            scopes.push("emsp");
        }
        scopes
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Platform => "platform",
            Self::Both => "both",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "operator" => Some(Self::Operator),
            "platform" => Some(Self::Platform),
            "both" => Some(Self::Both),
            _ => None,
        }
    }
}

/// The protocol a partner will speak with us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Protocol {
    /// T/CEC 102-2016 (中电联互联互通).
    Cec102,
    /// OCPI 2.2.1.
    Ocpi221,
    /// Our own partner REST API.
    RestApi,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cec102 => "cec102",
            Self::Ocpi221 => "ocpi221",
            Self::RestApi => "rest_api",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cec102" => Some(Self::Cec102),
            "ocpi221" => Some(Self::Ocpi221),
            "rest_api" => Some(Self::RestApi),
            _ => None,
        }
    }
}

/// What a partner submits; every field already validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Application {
    pub company_name: String,
    pub credit_code: CreditCode,
    pub contact: Contact,
    pub roles: PartnerRoles,
    pub protocol: Protocol,
    pub callback_base_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Contact {
    pub name: String,
    pub phone: String,
    pub email: String,
}

/// The application as it arrives, before validation.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApplicationInput {
    pub company_name: Option<String>,
    pub credit_code: Option<String>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
    pub roles: Option<String>,
    pub protocol: Option<String>,
    pub callback_base_url: Option<String>,
}

impl Application {
    /// Validates every field and reports all problems at once, so a partner fixes its form in
    /// one go instead of one error per round trip.
    pub fn parse(input: ApplicationInput) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut required = |field: &'static str, value: Option<String>| -> Option<String> {
            match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
                Some(v) => Some(v),
                None => {
                    errors.push(FieldError::new(field, "is required", "必填"));
                    None
                }
            }
        };
        let company_name = required("company_name", input.company_name);
        let credit_code = required("credit_code", input.credit_code);
        let contact_name = required("contact_name", input.contact_name);
        let contact_phone = required("contact_phone", input.contact_phone);
        let contact_email = required("contact_email", input.contact_email);
        let roles = required("roles", input.roles);
        let protocol = required("protocol", input.protocol);
        let callback = required("callback_base_url", input.callback_base_url);

        if let Some(name) = &company_name {
            let len = name.chars().count();
            if !(2..=100).contains(&len) {
                errors.push(FieldError::new("company_name", "must be 2 to 100 characters", "长度须为 2 至 100 个字符"));
            }
        }
        let credit_code = credit_code.and_then(|c| match CreditCode::parse(&c) {
            Ok(code) => Some(code),
            Err(e) => {
                errors.push(credit_code_error(e));
                None
            }
        });
        if let Some(phone) = &contact_phone {
            let digits = phone.chars().filter(char::is_ascii_digit).count();
            let allowed = phone.chars().all(|c| c.is_ascii_digit() || "+- ()".contains(c));
            if !allowed || !(7..=15).contains(&digits) {
                errors.push(FieldError::new("contact_phone", "must be a phone number of 7 to 15 digits", "须为 7 至 15 位数字的电话号码"));
            }
        }
        if let Some(email) = &contact_email {
            let valid =
                email.split_once('@').is_some_and(|(local, host)| !local.is_empty() && host.contains('.') && !host.starts_with('.') && !host.ends_with('.'))
                    && !email.contains(char::is_whitespace);
            if !valid {
                errors.push(FieldError::new("contact_email", "is not an email address", "邮箱格式不正确"));
            }
        }
        let roles = roles.and_then(|r| {
            PartnerRoles::parse(&r).or_else(|| {
                errors.push(FieldError::new("roles", "must be one of operator, platform, both", "须为 operator（运营商）、platform（平台）或 both（两者）"));
                None
            })
        });
        let protocol = protocol.and_then(|p| {
            Protocol::parse(&p).or_else(|| {
                errors.push(FieldError::new("protocol", "must be one of cec102, ocpi221, rest_api", "须为 cec102、ocpi221 或 rest_api"));
                None
            })
        });
        if let Some(url) = &callback
            && let Err(message) = validate_base_url(url)
        {
            errors.push(FieldError::new("callback_base_url", message, "须为 http(s):// 开头的完整地址"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // All `Some` here: every `None` above pushed an error.
        Ok(Self {
            company_name: company_name.unwrap_or_default(),
            credit_code: credit_code.expect("validated"),
            contact: Contact { name: contact_name.unwrap_or_default(), phone: contact_phone.unwrap_or_default(), email: contact_email.unwrap_or_default() },
            roles: roles.expect("validated"),
            protocol: protocol.expect("validated"),
            callback_base_url: callback.unwrap_or_default().trim_end_matches('/').to_owned(),
        })
    }

    /// The OperatorID this partner uses in T/CEC 102: its organisation code.
    pub fn operator_id(&self) -> &str {
        self.credit_code.organisation_code()
    }
}

fn credit_code_error(e: CreditCodeError) -> FieldError {
    let zh = match &e {
        CreditCodeError::Length(_) => "统一社会信用代码须为 18 位".to_owned(),
        CreditCodeError::Character { position, .. } => format!("第 {position} 位字符不合法"),
        CreditCodeError::CheckDigit { expected, .. } => format!("校验码错误，应为 {expected}"),
    };
    FieldError::new("credit_code", e.to_string(), zh)
}

/// An absolute http(s) URL with a host, of sane length.
pub fn validate_base_url(url: &str) -> Result<(), String> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).ok_or("must start with http:// or https://")?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || url.contains(char::is_whitespace) || url.len() > 500 {
        return Err("must be an absolute URL with a host".into());
    }
    Ok(())
}

/// A registered partner: its application, where it stands in review, and the identifier it is
/// known by to other platforms (its organisation code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Partner {
    pub id: Uuid,
    pub operator_id: String,
    #[serde(flatten)]
    pub application: Application,
    pub state: ReviewState,
    /// Why it was rejected or suspended; shown to the partner.
    pub state_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a partner stands in review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ReviewState {
    Submitted,
    Approved,
    Rejected,
    Suspended,
}

impl ReviewState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Suspended => "suspended",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "submitted" => Some(Self::Submitted),
            "approved" => Some(Self::Approved),
            "rejected" => Some(Self::Rejected),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
    /// Only approved partners may call protocol and partner APIs.
    pub fn may_operate(self) -> bool {
        self == Self::Approved
    }
}

impl fmt::Display for ReviewState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What someone does to a partner's review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewAction {
    Approve,
    Reject { reason: String },
    Resubmit,
    Suspend { reason: String },
    Reinstate,
}

impl ReviewAction {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject { .. } => "reject",
            Self::Resubmit => "resubmit",
            Self::Suspend { .. } => "suspend",
            Self::Reinstate => "reinstate",
        }
    }
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Reject { reason } | Self::Suspend { reason } => Some(reason),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("cannot {action} a partner that is {from}")]
    IllegalTransition { from: ReviewState, action: &'static str },
    #[error("a reason is required to {action}: say what the partner should know or fix (2 to 500 characters)")]
    ReasonRequired { action: &'static str },
    #[error("the reason to {action} is too short ({given} character): write at least 2 characters the partner can act on")]
    ReasonTooShort { action: &'static str, given: usize },
    #[error("the reason to {action} is too long ({given} characters): keep it to at most 500")]
    ReasonTooLong { action: &'static str, given: usize },
}

impl ReviewError {
    pub fn message_zh(&self) -> String {
        match self {
            Self::IllegalTransition { from, action } => {
                format!("当前状态为「{}」，不能执行「{}」", state_zh(*from), action_zh(action))
            }
            Self::ReasonRequired { action } => format!("「{}」须填写原因，写明合作商需要了解或改正的内容（2 至 500 字）", action_zh(action)),
            Self::ReasonTooShort { action, given } => format!("「{}」的原因太短（{given} 个字）：至少写 2 个字，让合作商知道如何处理", action_zh(action)),
            Self::ReasonTooLong { action, given } => format!("「{}」的原因太长（{given} 个字）：最多 500 字", action_zh(action)),
        }
    }
}

pub fn state_zh(state: ReviewState) -> &'static str {
    match state {
        ReviewState::Submitted => "待审核",
        ReviewState::Approved => "已通过",
        ReviewState::Rejected => "已驳回",
        ReviewState::Suspended => "已暂停",
    }
}

fn action_zh(action: &str) -> &'static str {
    match action {
        "approve" => "审核通过",
        "reject" => "驳回",
        "resubmit" => "重新提交",
        "suspend" => "暂停",
        "reinstate" => "恢复",
        _ => "操作",
    }
}

impl ReviewState {
    /// The one place that decides which review transitions exist.
    pub fn apply(self, action: &ReviewAction) -> Result<ReviewState, ReviewError> {
        use ReviewAction as A;
        use ReviewState as S;
        if let Some(reason) = action.reason() {
            let (action, given) = (action.name(), reason.trim().chars().count());
            match given {
                0 => return Err(ReviewError::ReasonRequired { action }),
                1 => return Err(ReviewError::ReasonTooShort { action, given }),
                501.. => return Err(ReviewError::ReasonTooLong { action, given }),
                _ => {}
            }
        }
        match (self, action) {
            (S::Submitted, A::Approve) => Ok(S::Approved),
            (S::Submitted, A::Reject { .. }) => Ok(S::Rejected),
            (S::Rejected, A::Resubmit) => Ok(S::Submitted),
            (S::Approved, A::Suspend { .. }) => Ok(S::Suspended),
            (S::Suspended, A::Reinstate) => Ok(S::Approved),
            (from, action) => Err(ReviewError::IllegalTransition { from, action: action.name() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ApplicationInput {
        ApplicationInput {
            company_name: Some("深圳示例充电科技有限公司".into()),
            credit_code: Some("91440300MA5FCTXX0J".into()),
            contact_name: Some("张三".into()),
            contact_phone: Some("+86 138-0013-8000".into()),
            contact_email: Some("ops@example.cn".into()),
            roles: Some("operator".into()),
            protocol: Some("cec102".into()),
            callback_base_url: Some("https://cpo.example.cn/evcs/".into()),
        }
    }

    #[test]
    fn parses_a_valid_application() {
        let app = Application::parse(input()).unwrap();
        assert_eq!(app.operator_id(), "MA5FCTXX0");
        assert_eq!(app.callback_base_url, "https://cpo.example.cn/evcs");
        assert_eq!(app.roles.scopes(), vec!["partner", "cpo"]);
    }

    #[test]
    fn reports_every_bad_field_at_once() {
        let errors = Application::parse(ApplicationInput {
            credit_code: Some("91440300MA5FCTXX0A".into()),
            contact_email: Some("not-an-email".into()),
            roles: Some("driver".into()),
            callback_base_url: Some("ftp://x".into()),
            company_name: None,
            ..input()
        })
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_ref()).collect();
        assert_eq!(fields, ["company_name", "credit_code", "contact_email", "roles", "callback_base_url"]);
        assert!(errors[1].message.contains("check digit"));
    }

    #[test]
    fn review_walks_the_seed_flowchart() {
        let reject = ReviewAction::Reject { reason: "营业执照不清晰".into() };
        let s = ReviewState::Submitted.apply(&reject).unwrap();
        assert_eq!(s, ReviewState::Rejected);
        let s = s.apply(&ReviewAction::Resubmit).unwrap();
        let s = s.apply(&ReviewAction::Approve).unwrap();
        assert_eq!(s, ReviewState::Approved);
        let s = s.apply(&ReviewAction::Suspend { reason: "overdue settlement".into() }).unwrap();
        assert_eq!(s.apply(&ReviewAction::Reinstate).unwrap(), ReviewState::Approved);
    }

    #[test]
    fn refuses_illegal_transitions() {
        let err = ReviewState::Approved.apply(&ReviewAction::Approve).unwrap_err();
        assert_eq!(err, ReviewError::IllegalTransition { from: ReviewState::Approved, action: "approve" });
        assert!(err.message_zh().contains("已通过"));
        assert!(ReviewState::Rejected.apply(&ReviewAction::Approve).is_err());
        assert!(ReviewState::Submitted.apply(&ReviewAction::Reinstate).is_err());
        assert!(ReviewState::Suspended.apply(&ReviewAction::Resubmit).is_err());
    }

    #[test]
    fn rejection_needs_a_reason() {
        let err = ReviewState::Submitted.apply(&ReviewAction::Reject { reason: " ".into() }).unwrap_err();
        assert_eq!(err, ReviewError::ReasonRequired { action: "reject" });
        let err = ReviewState::Submitted.apply(&ReviewAction::Reject { reason: "x".into() }).unwrap_err();
        assert_eq!(err, ReviewError::ReasonTooShort { action: "reject", given: 1 });
        assert!(err.to_string().contains("too short") && err.message_zh().contains("太短"), "{err}");
        let err = ReviewState::Approved.apply(&ReviewAction::Suspend { reason: "长".repeat(501) }).unwrap_err();
        assert_eq!(err, ReviewError::ReasonTooLong { action: "suspend", given: 501 });
    }
}
