//! Codec throughput: a typical `notification_stationStatus` envelope encoded (JSON, encrypt,
//! sign) and decoded (parse, verify, decrypt, tolerant decode) on one core. Used by
//! `chargebridge bench cec-codec`.

use std::time::Instant;

use chrono::Utc;

use crate::crypto::Keys;
use crate::envelope::RequestEnvelope;
use crate::messages::{ConnectorStatusCode, ConnectorStatusInfo, NotificationStationStatus};
use crate::secrets::Secrets;
use crate::tolerant;

#[derive(Debug, Clone)]
pub struct CodecBenchReport {
    pub envelopes: u64,
    pub seconds: f64,
    /// Encode + decode pairs per second on this thread.
    pub per_second: f64,
}

/// Runs `iterations` encode+decode round trips on the calling thread.
pub fn codec(iterations: u64) -> CodecBenchReport {
    let keys = Keys::new(&Secrets::new("OpSecret12345678", "Gq3Vn8Rz2Lp6Xw1T", "Hk9Ts4Bm7Qc2Yd5J", "Sg7Kp2Wn5Xr8Vb3M")).expect("16-byte keys");
    let message = NotificationStationStatus {
        connector_status_info: ConnectorStatusInfo {
            connector_id: "33010600010001".into(),
            status: ConnectorStatusCode::Charging,
            park_status: Some(50),
            lock_status: None,
        },
    };
    let now = Utc::now();
    let started = Instant::now();
    for i in 0..iterations {
        // Encode: what a sender does.
        let payload = serde_json::to_vec(&message).expect("serialisable");
        let envelope = RequestEnvelope::seal(&keys, "MA5DEMO01", &payload, now, (i % 9999 + 1) as u16);
        let wire = serde_json::to_vec(&envelope).expect("serialisable");
        // Decode: what a receiver does.
        let received = RequestEnvelope::parse(&wire).expect("well-formed");
        assert!(received.verify(&keys));
        let plain = received.open(&keys).expect("decrypts");
        let value: serde_json::Value = serde_json::from_slice(&plain).expect("JSON");
        let value = if tolerant::is_canonical(&value) { value } else { tolerant::normalise(value) };
        let decoded: NotificationStationStatus = serde_json::from_value(value).expect("typed");
        std::hint::black_box(decoded);
    }
    let seconds = started.elapsed().as_secs_f64();
    CodecBenchReport { envelopes: iterations, seconds, per_second: iterations as f64 / seconds }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bench_runs_and_counts() {
        let report = super::codec(100);
        assert_eq!(report.envelopes, 100);
        assert!(report.per_second > 0.0);
    }
}
