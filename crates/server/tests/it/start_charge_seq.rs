//! Our StartChargeSeqs never collide: many starts in one second each get their own, and one
//! already taken (a restored database, another instance) is skipped rather than failing the start.

use crate::common;

use std::collections::HashSet;
use std::time::Duration;

use common::Backend;
use common::billed::flow_a;
use serde_json::{Value, json};
use sim::cec_cpo::Misbehaviour;

on_both_backends!(starts_in_one_second_get_distinct_seqs);

async fn free_connector(w: &common::billed::FlowA) -> String {
    for _ in 0..40 {
        let (_, nearby) = w.app.get("/api/app/v1/stations/nearby?lat=22.55&lng=114.05&radius_m=50000&free_now=true", None).await;
        if let Some(station) = nearby["items"].as_array().and_then(|items| items.first()) {
            let (_, detail) = w.app.get(&format!("/api/app/v1/stations/{}", station["id"].as_str().unwrap()), None).await;
            if let Some(c) = detail["connectors_live"].as_array().unwrap().iter().find(|c| c["status"] == "available") {
                return c["id"].as_str().unwrap().to_owned();
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no free connector");
}

/// 同一秒内发起 300 次充电：每单的 StartChargeSeq 互不相同，没有一次因重复而 500。
async fn starts_in_one_second_get_distinct_seqs(backend: Backend) {
    let w = flow_a(backend, |_| {}).await;
    let connector = free_connector(&w).await;
    // The partner refuses everything, so each start ends at once and the connector stays free;
    // our clock stands still, so every order is created in the same second.
    w.cpo.set_misbehaviour(Misbehaviour { down: true, ..Misbehaviour::default() });
    let mut seqs = HashSet::new();
    for i in 0..300 {
        let (status, order): (u16, Value) = w.app.post("/api/app/v1/charging/start", Some(&w.driver), &json!({"connector_id": connector})).await;
        assert!(status < 500, "start {i} failed: {status} {order}");
        let seq = order["seq"].as_str().unwrap_or_else(|| panic!("no seq: {order}")).to_owned();
        assert_eq!(seq.len(), 27, "{seq}");
        assert!(seqs.insert(seq.clone()), "start {i} reused {seq}");
    }
    // The counter set back (a database restored from a backup): the next numbers are taken,
    // and the start draws on until a free one instead of failing.
    sqlx::query("UPDATE seq_counters SET value = value - 3").execute(w.app.services.db.pool()).await.unwrap();
    let (status, order) = w.app.post("/api/app/v1/charging/start", Some(&w.driver), &json!({"connector_id": connector})).await;
    assert!(status < 500, "a taken seq failed the start: {status} {order}");
    assert!(seqs.insert(order["seq"].as_str().unwrap().to_owned()), "{order}");
    w.app.cleanup().await;
}
