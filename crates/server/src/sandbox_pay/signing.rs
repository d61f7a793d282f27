//! The sandbox's signatures, like real gateways': `X-Sandbox-Signature: t=<unix seconds>,
//! v1=<hex HMAC-SHA256(key, "<t>.<raw body>")>` on every callback it sends and every merchant
//! request it accepts. The key is derived from our master key, so nothing is stored and both
//! ends (the sandbox and our adapter) hold it without a configuration step.

use chrono::{DateTime, Utc};
use services::MasterKey;

pub const HEADER: &str = "x-sandbox-signature";

/// A signature older (or newer) than this is refused: a captured callback cannot be replayed
/// later, and clocks of real peers drift by seconds, not minutes.
pub const WINDOW_SECONDS: i64 = 300;

/// The key both ends use.
pub fn sandbox_key(master: &MasterKey) -> String {
    master.derive("payment-gateway:sandbox")
}

/// The header value for `body` signed at `at`.
pub fn sign(key: &str, at: DateTime<Utc>, body: &[u8]) -> String {
    crate::webhooks::signature(key, at.timestamp(), &String::from_utf8_lossy(body))
}

/// Checks a header value against `body`; the error says what is wrong (for the logs).
pub fn verify(key: &str, header: Option<&str>, body: &[u8], now: DateTime<Utc>) -> Result<(), String> {
    let header = header.ok_or("no X-Sandbox-Signature header")?;
    let mut timestamp = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => v1 = Some(s.to_ascii_lowercase()),
            _ => {}
        }
    }
    let (timestamp, v1) = timestamp.zip(v1).ok_or("the signature header needs t= and v1=")?;
    if (now.timestamp() - timestamp).abs() > WINDOW_SECONDS {
        return Err(format!("the signature timestamp is more than {WINDOW_SECONDS} s from our clock"));
    }
    let expected = crate::webhooks::signature(key, timestamp, &String::from_utf8_lossy(body));
    let expected = expected.rsplit_once("v1=").map(|(_, s)| s).unwrap_or_default();
    if services::secrets::constant_time_eq(expected.as_bytes(), v1.as_bytes()) { Ok(()) } else { Err("the signature does not match the body".into()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_bodies_verify_and_tampering_does_not() {
        let now = Utc::now();
        let header = sign("k", now, b"{\"a\":1}");
        assert_eq!(verify("k", Some(&header), b"{\"a\":1}", now), Ok(()));
        assert!(verify("k", Some(&header), b"{\"a\":2}", now).is_err(), "another body");
        assert!(verify("other", Some(&header), b"{\"a\":1}", now).is_err(), "another key");
        assert!(verify("k", Some(&header), b"{\"a\":1}", now + chrono::Duration::minutes(6)).is_err(), "too old");
        assert!(verify("k", None, b"", now).is_err());
        assert!(verify("k", Some("v1=00"), b"", now).is_err());
    }
}
