//! The services' errors in T/CEC 102 terms, once for both roles (we as the operator of our
//! piles, we as the platform partners' piles notify), so one service error never answers two
//! different `Ret` codes:
//!
//! - what the caller can fix — wrong or unknown fields, a sequence already used, something its
//!   terms do not allow — is `Ret 4004` with the reason in both languages;
//! - a device, partner or database we cannot reach now is `Ret -1` (系统繁忙): nothing was
//!   decided, the caller retries later with the same sequence;
//! - anything else is our fault, `Ret 500`; its detail is logged, not sent.

use cec::error::HandlerError;
use services::Error;

/// Both languages, Chinese first as partners read it, then the English wording.
fn bilingual(e: &Error) -> String {
    format!("{} / {e}", e.message_zh())
}

/// A storage failure that says "not now" rather than "wrong": the database cannot be reached
/// or is closing, or the transaction lost a race that a retry wins.
fn unavailable(e: &store::Error) -> bool {
    e.is_transient() || e.is_unavailable()
}

pub(super) fn to_handler(e: Error) -> HandlerError {
    match e {
        Error::Invalid(_)
        | Error::Malformed(_)
        | Error::NotFound { .. }
        | Error::Conflict { .. }
        | Error::Review(_)
        | Error::Unauthorized(_)
        | Error::Forbidden { .. }
        | Error::TooLarge { .. }
        | Error::UnsupportedType { .. } => HandlerError::BadParameter(bilingual(&e)),
        Error::Unavailable { .. } | Error::NoAnswer { .. } | Error::TooManyAttempts { .. } | Error::RateLimited { .. } => HandlerError::Busy(bilingual(&e)),
        Error::Store(ref s) if unavailable(s) => {
            HandlerError::Busy("数据暂时不可用，请稍后重试 / our data store cannot be reached now; try again later".into())
        }
        Error::Store(_) | Error::Internal(_) => HandlerError::Internal(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use cec::Ret;
    use cec::error::Refusal;
    use domain::partner::{FieldError, ReviewError, ReviewState};
    use services::AuthFailure;

    use super::*;

    fn ret(e: Error) -> (Ret, String) {
        let refusal = Refusal::from(to_handler(e));
        (refusal.ret, refusal.msg)
    }

    /// Every variant, and the `Ret` it answers; a new variant fails to compile in `to_handler`
    /// until it is given one, and belongs in this list.
    #[test]
    fn every_service_error_has_one_ret() {
        let cases: Vec<(Error, Ret)> = vec![
            (Error::Invalid(vec![FieldError::new("ConnectorID", "unknown connector", "充电接口不存在")]), Ret::Parameter),
            (Error::Malformed("not JSON".into()), Ret::Parameter),
            (Error::not_found("order"), Ret::Parameter),
            (Error::Conflict { code: "order_state", field: None, message: "the order has ended".into(), message_zh: "订单已结束".into() }, Ret::Parameter),
            (Error::Review(ReviewError::ReasonRequired { action: "reject" }), Ret::Parameter),
            (Error::Unauthorized(AuthFailure::InvalidToken), Ret::Parameter),
            (Error::forbidden("the reservation extension is not enabled", "预约扩展接口未开通"), Ret::Parameter),
            (Error::TooLarge { limit_bytes: 10 }, Ret::Parameter),
            (Error::UnsupportedType { allowed: "pdf" }, Ret::Parameter),
            (Error::Unavailable { message: "the pile did not answer".into(), message_zh: "充电桩未响应".into() }, Ret::Busy),
            (Error::NoAnswer { code: "pile_no_answer", message: "no answer in time".into(), message_zh: "充电桩未按时应答".into() }, Ret::Busy),
            (Error::TooManyAttempts { retry_after_secs: 30 }, Ret::Busy),
            (Error::Store(store::Error::Database(sqlx::Error::PoolTimedOut)), Ret::Busy),
            (Error::Store(store::Error::Database(sqlx::Error::PoolClosed)), Ret::Busy),
            (Error::Store(store::Error::Corrupt("bad row".into())), Ret::System),
            (Error::Store(store::Error::Duplicate { constraint: "orders.seq".into() }), Ret::System),
            (Error::Internal("bug".into()), Ret::System),
        ];
        for (error, expected) in cases {
            let shown = error.to_string();
            let (got, msg) = ret(error);
            assert_eq!(got, expected, "{shown}");
            match expected {
                Ret::System => assert!(!msg.contains(&shown), "internal detail stays in the log: {msg}"),
                Ret::Parameter => assert!(msg.contains(&shown), "the caller reads what to fix: {msg}"),
                _ => {}
            }
            assert!(msg.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "in Chinese too: {msg}");
        }
    }

    #[test]
    fn review_errors_name_the_state() {
        let (got, msg) = ret(Error::Review(ReviewError::IllegalTransition { from: ReviewState::Suspended, action: "approve" }));
        assert_eq!(got, Ret::Parameter, "{msg}");
        assert!(msg.contains("cannot approve"), "{msg}");
    }
}
