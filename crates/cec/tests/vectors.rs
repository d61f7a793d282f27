//! Every vector in the spec's `cec102-vectors.json` (copied to tests/data), reproduced.

use cec::envelope::{RequestEnvelope, ResponseEnvelope};
use cec::{Keys, Secrets};
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cec102-vectors.json")).unwrap();
    let file: Value = serde_json::from_str(&text).unwrap();
    file["vectors"].as_array().unwrap().clone()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{} has no {key}", v["id"]))
}

fn keys(v: &Value) -> Keys {
    let data = v.get("data_secret").or(v.get("key")).and_then(Value::as_str).unwrap_or("1234567890abcdef");
    let iv = v.get("data_secret_iv").or(v.get("iv")).and_then(Value::as_str).unwrap_or("1234567890abcdef");
    let sig = v.get("sig_secret").and_then(Value::as_str).unwrap_or("unused-sig-secret");
    Keys::new(&Secrets::new("", data, iv, sig)).unwrap()
}

fn request(v: &Value) -> RequestEnvelope {
    serde_json::from_value(v.clone()).unwrap()
}

#[test]
fn every_vector_is_reproduced() {
    let mut checked = Vec::new();
    for v in vectors() {
        let id = s(&v, "id").to_owned();
        match s(&v, "type") {
            "aes" => {
                let k = keys(&v);
                assert_eq!(k.encrypt(s(&v, "plaintext").as_bytes()), s(&v, "ciphertext_base64"), "{id}");
                assert_eq!(k.decrypt(s(&v, "ciphertext_base64")).unwrap(), s(&v, "plaintext").as_bytes(), "{id}");
            }
            "request_envelope" => {
                let k = keys(&v);
                let env = request(&v["envelope"]);
                if let Some(plaintext) = v.get("plaintext").and_then(Value::as_str) {
                    assert_eq!(k.encrypt(plaintext.as_bytes()), env.data, "{id}: Data");
                    assert_eq!(env.open(&k).unwrap(), plaintext.as_bytes(), "{id}");
                }
                assert_eq!(k.sign(&[&env.operator_id, &env.data, &env.timestamp, &env.seq]), env.sig, "{id}: Sig");
                assert!(env.verify(&k), "{id}");
                if let Some(lower) = v.get("sig_lowercase_equivalent").and_then(Value::as_str) {
                    let mut lower_env = env.clone();
                    lower_env.sig = lower.into();
                    assert!(lower_env.verify(&k), "{id}: lower-case Sig is accepted");
                }
            }
            "response_envelope" => {
                let k = keys(&v);
                let env: ResponseEnvelope = ResponseEnvelope::parse(v["envelope"].to_string().as_bytes()).unwrap();
                if let Some(plaintext) = v.get("plaintext").and_then(Value::as_str) {
                    assert_eq!(k.encrypt(plaintext.as_bytes()), env.data, "{id}: Data");
                    assert_eq!(k.decrypt(&env.data).unwrap(), plaintext.as_bytes(), "{id}");
                    let sealed = ResponseEnvelope::seal(&k, cec::Ret::from_code(env.ret), &env.msg, plaintext.as_bytes());
                    assert_eq!(sealed, env, "{id}: we write exactly the published envelope");
                }
                assert_eq!(k.sign(&[&env.ret.to_string(), &env.msg, &env.data]), env.sig, "{id}: Sig");
                assert!(env.verify(&k), "{id}");
                if let Some(null_sig) = v.get("sig_if_data_is_java_null_text").and_then(Value::as_str) {
                    let java = ResponseEnvelope { sig: null_sig.into(), ..env.clone() };
                    assert!(java.verify(&k), "{id}: a Java peer signing Data as `null` is accepted");
                }
            }
            "aes_iv_misuse" => {
                let right = keys(&v);
                let key = s(&v, "key");
                let as_iv = Keys::new(&Secrets::new("", key, key, "s")).unwrap();
                assert_eq!(right.encrypt(s(&v, "plaintext").as_bytes()), s(&v, "ciphertext_base64_correct"), "{id}");
                assert_eq!(as_iv.encrypt(s(&v, "plaintext").as_bytes()), s(&v, "ciphertext_base64_if_iv_equals_key"), "{id}");
                assert_ne!(right.decrypt(s(&v, "ciphertext_base64_if_iv_equals_key")).ok().as_deref(), Some(s(&v, "plaintext").as_bytes()));
            }
            "wrapped_base64" => {
                let k = keys(&v);
                assert_eq!(k.decrypt(s(&v, "ciphertext_base64_wrapped")).unwrap(), s(&v, "plaintext").as_bytes(), "{id}");
                assert_eq!(k.encrypt(s(&v, "plaintext").as_bytes()), s(&v, "ciphertext_base64_canonical"), "{id}: we write one line");
                let env = request(&v["envelope_as_a_wrapping_sender_would_sign_it"]);
                assert!(env.verify(&k), "{id}: Sig checked over Data as received");
                assert_eq!(env.open(&k).unwrap(), s(&v, "plaintext").as_bytes());
            }
            "note_only" => {
                // The OCR-damaged copy of the appendix must not pass for the real thing.
                let k = Keys::new(&Secrets::new("", "1234567890abcdef", "1234567890abcdef", "1234567890abcdef")).unwrap();
                let damaged = s(&v, "ciphertext_base64_damaged");
                let env = RequestEnvelope {
                    operator_id: "123456789".into(),
                    data: damaged.into(),
                    timestamp: "20160729142400".into(),
                    seq: "0001".into(),
                    sig: "745166E8C43C84D37FFEC0F529C4136F".into(),
                };
                assert!(!env.verify(&k), "{id}");
            }
            other => panic!("vector {id} has a type this test does not know: {other}"),
        }
        checked.push(id);
    }
    assert_eq!(checked.len(), 15, "all vectors checked: {checked:?}");
}
