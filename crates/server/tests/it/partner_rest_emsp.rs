//! Flow B over our partner REST API, as a platform partner integrating from the published
//! contract would: plain HTTP and JSON (no server types), an OAuth2 token with the `emsp` scope,
//! our simulated OCPP pile on the other side, and a webhook receiver on loopback that checks
//! every signature. Pull stations (cursor pages, ETag) → connector status → start with an
//! Idempotency-Key → webhooks `session.started` … `session.charge_record` → reconcile.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::{Backend, CODE_A, CODE_B, CODE_C, TestApp, application};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sim::piles::PileFleet;

const WAIT: Duration = Duration::from_secs(20);
const API: &str = "/api/partner/v1";

/// The partner's webhook endpoint: it checks `X-Chargebridge-Signature` against the webhook
/// secret from the portal and keeps what it accepted, in arrival order.
#[derive(Default)]
struct Receiver {
    secret: Mutex<Option<String>>,
    /// Accepted events: the body as JSON.
    events: Mutex<Vec<Value>>,
    /// Requests whose signature did not verify.
    bad_signatures: Mutex<usize>,
}

impl Receiver {
    fn verify(&self, header: &str, body: &str) -> Option<bool> {
        let secret = self.secret.lock().unwrap().clone()?;
        Some(common::rest::signed_with(&secret, header, body))
    }

    fn events(&self, kind_prefix: &str) -> Vec<Value> {
        self.events.lock().unwrap().iter().filter(|e| e["kind"].as_str().is_some_and(|k| k.starts_with(kind_prefix))).cloned().collect()
    }

    fn session_kinds(&self, session: &str) -> Vec<String> {
        self.events("session.").iter().filter(|e| e["data"]["session_id"] == session).map(|e| e["kind"].as_str().unwrap().to_owned()).collect()
    }
}

async fn start_receiver(receiver: Arc<Receiver>) -> String {
    let app = axum::Router::new().route(
        "/chargebridge/webhook",
        post(move |headers: HeaderMap, body: String| {
            let receiver = receiver.clone();
            async move {
                let signature = headers.get("x-chargebridge-signature").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                match receiver.verify(&signature, &body) {
                    // Not set up yet: come back later.
                    None => StatusCode::SERVICE_UNAVAILABLE,
                    Some(false) => {
                        *receiver.bad_signatures.lock().unwrap() += 1;
                        StatusCode::UNAUTHORIZED
                    }
                    Some(true) => {
                        receiver.events.lock().unwrap().push(serde_json::from_str(&body).unwrap());
                        StatusCode::NO_CONTENT
                    }
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

struct World {
    app: TestApp,
    fleet: PileFleet,
    admin: String,
    /// The platform partner's access token.
    token: String,
    receiver: Arc<Receiver>,
    partner_id: String,
}

use common::rest::join;

async fn world(backend: Backend) -> World {
    let app = TestApp::start_with(backend, |c| {
        c.workers.session_status = Duration::from_millis(300);
        c.workers.outbox_poll = Duration::from_millis(50);
    })
    .await;
    let admin = app.admin_token().await;
    let created = common::station_with_one_pile(&app, &admin).await;
    // A second station, so the list has more than one page at one per page.
    let second = json!({
        "external_id": "CB0002", "name": "前海自营充电站", "address": "深圳市南山区前海大道2号", "area_code": "440305",
        "lat": 22.5301, "lng": 113.8990, "service_tel": "4008000000",
        "tariff": [{"start": "000000", "elec_price": "0.7000", "service_price": "0.5000"}],
        "piles": [{"ocpp_id": "CBQ00001", "power_kw": "60", "connectors": 1, "dc": true}]
    });
    let (status, body) = app.post("/api/admin/v1/stations", Some(&admin), &second).await;
    assert_eq!(status, 201, "{body}");

    let receiver = Arc::new(Receiver::default());
    let callback = start_receiver(receiver.clone()).await;
    let (token, webhook_secret, partner_id) = join(&app, &admin, CODE_B, "platform", &callback).await;
    *receiver.secret.lock().unwrap() = Some(webhook_secret);

    let mut config = common::fleet_config(&app, &created);
    config.meter_interval = Duration::from_millis(100);
    config.power_w = 120_000;
    let fleet = PileFleet::start(config);
    assert!(fleet.wait_all_online(WAIT).await, "the pile connects");
    World { app, fleet, admin, token, receiver, partner_id }
}

impl World {
    async fn get(&self, path: &str) -> (u16, Value) {
        self.app.get(&format!("{API}{path}"), Some(&self.token)).await
    }

    async fn start(&self, key: Option<&str>, body: &Value) -> (u16, Value, HeaderMap) {
        let mut request = self.app.http.post(self.app.url(&format!("{API}/sessions"))).bearer_auth(&self.token).json(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.unwrap();
        let headers = response.headers().clone();
        let (status, body) = common::read(response).await;
        (status, body, headers)
    }

    /// Waits until our status read says `connector` is `status`.
    async fn status_is(&self, connector: &str, status: &str) {
        let mut last = Value::Null;
        for _ in 0..400 {
            let (code, body) = self.get(&format!("/connectors/status?ids={connector}")).await;
            assert_eq!(code, 200, "{body}");
            if body["items"][0]["status"] == status {
                return;
            }
            last = body;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{connector} never read {status}: {last}");
    }

    async fn webhook(&self, session: &str, kind: &str) -> Value {
        for _ in 0..400 {
            if let Some(e) = self.receiver.events(kind).into_iter().find(|e| e["data"]["session_id"] == session) {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {kind} for {session}; got {:?}", self.receiver.events.lock().unwrap());
    }

    async fn finish(self) {
        self.fleet.shutdown().await;
        self.app.cleanup().await;
    }
}

/// The connector ids of station `station` as listed.
fn connectors(station: &Value) -> Vec<String> {
    station["piles"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["connectors"].as_array().unwrap())
        .map(|c| c["connector_id"].as_str().unwrap().to_owned())
        .collect()
}

on_both_backends!(
    pull_start_stop_and_webhooks,
    stations_page_by_cursor_with_etags,
    another_partners_session_is_not_found,
    cpo_token_is_refused,
    reservation_held_cancelled_and_taken_by_a_start,
    a_station_granted_to_another_partner_stays_hidden,
    the_contract_documents_the_emsp_surface,
    the_rest_simulator_charges_through_the_documented_api,
    status_changes_stream_as_server_sent_events,
);

async fn stations_page_by_cursor_with_etags(backend: Backend) {
    let w = world(backend).await;
    let (status, first) = w.get("/stations?limit=1").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!((first["total"].as_i64(), first["items"].as_array().map(Vec::len)), (Some(2), Some(1)), "{first}");
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let (status, second) = w.get(&format!("/stations?cursor={cursor}")).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["items"].as_array().map(Vec::len), Some(1), "{second}");
    assert!(second["next_cursor"].is_null(), "the last page: {second}");
    let mut ids = vec![first["items"][0]["station_id"].as_str().unwrap(), second["items"][0]["station_id"].as_str().unwrap()];
    ids.sort();
    assert_eq!(ids, ["CB0001", "CB0002"], "each station once over the pages");
    // Prices are decimal strings, at the partner's (here: our published) prices.
    let cb1 = [&first, &second].into_iter().map(|p| &p["items"][0]).find(|s| s["station_id"] == "CB0001").unwrap().clone();
    assert_eq!(cb1["tariff"]["periods"][0], json!({"start": "000000", "elec_price": "0.8000", "service_price": "0.6000"}), "{cb1}");
    assert_eq!(connectors(&cb1).len(), 2, "{cb1}");

    // ETag: unchanged → 304 without a body; a stale tag → the page.
    let url = w.app.url(&format!("{API}/stations?limit=1"));
    let response = w.app.http.get(&url).bearer_auth(&w.token).send().await.unwrap();
    let etag = response.headers().get("etag").expect("an ETag").to_str().unwrap().to_owned();
    let again = w.app.http.get(&url).bearer_auth(&w.token).header("If-None-Match", &etag).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 304);
    assert!(again.text().await.unwrap().is_empty());
    let stale = w.app.http.get(&url).bearer_auth(&w.token).header("If-None-Match", "\"stale\"").send().await.unwrap();
    assert_eq!(stale.status().as_u16(), 200);

    // A bad cursor and an out-of-range limit are bad input, not server errors.
    let (status, body) = w.get("/stations?cursor=not-a-cursor").await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_input")), "{body}");
    let (status, _) = w.get("/stations?limit=0").await;
    assert_eq!(status, 422);
    let (status, station) = w.get("/stations/CB0002").await;
    assert_eq!((status, station["station_id"].as_str()), (200, Some("CB0002")), "{station}");
    let (status, missing) = w.get("/stations/NOSUCH").await;
    assert_eq!((status, missing["error"]["code"].as_str()), (404, Some("not_found")), "{missing}");
    // Updated since a moment after everything was made: nothing.
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339().replace('+', "%2B");
    let (status, none) = w.get(&format!("/stations?updated_since={later}")).await;
    assert_eq!((status, none["total"].as_i64()), (200, Some(0)), "{none}");
    w.finish().await;
}

async fn pull_start_stop_and_webhooks(backend: Backend) {
    let w = world(backend).await;
    let (_, station) = w.get("/stations/CB0001").await;
    let ids = connectors(&station);
    let (connector, other) = (ids[0].clone(), ids[1].clone());
    w.status_is(&connector, "available").await;
    let (_, statuses) = w.get(&format!("/connectors/status?ids={connector},NOSUCH")).await;
    assert_eq!(statuses["items"][1], json!({"connector_id": "NOSUCH", "found": false, "station_id": null, "status": null}), "{statuses}");
    let (status, batch) = w.app.post(&format!("{API}/connectors/status"), Some(&w.token), &json!({"ids": [other, "NOSUCH"]})).await;
    assert_eq!((status, &batch["items"][0]["station_id"]), (200, &json!("CB0001")), "{batch}");

    // Start: the key is required; the same key and body answer the same session; another body is refused.
    let start = json!({"connector_id": connector});
    let (status, body, _) = w.start(None, &start).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("idempotency_key_required")), "{body}");
    let (status, session, _) = w.start(Some("start-1"), &start).await;
    assert_eq!((status, session["state"].as_str()), (202, Some("starting")), "{session}");
    let id = session["id"].as_str().unwrap().to_owned();
    let (status, again, headers) = w.start(Some("start-1"), &start).await;
    assert_eq!((status, again["id"].as_str()), (202, Some(id.as_str())), "{again}");
    assert_eq!(headers.get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    let (status, reused, _) = w.start(Some("start-1"), &json!({"connector_id": other})).await;
    assert_eq!((status, reused["error"]["code"].as_str()), (422, Some("idempotency_key_reused")), "{reused}");
    let (status, unknown, _) = w.start(Some("start-2"), &json!({"connector_id": "NOSUCH"})).await;
    assert_eq!(status, 404, "{unknown}");

    // The pile starts: the webhook comes, and the session reads as charging with energy.
    let started = w.webhook(&id, "session.started").await;
    assert_eq!((started["data"]["connector_id"].as_str(), started["data"]["state"].as_str()), (Some(connector.as_str()), Some("charging")), "{started}");
    let (status, busy, _) = w.start(Some("start-3"), &start).await;
    assert_eq!((status, busy["error"]["code"].as_str()), (409, Some("connector_busy")), "{busy}");
    w.webhook(&id, "session.progress").await;
    let mut charging = Value::Null;
    for _ in 0..200 {
        let (status, now) = w.get(&format!("/sessions/{id}")).await;
        assert_eq!(status, 200, "{now}");
        charging = now;
        if charging["energy_kwh"].as_str().is_some_and(|e| e.parse::<Decimal>().unwrap() > Decimal::ZERO) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(charging["state"], "charging", "{charging}");
    assert!(charging["charge_record"].is_null(), "{charging}");

    // Stop → session.stopped → session.charge_record, each once and in that order.
    let (status, stopping) = w.app.post(&format!("{API}/sessions/{id}/stop"), Some(&w.token), &json!({})).await;
    assert_eq!((status, stopping["state"].as_str()), (202, Some("stopping")), "{stopping}");
    let record = w.webhook(&id, "session.charge_record").await;
    let kinds = w.receiver.session_kinds(&id);
    let position = |kind: &str| kinds.iter().position(|k| k == kind).unwrap_or_else(|| panic!("no {kind} in {kinds:?}"));
    assert!(position("session.started") < position("session.stopped") && position("session.stopped") < position("session.charge_record"), "{kinds:?}");
    for once in ["session.started", "session.stopped", "session.charge_record"] {
        assert_eq!(kinds.iter().filter(|k| *k == once).count(), 1, "{once} exactly once: {kinds:?}");
    }
    assert!(kinds.iter().all(|k| !k.starts_with("session.progress")) || position("session.progress") > position("session.started"), "{kinds:?}");
    let data = &record["data"];
    let money = |v: &Value| v.as_str().unwrap_or_else(|| panic!("a decimal string: {v}")).parse::<Decimal>().unwrap();
    let energy = money(&data["charge_record"]["energy_kwh"]);
    assert!(energy > Decimal::ZERO, "{record}");
    assert_eq!(money(&data["charge_record"]["elec_money"]), (energy * Decimal::new(80, 2)).round_dp(2), "{record}");
    assert_eq!(money(&data["charge_record"]["total_money"]), money(&data["charge_record"]["elec_money"]) + money(&data["charge_record"]["service_money"]));
    assert_eq!(data["charge_record"]["stop_reason"], "platform", "{record}");
    assert!(!data["lines"].as_array().unwrap().is_empty(), "{record}");

    // Every event has its own id, and every signature verified.
    let events = w.receiver.events.lock().unwrap().clone();
    let mut event_ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    event_ids.sort();
    event_ids.dedup();
    assert_eq!(event_ids.len(), events.len(), "event ids are unique");
    assert_eq!(*w.receiver.bad_signatures.lock().unwrap(), 0);
    // Status changes of the connector came as webhooks, in order: charging, and later free.
    w.status_is(&connector, "available").await;
    let mut changes = Vec::new();
    for _ in 0..200 {
        changes = w
            .receiver
            .events("connector.status_changed")
            .iter()
            .filter(|e| e["data"]["connector_id"] == connector.as_str())
            .map(|e| e["data"]["status"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>();
        if changes.last().is_some_and(|s| s == "available") && changes.iter().any(|s| s == "charging") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let charging_at = changes.iter().position(|s| s == "charging").unwrap_or_else(|| panic!("no charging in {changes:?}"));
    assert_eq!(changes.last().map(String::as_str), Some("available"), "{changes:?}");
    assert!(charging_at < changes.len() - 1, "{changes:?}");

    // The ended session: its record on read, a stop now refused, and it is in the period's list.
    let (_, ended) = w.get(&format!("/sessions/{id}")).await;
    assert_eq!(ended["charge_record"]["total_money"], data["charge_record"]["total_money"], "{ended}");
    let (status, late) = w.app.post(&format!("{API}/sessions/{id}/stop"), Some(&w.token), &json!({})).await;
    assert_eq!((status, late["error"]["code"].as_str()), (409, Some("session_not_active")), "{late}");
    let from = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let to = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let (status, list) = w.get(&format!("/sessions?from={from}&to={to}&limit=1")).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["items"][0]["id"], id.as_str(), "{list}");
    assert_eq!(list["items"][0]["charge_record"]["total_money"], data["charge_record"]["total_money"], "{list}");
    let cursor = list["next_cursor"].as_str().expect("a full page has a cursor");
    let (status, rest) = w.get(&format!("/sessions?from={from}&to={to}&limit=1&cursor={cursor}")).await;
    assert_eq!((status, rest["items"].as_array().map(Vec::len)), (200, Some(0)), "{rest}");
    w.finish().await;
}

async fn another_partners_session_is_not_found(backend: Backend) {
    let w = world(backend).await;
    let (_, station) = w.get("/stations/CB0001").await;
    let connector = connectors(&station)[0].clone();
    w.status_is(&connector, "available").await;
    let (status, session, _) = w.start(Some("mine"), &json!({"connector_id": connector})).await;
    assert_eq!(status, 202, "{session}");
    let id = session["id"].as_str().unwrap();

    let (theirs, _, _) = join(&w.app, &w.admin, CODE_C, "platform", "http://127.0.0.1:9").await;
    let (status, body) = w.app.get(&format!("{API}/sessions/{id}"), Some(&theirs)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")), "{body}");
    let (status, body) = w.app.post(&format!("{API}/sessions/{id}/stop"), Some(&theirs), &json!({})).await;
    assert_eq!(status, 404, "{body}");
    let from = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let to = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let (status, list) = w.app.get(&format!("{API}/sessions?from={from}&to={to}"), Some(&theirs)).await;
    assert_eq!((status, list["items"].as_array().map(Vec::len)), (200, Some(0)), "{list}");
    // The same key of another partner is its own key: no replay of our session.
    let response = w
        .app
        .http
        .post(w.app.url(&format!("{API}/sessions")))
        .bearer_auth(&theirs)
        .header("Idempotency-Key", "mine")
        .json(&json!({"connector_id": connector}))
        .send()
        .await
        .unwrap();
    let (status, body) = common::read(response).await;
    assert_ne!(body["id"].as_str(), Some(id), "{status} {body}");
    // Ours still reads.
    let (status, _) = w.get(&format!("/sessions/{id}")).await;
    assert_eq!(status, 200);
    w.finish().await;
}

async fn cpo_token_is_refused(backend: Backend) {
    let w = world(backend).await;
    let (cpo, _, _) = join(&w.app, &w.admin, CODE_A, "operator", "http://127.0.0.1:9").await;
    for path in ["/stations", "/stations/CB0001", "/connectors/status?ids=x", "/sessions?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z"] {
        let (status, body) = w.app.get(&format!("{API}{path}"), Some(&cpo)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("insufficient_scope")), "{path}: {body}");
    }
    let response = w
        .app
        .http
        .post(w.app.url(&format!("{API}/sessions")))
        .bearer_auth(&cpo)
        .header("Idempotency-Key", "k")
        .json(&json!({"connector_id": "x"}))
        .send()
        .await
        .unwrap();
    let (status, body) = common::read(response).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("insufficient_scope")), "{body}");
    // The platform's own token passes the same door.
    let (status, _) = w.get("/stations").await;
    assert_eq!(status, 200);
    w.finish().await;
}

async fn reservation_held_cancelled_and_taken_by_a_start(backend: Backend) {
    let w = world(backend).await;
    let (_, station) = w.get("/stations/CB0001").await;
    let connector = connectors(&station)[0].clone();
    w.status_is(&connector, "available").await;
    let reserve = |key: &'static str, minutes: i64| {
        let request = w.app.http.post(w.app.url(&format!("{API}/reservations"))).bearer_auth(&w.token).header("Idempotency-Key", key);
        let body = json!({"connector_id": connector, "minutes": minutes});
        async move { common::read(request.json(&body).send().await.unwrap()).await }
    };
    // Not in the partner's terms yet.
    let (status, body) = reserve("hold-0", 15).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")), "{body}");
    let terms = format!("/api/admin/v1/partners/{}/terms", w.partner_id);
    let (_, mut current) = w.app.get(&terms, Some(&w.admin)).await;
    current["open"]["reservations"] = json!(true);
    let (status, saved) = w.app.put(&terms, Some(&w.admin), &current).await;
    assert_eq!(status, 200, "{saved}");

    // Held, then released.
    let (status, held) = reserve("hold-1", 15).await;
    assert_eq!((status, held["state"].as_str()), (201, Some("reserved")), "{held}");
    let id = held["id"].as_str().unwrap().to_owned();
    w.status_is(&connector, "reserved").await;
    let (status, again) = reserve("hold-1", 15).await;
    assert_eq!((status, again["id"].as_str()), (201, Some(id.as_str())), "the same key answers the same hold: {again}");
    let (status, busy) = reserve("hold-2", 15).await;
    assert_eq!((status, busy["error"]["code"].as_str()), (409, Some("connector_busy")), "{busy}");
    let delete = |id: String| {
        let request = w.app.http.delete(w.app.url(&format!("{API}/reservations/{id}"))).bearer_auth(&w.token);
        async move { common::read(request.send().await.unwrap()).await }
    };
    let (status, body) = delete(id.clone()).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = delete(id.clone()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("reservation_not_active")), "{body}");
    let (status, _) = delete(uuid::Uuid::now_v7().to_string()).await;
    assert_eq!(status, 404);
    w.status_is(&connector, "available").await;

    // Held again, and our start on it takes the hold over: `reservation.used`, then the session.
    let (status, held) = reserve("hold-3", 15).await;
    assert_eq!(status, 201, "{held}");
    let reservation = held["id"].as_str().unwrap().to_owned();
    w.status_is(&connector, "reserved").await;
    let (status, session, _) = w.start(Some("start-on-hold"), &json!({"connector_id": connector})).await;
    assert_eq!(status, 202, "{session}");
    w.webhook(session["id"].as_str().unwrap(), "session.started").await;
    let mut used = Vec::new();
    for _ in 0..200 {
        used = w.receiver.events("reservation.").into_iter().filter(|e| e["data"]["reservation_id"] == reservation.as_str()).collect();
        if !used.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(used.iter().map(|e| e["kind"].as_str().unwrap()).collect::<Vec<_>>(), ["reservation.used"], "{used:?}");
    // A reservation is no session: not readable as one, not in the list.
    let (status, _) = w.get(&format!("/sessions/{reservation}")).await;
    assert_eq!(status, 404);
    let from = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let to = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let (_, list) = w.get(&format!("/sessions?from={from}&to={to}")).await;
    let listed: Vec<&str> = list["items"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(listed, [session["id"].as_str().unwrap()], "{list}");
    w.finish().await;
}

/// What the contract fuzzer relies on: every operation of the surface is in the document with
/// its refusals and bounds, and the webhook events have schemas.
async fn the_contract_documents_the_emsp_surface(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (status, doc) = app.get("/openapi.json", None).await;
    assert_eq!(status, 200);
    let op = |path: &str, method: &str| doc["paths"][format!("{API}{path}")][method].clone();
    let start = op("/sessions", "post");
    for code in ["202", "400", "401", "403", "404", "409", "422"] {
        assert!(start["responses"].get(code).is_some(), "POST /sessions documents {code}: {start}");
    }
    let list = op("/stations", "get");
    assert!(list["responses"].get("304").is_some(), "{list}");
    let limit = list["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "limit").unwrap().clone();
    assert_eq!((limit["schema"]["minimum"].as_i64(), limit["schema"]["maximum"].as_i64()), (Some(1), Some(200)), "{limit}");
    for (path, method) in [
        ("/stations/{station_id}", "get"),
        ("/connectors/status", "get"),
        ("/connectors/status", "post"),
        ("/sessions", "get"),
        ("/sessions/{id}", "get"),
        ("/sessions/{id}/stop", "post"),
        ("/reservations", "post"),
        ("/reservations/{id}", "delete"),
    ] {
        assert!(op(path, method)["responses"].get("403").is_some(), "{method} {path} documents 403");
    }
    for schema in ["WebhookEvent", "SessionEvent", "ConnectorStatusEvent", "ReservationEvent"] {
        assert!(doc["components"]["schemas"].get(schema).is_some(), "{schema} is published");
    }
    app.cleanup().await;
}

async fn a_station_granted_to_another_partner_stays_hidden(backend: Backend) {
    let w = world(backend).await;
    let private = json!({
        "external_id": "CB0003", "name": "合作客户专用站", "address": "深圳市南山区科技园3号", "area_code": "440305",
        "lat": 22.54, "lng": 113.95, "service_tel": "4008000000", "public": false,
        "tariff": [{"start": "000000", "elec_price": "0.9000", "service_price": "0.4000"}],
        "piles": [{"ocpp_id": "CBR00001", "power_kw": "60", "connectors": 1, "dc": true}]
    });
    let (status, created) = w.app.post("/api/admin/v1/stations", Some(&w.admin), &private).await;
    assert_eq!(status, 201, "{created}");
    let (theirs, _, their_id) = join(&w.app, &w.admin, CODE_C, "platform", "http://127.0.0.1:9").await;
    let station_id = created["station_id"].as_str().unwrap();
    let (status, body) = w.app.post(&format!("/api/admin/v1/stations/{station_id}/visibility"), Some(&w.admin), &json!({"partner_id": their_id})).await;
    assert_eq!(status, 204, "{body}");

    // The partner it was granted to sees it, and the status of its connector.
    let (status, station) = w.app.get(&format!("{API}/stations/CB0003"), Some(&theirs)).await;
    assert_eq!(status, 200, "{station}");
    let connector = connectors(&station)[0].clone();
    let (_, seen) = w.app.get(&format!("{API}/connectors/status?ids={connector}"), Some(&theirs)).await;
    assert_eq!(seen["items"][0]["found"], true, "{seen}");
    // We do not: not listed, not readable, its connector unknown to us, no session on it.
    let (_, list) = w.get("/stations?limit=200").await;
    assert_eq!(list["total"], 2, "{list}");
    assert!(list["items"].as_array().unwrap().iter().all(|s| s["station_id"] != "CB0003"), "{list}");
    let (status, _) = w.get("/stations/CB0003").await;
    assert_eq!(status, 404);
    let (_, hidden) = w.get(&format!("/connectors/status?ids={connector}")).await;
    assert_eq!(hidden["items"][0], json!({"connector_id": connector, "found": false, "station_id": null, "status": null}), "{hidden}");
    let (status, body, _) = w.start(Some("hidden"), &json!({"connector_id": connector})).await;
    assert_eq!(status, 404, "{body}");
    w.finish().await;
}

/// The simulated REST platform (`sim emsp --protocol rest`, written from the guide) pulls our
/// stations, starts with an Idempotency-Key, stops, and hears the session's webhooks with
/// signatures it verifies itself: the published contract is enough to integrate.
async fn the_rest_simulator_charges_through_the_documented_api(backend: Backend) {
    let w = world(backend).await;
    // The receiver's address is part of the registration, so pick it first.
    let bind = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut form = application(CODE_C);
    form["roles"] = json!("platform");
    form["protocol"] = json!("rest_api");
    form["callback_base_url"] = json!(format!("http://{bind}"));
    let (id, portal) = w.app.register(&form).await;
    let (status, approved) = w.app.post(&format!("/api/admin/v1/partners/{id}/approve"), Some(&w.admin), &json!({})).await;
    assert_eq!(status, 200, "{approved}");
    let (_, creds) = w.app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    let config = sim::rest_emsp::RestEmspConfig {
        base_url: w.app.url(""),
        client_id: creds["api"][0]["client_id"].as_str().unwrap().to_owned(),
        client_secret: creds["api"][0]["client_secret"].as_str().unwrap().to_owned(),
        webhook_secret: creds["webhook_secret"].as_str().unwrap().to_owned(),
        bind,
    };
    let emsp = sim::rest_emsp::RestEmsp::start(config).await.unwrap();

    let stations = emsp.pull_stations(1).await.unwrap();
    let ids: Vec<&str> = stations.iter().map(|s| s["station_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["CB0001", "CB0002"], "every station once, one page at a time");
    let connector = connectors(&stations[0])[0].clone();
    w.status_is(&connector, "available").await;

    let (status, session) = emsp.start_session(&connector, "sim-start-1").await.unwrap();
    assert_eq!(status, 202, "{session}");
    let session_id = session["id"].as_str().unwrap().to_owned();
    assert!(emsp.wait_for(&session_id, "session.started", WAIT).await.is_some(), "{:?}", emsp.events());
    // Charge until the meter has counted something, as told by the progress webhook.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !emsp.session_events(&session_id).iter().any(|e| e.kind == "session.progress" && e.data["energy_kwh"] != "0") {
        assert!(tokio::time::Instant::now() < deadline, "no metered progress: {:?}", emsp.events());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, stopping) = emsp.stop_session(&session_id).await.unwrap();
    assert_eq!(status, 202, "{stopping}");
    let record = emsp.wait_for(&session_id, "session.charge_record", WAIT).await.expect("the charge record arrives");
    assert!(record.data["total_money"].as_str().unwrap().parse::<Decimal>().unwrap() > Decimal::ZERO, "{:?}", record.data);
    let kinds: Vec<String> = emsp.session_events(&session_id).into_iter().map(|e| e.kind).collect();
    let position = |kind: &str| kinds.iter().position(|k| k == kind).unwrap_or_else(|| panic!("{kind} in {kinds:?}"));
    assert!(position("session.started") < position("session.stopped") && position("session.stopped") < position("session.charge_record"), "{kinds:?}");
    assert_eq!(emsp.refused_and_duplicates().0, 0, "every signature verified");
    let (_, billed) = emsp.session(&session_id).await.unwrap();
    assert_eq!(billed["charge_record"]["total_money"], record.data["total_money"], "{billed}");
    w.finish().await;
}

/// For partners that pull: the same `connector.status_changed` data over one SSE connection, as
/// changes happen, and only with the `emsp` scope.
async fn status_changes_stream_as_server_sent_events(backend: Backend) {
    let w = world(backend).await;
    let (_, station) = w.get("/stations/CB0001").await;
    let connector = connectors(&station)[0].clone();
    w.status_is(&connector, "available").await;
    let (cpo, _, _) = join(&w.app, &w.admin, CODE_A, "operator", "http://127.0.0.1:9").await;
    let refused = reqwest::Client::new().get(w.app.url(&format!("{API}/connectors/status/stream"))).bearer_auth(&cpo).send().await.unwrap();
    assert_eq!(refused.status(), 403);

    let mut stream = reqwest::Client::new().get(w.app.url(&format!("{API}/connectors/status/stream"))).bearer_auth(&w.token).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    assert!(stream.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let (status, _, _) = w.start(Some("sse-1"), &json!({"connector_id": connector})).await;
    assert_eq!(status, 202);
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    let event = loop {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk()).await.expect("an event in time").unwrap().expect("the stream stays open");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
        let data = text.split("\n\n").filter(|e| e.contains("event: connector.status_changed")).find_map(|e| {
            let data: Value = serde_json::from_str(e.lines().find_map(|l| l.strip_prefix("data: "))?).ok()?;
            (data["connector_id"] == connector.as_str() && data["status"] != "available").then_some(data)
        });
        if let Some(data) = data {
            break data;
        }
    };
    assert_eq!(event["station_id"], "CB0001", "{event}");
    w.finish().await;
}
