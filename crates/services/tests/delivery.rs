//! The outbox dispatcher: order per key, backoff, dead letters, replay, and two dispatchers on
//! one database delivering each message exactly once; on SQLite and PostgreSQL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{Duration, Utc};
use domain::partner::ApplicationInput;
use services::clock::ManualClock;
use services::delivery::{Deliverer, DeliveryError, DeliveryWaker, Dispatcher, DispatcherConfig};
use services::{MasterKey, Services, Settings};
use store::PageRequest;
use store::outbox::{OutboxMessage, OutboxStatus};
use store::testing::{TestBackend, TestDatabase};
use uuid::Uuid;

/// Records what it was given; fails a key's messages while the key is in `failing`.
#[derive(Default)]
struct Recorder {
    delivered: Mutex<Vec<(String, i64)>>,
    failing: Mutex<HashMap<String, DeliveryError>>,
}

#[async_trait]
impl Deliverer for Recorder {
    async fn deliver(&self, message: &OutboxMessage) -> Result<(), DeliveryError> {
        if let Some(e) = self.failing.lock().unwrap().get(&message.ordering_key) {
            return Err(e.clone());
        }
        tokio::task::yield_now().await;
        self.delivered.lock().unwrap().push((message.ordering_key.clone(), message.payload["n"].as_i64().unwrap()));
        Ok(())
    }
}

struct Fixture {
    services: Services,
    clock: Arc<ManualClock>,
    partner: Uuid,
    db: TestDatabase,
}

async fn fixture(backend: TestBackend) -> Fixture {
    let db = TestDatabase::new(backend).await;
    let store = store::Db::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let services =
        Services::new(store, MasterKey::from_bytes(&MasterKey::generate()), clock.clone(), Settings { allow_private_endpoints: true, ..Settings::default() });
    let registered = services
        .register(ApplicationInput {
            company_name: Some("推送测试平台".into()),
            credit_code: Some("91350100M000100Y43".into()),
            contact_name: Some("王五".into()),
            contact_phone: Some("13900139000".into()),
            contact_email: Some("a@b.cn".into()),
            roles: Some("platform".into()),
            protocol: Some("cec102".into()),
            callback_base_url: Some("http://127.0.0.1:9".into()),
        })
        .await
        .unwrap();
    Fixture { services, clock, partner: registered.partner.id, db }
}

async fn enqueue(f: &Fixture, key: &str, n: i64) {
    let mut conn = f.services.db.acquire().await.unwrap();
    store::outbox::enqueue(&mut conn, f.partner, "test.notification", key, &serde_json::json!({ "n": n }), f.services.now()).await.unwrap();
}

fn dispatcher(f: &Fixture, deliverer: Arc<Recorder>, max_attempts: i64) -> Dispatcher {
    let config = DispatcherConfig { max_attempts, ..DispatcherConfig::default() };
    Dispatcher::new(f.services.clone(), deliverer, config, DeliveryWaker::default())
}

async fn drain(d: &Dispatcher) {
    while d.run_once().await.unwrap() > 0 {}
}

macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $scenario() { super::$scenario(store::testing::TestBackend::Sqlite).await } )* }
        mod postgres { $( #[tokio::test] async fn $scenario() { super::$scenario(store::testing::TestBackend::Postgres).await } )* }
    };
}

on_both_backends!(in_order_per_key_with_retries_and_dead_letters, two_dispatchers_deliver_each_message_once);

async fn in_order_per_key_with_retries_and_dead_letters(backend: TestBackend) {
    let f = fixture(backend).await;
    let recorder = Arc::new(Recorder::default());
    let d = dispatcher(&f, recorder.clone(), 3);
    for n in 0..3 {
        enqueue(&f, "connector-A", n).await;
        enqueue(&f, "connector-B", n).await;
    }
    // A is down: B flows, A waits in order.
    recorder.failing.lock().unwrap().insert("connector-A".into(), DeliveryError::Retry("connection refused".into()));
    drain(&d).await;
    let got: Vec<_> = recorder.delivered.lock().unwrap().clone();
    assert_eq!(got, [("connector-B".into(), 0), ("connector-B".into(), 1), ("connector-B".into(), 2)]);

    // Not due yet: nothing happens until the backoff has passed.
    assert_eq!(d.run_once().await.unwrap(), 0);
    recorder.failing.lock().unwrap().clear();
    f.clock.advance(Duration::seconds(1));
    drain(&d).await;
    let a: Vec<i64> = recorder.delivered.lock().unwrap().iter().filter(|(k, _)| k == "connector-A").map(|(_, n)| *n).collect();
    assert_eq!(a, [0, 1, 2], "in order, each once");

    // A permanent refusal dead-letters at once; retries exhaust the budget to dead too.
    recorder.failing.lock().unwrap().insert("order-1".into(), DeliveryError::Permanent("Ret 4004: bad parameter".into()));
    recorder.failing.lock().unwrap().insert("order-2".into(), DeliveryError::Retry("timeout".into()));
    enqueue(&f, "order-1", 7).await;
    enqueue(&f, "order-2", 8).await;
    for _ in 0..4 {
        drain(&d).await;
        f.clock.advance(Duration::minutes(1));
    }
    let dead = f.services.deliveries(f.partner, Some(OutboxStatus::Dead), PageRequest { page: 1, per_page: 10 }).await.unwrap();
    assert_eq!(dead.total, 2);
    let order2 = dead.items.iter().find(|m| m.ordering_key == "order-2").unwrap();
    let (message, attempts) = f.services.delivery(f.partner, order2.id).await.unwrap();
    assert_eq!(message.attempts, 3);
    assert_eq!(attempts.iter().map(|a| a.outcome.as_str()).collect::<Vec<_>>(), ["retry", "retry", "dead"]);
    assert_eq!(attempts[0].error.as_deref(), Some("timeout"));

    // Replay after the partner is fixed: delivered once.
    recorder.failing.lock().unwrap().clear();
    let actor = services::onboarding::Actor::Admin("ops".into());
    f.services.replay_delivery(f.partner, order2.id, &actor).await.unwrap();
    assert!(f.services.replay_delivery(f.partner, order2.id, &actor).await.is_err(), "only dead ones replay");
    drain(&d).await;
    assert_eq!(recorder.delivered.lock().unwrap().iter().filter(|(k, _)| k == "order-2").count(), 1);
    f.db.drop_database().await;
}

async fn two_dispatchers_deliver_each_message_once(backend: TestBackend) {
    let f = fixture(backend).await;
    let recorder = Arc::new(Recorder::default());
    for n in 0..60 {
        enqueue(&f, &format!("connector-{}", n % 6), n).await;
    }
    let (a, b) = (dispatcher(&f, recorder.clone(), 3), dispatcher(&f, recorder.clone(), 3));
    tokio::join!(drain(&a), drain(&b));
    let got = recorder.delivered.lock().unwrap().clone();
    assert_eq!(got.len(), 60, "each exactly once");
    for key in 0..6 {
        let seen: Vec<i64> = got.iter().filter(|(k, _)| k == &format!("connector-{key}")).map(|(_, n)| *n).collect();
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(seen, sorted, "in order for connector-{key}");
    }
    f.db.drop_database().await;
}
