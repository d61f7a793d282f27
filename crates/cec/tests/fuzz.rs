//! Fuzzing the envelope and payload decoders with proptest. (`cargo fuzz` needs a nightly
//! toolchain, which this project's build machines do not have; proptest runs on stable in the
//! normal test suite.) The property: no input makes a decoder panic, and whatever decodes
//! re-encodes to something that decodes to the same value.

use cec::envelope::{RequestEnvelope, ResponseEnvelope};
use cec::messages::*;
use cec::{Keys, Secrets, tolerant};
use proptest::prelude::*;
use serde_json::{Value, json};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e9f64..1e9).prop_map(|f| json!(f)),
        "[ -~]{0,30}".prop_map(Value::String),
        prop::sample::select(vec!["0", "1", "24.60", "2024-01-01 12:00:05", "MA5DEMO01202401011200000001", ""]).prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        let keys = prop::sample::select(vec![
            "StartChargeSeq",
            "ConnectorID",
            "connectorid",
            "TotalPower",
            "ServiceMoney",
            "SeviceMoney",
            "ChargeDetails",
            "StationIDs",
            "Status",
            "ConnectorStatusInfo",
            "PageNo",
            "x",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys.prop_map(String::from), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn decode_all(value: &Value) {
    let v = tolerant::normalise(value.clone());
    let _ = serde_json::from_value::<ChargeOrderInfo>(v.clone());
    let _ = serde_json::from_value::<ChargeStatus>(v.clone());
    let _ = serde_json::from_value::<QueryStationStatus>(v.clone());
    let _ = serde_json::from_value::<NotificationStationStatus>(v.clone());
    let _ = serde_json::from_value::<QueryStationsInfoResponse>(v.clone());
    if let Ok(order) = serde_json::from_value::<CheckChargeOrders>(v) {
        let again: CheckChargeOrders = serde_json::from_slice(&serde_json::to_vec(&order).unwrap()).unwrap();
        assert_eq!(again.charge_orders.len(), order.charge_orders.len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn envelope_parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = RequestEnvelope::parse(&bytes);
        let _ = ResponseEnvelope::parse(&bytes);
    }

    #[test]
    fn envelopes_from_arbitrary_json_never_panic(value in json_value()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        if let Ok(env) = RequestEnvelope::parse(&bytes) {
            let keys = Keys::new(&Secrets::new("s", "1234567890abcdef", "1234567890abcdef", "s")).unwrap();
            let _ = env.verify(&keys);
            let _ = env.open(&keys);
        }
        let _ = ResponseEnvelope::parse(&bytes);
        decode_all(&value);
    }

    #[test]
    fn encrypted_payloads_round_trip(value in json_value(), key in "[0-9A-Za-z]{16}", iv in "[0-9A-Za-z]{16}") {
        let keys = Keys::new(&Secrets::new("s", &key, &iv, "sig")).unwrap();
        let payload = serde_json::to_vec(&value).unwrap();
        let env = RequestEnvelope::seal(&keys, "MA5DEMO01", &payload, chrono::Utc::now(), 1);
        prop_assert!(env.verify(&keys));
        prop_assert_eq!(env.open(&keys).unwrap(), payload);
    }
}
