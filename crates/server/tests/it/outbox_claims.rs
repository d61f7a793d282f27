//! Outbox claiming in one statement: what one dispatcher took, another cannot take again, and a
//! message not yet due stays where it is.

use crate::common;

use chrono::Duration;
use common::{Backend, CODE_A, TestApp, application};
use serde_json::json;

async fn a_batch_is_claimed_once(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (id, _) = app.register(&application(CODE_A)).await;
    let partner = id.parse().unwrap();
    // The running application's dispatcher claims what is due on its clock; these messages are
    // due only an hour from now, so the claims below are this test's alone.
    let now = app.services.now() + Duration::hours(1);
    let mut conn = app.services.db.acquire().await.unwrap();
    for n in 0..3 {
        store::outbox::enqueue(&mut conn, partner, "statement.ready", &format!("key-{n}"), &json!({"n": n}), now).await.unwrap();
    }
    let due = store::outbox::due_heads(&mut conn, now, 10).await.unwrap();
    let seqs: Vec<i64> = due.iter().map(|m| m.seq).collect();
    assert_eq!(seqs.len(), 3);
    let lease = now + Duration::seconds(30);
    let first = store::outbox::claim_many(&mut conn, &seqs, now, lease).await.unwrap();
    assert_eq!(first.len(), 3, "{first:?}");
    let second = store::outbox::claim_many(&mut conn, &seqs, now, lease).await.unwrap();
    assert!(second.is_empty(), "taken already: {second:?}");

    // Not yet due: a retry scheduled for later is not claimed now.
    store::outbox::mark_failed(&mut conn, seqs[0], now, "receiver down", Some(now + Duration::minutes(1))).await.unwrap();
    assert!(store::outbox::claim_many(&mut conn, &seqs[..1], now, lease).await.unwrap().is_empty());
    assert_eq!(store::outbox::claim_many(&mut conn, &seqs[..1], now + Duration::minutes(2), lease).await.unwrap(), seqs[..1]);
    drop(conn);
    app.cleanup().await;
}

on_both_backends!(a_batch_is_claimed_once);
