//! The envelope (T/CEC 102 §4): request `OperatorID/Data/TimeStamp/Seq/Sig`, response
//! `Ret/Msg/Data/Sig`. Sign after encrypting, verify before decrypting.

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::crypto::{CryptoError, Keys};
use crate::error::{Refusal, Ret};
use crate::time::format_timestamp;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestEnvelope {
    #[serde(rename = "OperatorID")]
    pub operator_id: String,
    #[serde(rename = "Data")]
    pub data: String,
    #[serde(rename = "TimeStamp")]
    pub timestamp: String,
    #[serde(rename = "Seq")]
    pub seq: String,
    #[serde(rename = "Sig")]
    pub sig: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseEnvelope {
    #[serde(rename = "Ret")]
    pub ret: i64,
    #[serde(rename = "Msg")]
    pub msg: String,
    #[serde(rename = "Data")]
    pub data: String,
    #[serde(rename = "Sig")]
    pub sig: String,
}

impl RequestEnvelope {
    /// Encrypts and signs `payload` (JSON bytes) as `operator_id`.
    pub fn seal(keys: &Keys, operator_id: &str, payload: &[u8], at: DateTime<Utc>, seq: u16) -> Self {
        let data = keys.encrypt(payload);
        let timestamp = format_timestamp(at);
        let seq = format!("{seq:04}");
        let sig = keys.sign(&[operator_id, &data, &timestamp, &seq]);
        Self { operator_id: operator_id.into(), data, timestamp, seq, sig }
    }

    /// The signature is checked over `Data` exactly as received (even if line-wrapped).
    pub fn verify(&self, keys: &Keys) -> bool {
        keys.verify(&[&self.operator_id, &self.data, &self.timestamp, &self.seq], &self.sig)
    }

    pub fn open(&self, keys: &Keys) -> Result<Vec<u8>, CryptoError> {
        keys.decrypt(&self.data)
    }

    /// Reads a request body; any of the five fields missing or empty is a 4003 naming it.
    /// `Seq` sent as a number is accepted.
    pub fn parse(body: &[u8]) -> Result<Self, Refusal> {
        let value: Value = serde_json::from_slice(body).map_err(|e| Refusal::envelope(format!("请求体不是合法的 JSON / body is not JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(Refusal::envelope("请求体须为 JSON 对象 / body must be a JSON object"));
        };
        let field = |name: &str| -> Result<String, Refusal> {
            let found = map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
            match found {
                Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                Some(Value::Number(n)) => Ok(n.to_string()),
                _ => Err(Refusal::envelope(format!("缺少 {name} / missing {name}"))),
            }
        };
        Ok(Self { operator_id: field("OperatorID")?, data: field("Data")?, timestamp: field("TimeStamp")?, seq: field("Seq")?, sig: field("Sig")? })
    }

    /// The `OperatorID` a body names, even when the envelope is incomplete: a refusal of a
    /// known partner's request is signed for it, whatever else is missing.
    pub fn claimed_operator(body: &[u8]) -> Option<String> {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else { return None };
        match map.iter().find(|(k, _)| k.eq_ignore_ascii_case("OperatorID")).map(|(_, v)| v) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        }
    }
}

impl ResponseEnvelope {
    pub fn seal(keys: &Keys, ret: Ret, msg: &str, payload: &[u8]) -> Self {
        let data = keys.encrypt(payload);
        let ret = ret.code();
        let sig = keys.sign(&[&ret.to_string(), msg, &data]);
        Self { ret, msg: msg.into(), data, sig }
    }

    /// An error reply: `Data` empty, signed when we know the caller's keys. Only a caller we
    /// cannot identify (no OperatorID, or one we do not know) gets an empty `Sig`.
    pub fn refusal(keys: Option<&Keys>, refusal: &Refusal) -> Self {
        let ret = refusal.ret.code();
        let sig = keys.map(|k| k.sign(&[&ret.to_string(), &refusal.msg, ""])).unwrap_or_default();
        Self { ret, msg: refusal.msg.clone(), data: String::new(), sig }
    }

    /// Checks `Sig` over `Ret+Msg+Data`. Java peers that concatenate a null `Data` sign the text
    /// `null`; that form is accepted too.
    pub fn verify(&self, keys: &Keys) -> bool {
        let ret = self.ret.to_string();
        keys.verify(&[&ret, &self.msg, &self.data], &self.sig) || (self.data.is_empty() && keys.verify(&[&ret, &self.msg, "null"], &self.sig))
    }

    /// Reads a response tolerantly: `Ret` as a number or a string; `Msg`, `Data`, `Sig` may be
    /// null or missing (common on errors).
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(body).map_err(|e| format!("response is not JSON: {e}"))?;
        let Value::Object(map) = value else { return Err("response is not a JSON object".into()) };
        let get = |name: &str| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
        let ret = match get("Ret") {
            Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or("response has no valid Ret")?;
        let text = |name: &str| match get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        Ok(Self { ret, msg: text("Msg"), data: text("Data"), sig: text("Sig") })
    }
}

/// Envelope `Seq`: four digits counting up within each second.
///
/// Each second starts at a random point rather than at `0001`: two instances of the same caller
/// (or a restarted one) sending the same payload in the same second would otherwise produce
/// byte-identical envelopes, which a receiver rightly refuses as a replay.
#[derive(Debug, Default)]
pub struct SeqCounter(Mutex<(i64, u16)>);

impl SeqCounter {
    pub fn next(&self, at: DateTime<Utc>) -> u16 {
        let mut state = self.0.lock();
        let second = at.timestamp();
        if state.0 != second {
            *state = (second, rand::random_range(0..9000));
        }
        state.1 = if state.1 >= 9999 { 1 } else { state.1 + 1 };
        state.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::Secrets;

    #[test]
    fn missing_fields_are_named() {
        let e = RequestEnvelope::parse(br#"{"OperatorID":"123456789","Data":"x","TimeStamp":"20240101120000","Seq":"0001"}"#).unwrap_err();
        assert_eq!((e.ret, e.msg.contains("Sig")), (Ret::Envelope, true));
        let e = RequestEnvelope::parse(b"not json").unwrap_err();
        assert_eq!(e.ret, Ret::Envelope);
        let ok = RequestEnvelope::parse(br#"{"OperatorID":"123456789","Data":"x","TimeStamp":"20240101120000","Seq":1,"Sig":"AB"}"#).unwrap();
        assert_eq!(ok.seq, "1");
    }

    #[test]
    fn responses_read_tolerantly() {
        let r = ResponseEnvelope::parse(br#"{"Ret":"4002","Msg":null,"Data":null}"#).unwrap();
        assert_eq!((r.ret, r.msg.as_str(), r.data.as_str(), r.sig.as_str()), (4002, "", "", ""));
        assert!(ResponseEnvelope::parse(br#"{"Msg":"x"}"#).is_err());
    }

    #[test]
    fn seq_counts_up_within_a_second() {
        let counter = SeqCounter::default();
        let t = Utc::now();
        let (a, b) = (counter.next(t), counter.next(t));
        assert_eq!(b, a + 1);
        assert!((1..=9000).contains(&a));
        let other = SeqCounter::default();
        let starts: std::collections::HashSet<u16> = (0..20).map(|i| other.next(t + chrono::Duration::seconds(i + 2))).collect();
        assert!(starts.len() > 1, "each second starts somewhere new");
    }

    #[test]
    fn seal_and_verify() {
        let keys = Keys::new(&Secrets::new("s", "1234567890abcdef", "abcdef1234567890", "sigsecret")).unwrap();
        let env = RequestEnvelope::seal(&keys, "MA5DEMO01", b"{}", Utc::now(), 7);
        assert!(env.verify(&keys));
        assert_eq!(env.open(&keys).unwrap(), b"{}");
        let mut tampered = env.clone();
        tampered.seq = "0008".into();
        assert!(!tampered.verify(&keys));
    }
}
