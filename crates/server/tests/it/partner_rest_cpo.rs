//! Flow A over the partner REST API, first half (第三方充电站接入流程 K–S): an operator that
//! integrates "by our docs" gets a token, uploads its stations (注册/上传充电站、充电桩信息) and
//! keeps their live status current (周期性同步充电桩实时状态), and our driver app shows them.
//! Written against the wire only (JSON in, JSON out), as a partner would.

use crate::common;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use common::{Backend, CODE_A, CODE_B, CODE_C, TestApp, application};
use serde_json::{Value, json};

/// Where the station is on a Chinese map (GCJ-02) and where that is in WGS-84 (the published
/// GCJ-02 transform, inverted), which is what our app works in.
const GCJ: (f64, f64) = (22.5405, 113.9345);
const WGS: (f64, f64) = (22.543536, 113.929636);

/// An approved partner of our REST API with `roles`; its access token.
async fn rest_partner(app: &TestApp, admin: &str, credit_code: &str, roles: &str) -> String {
    approved_partner(app, admin, credit_code, roles, "rest_api").await
}

/// An approved partner speaking `protocol` with `roles`; its access token for our REST API.
async fn approved_partner(app: &TestApp, admin: &str, credit_code: &str, roles: &str, protocol: &str) -> String {
    let mut form = application(credit_code);
    form["protocol"] = json!(protocol);
    form["roles"] = json!(roles);
    let (id, portal) = app.register(&form).await;
    let (status, body) = app.post(&format!("/api/admin/v1/partners/{id}/approve"), Some(admin), &json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (_, creds) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    let (client_id, secret) = (creds["api"][0]["client_id"].as_str().unwrap(), creds["api"][0]["client_secret"].as_str().unwrap());
    let (status, token) = app.token(client_id, secret).await;
    assert_eq!(status, 200, "{token}");
    token["access_token"].as_str().unwrap().to_owned()
}

/// A station at `GCJ` with one DC pile (two connectors) and one AC pile, priced by time of day.
fn station(prefix: &str) -> Value {
    json!({
        "name": "南山科技园充电站",
        "address": "广东省深圳市南山区科技园南区 1 号",
        "area_code": "440305",
        "lat": GCJ.0, "lng": GCJ.1, "coordinate_system": "gcj02",
        "service_tel": "0755-86000000",
        "opening_hours": "24 小时",
        "photos": ["https://img.example.cn/sz-ns-001/front.jpg"],
        "tariff": {"periods": [
            {"start": "00:00", "electricity_price": "0.3500", "service_price": "0.4000"},
            {"start": "08:00", "electricity_price": "0.8500", "service_price": "0.6000"},
            {"start": "22:00", "electricity_price": "0.3500", "service_price": "0.4000"}
        ]},
        "piles": [
            {"id": format!("{prefix}P1"), "type": "dc", "power_kw": "120", "connectors": [
                {"id": format!("{prefix}P1-1"), "type": "dc_cable", "power_kw": "120", "national_standard": "gb_t2015"},
                {"id": format!("{prefix}P1-2"), "type": "dc_cable", "power_kw": "60"}
            ]},
            {"id": format!("{prefix}P2"), "type": "ac", "power_kw": "7", "connectors": [
                {"id": format!("{prefix}P2-1"), "type": "ac_cable", "power_kw": "7"}
            ]}
        ]
    })
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The driver app's nearby search around a WGS-84 point.
async fn nearby(app: &TestApp, (lat, lng): (f64, f64)) -> Vec<Value> {
    let (status, page) = app.get(&format!("/api/app/v1/stations/nearby?lat={lat}&lng={lng}&radius_m=200"), None).await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

/// The live status the driver app shows for each of the station's connectors, by the
/// operator's connector id.
async fn app_statuses(app: &TestApp, our_id: &str) -> std::collections::BTreeMap<String, String> {
    let (status, detail) = app.get(&format!("/api/app/v1/stations/{our_id}"), None).await;
    assert_eq!(status, 200, "{detail}");
    let external: std::collections::HashMap<&str, &str> =
        detail["connectors"].as_array().unwrap().iter().map(|c| (c["id"].as_str().unwrap(), c["external_id"].as_str().unwrap())).collect();
    detail["connectors_live"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (external[c["id"].as_str().unwrap()].to_owned(), c["status"].as_str().unwrap().to_owned()))
        .collect()
}

fn fields(error: &Value) -> Vec<&str> {
    error["error"]["fields"].as_array().map(|f| f.iter().map(|f| f["field"].as_str().unwrap()).collect()).unwrap_or_default()
}

/// 上传充电站 → 我方存储 → 用户 App 在正确的位置看到它；再次上传即替换。
async fn uploaded_station_is_found_where_it_is(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin_token().await;
    let cpo = rest_partner(&app, &admin, CODE_A, "operator").await;

    let (status, created) = app.put("/api/partner/v1/stations/SZ-NS-001", Some(&cpo), &station("A")).await;
    assert_eq!((status, created["status"].as_str()), (201, Some("created")), "{created}");
    assert_eq!(created["station_id"], "SZ-NS-001");
    let our_id = created["id"].as_str().unwrap().to_owned();

    // Found at its WGS-84 place (about 550 m from the GCJ-02 numbers it was sent with).
    let found = nearby(&app, WGS).await;
    assert_eq!(found.len(), 1, "{found:?}");
    let s = &found[0];
    assert_eq!(s["id"].as_str(), Some(our_id.as_str()));
    assert_eq!((s["external_id"].as_str(), s["name"].as_str()), (Some("SZ-NS-001"), Some("南山科技园充电站")));
    assert!((s["lat"].as_f64().unwrap() - WGS.0).abs() < 1e-5 && (s["lng"].as_f64().unwrap() - WGS.1).abs() < 1e-5, "{s}");
    assert!(s["distance_m"].as_f64().unwrap() < 2.0, "{s}");
    assert!(nearby(&app, GCJ).await.is_empty(), "the GCJ-02 numbers read as WGS-84 are ~550 m off");
    // Prices shown as given (before our user pricing, the partner terms apply; here none).
    let (_, detail) = app.get(&format!("/api/app/v1/stations/{our_id}"), None).await;
    assert_eq!(detail["prices"].as_array().map(Vec::len), Some(3), "{detail}");
    assert_eq!(detail["connectors"].as_array().map(Vec::len), Some(3), "{detail}");

    // A bad upload names every field at fault, in both languages, and changes nothing.
    let mut bad = station("A");
    bad["name"] = json!("改名也不应生效");
    bad["piles"][0]["connectors"][1]["power_kw"] = json!("6O");
    bad["tariff"]["periods"][1]["service_price"] = json!("-0.1");
    bad["area_code"] = json!("4403");
    let (status, error) = app.put("/api/partner/v1/stations/SZ-NS-001", Some(&cpo), &bad).await;
    assert_eq!((status, error["error"]["code"].as_str()), (422, Some("invalid_input")), "{error}");
    let named = fields(&error);
    for field in ["area_code", "piles[0].connectors[1].power_kw", "tariff.periods[1].service_price"] {
        assert!(named.contains(&field), "{field} not named: {error}");
    }
    assert!(error["error"]["fields"].as_array().unwrap().iter().all(|f| !f["message_zh"].as_str().unwrap().is_empty()));
    // A wrong type or value is named by its path too.
    let mut bad = station("A");
    bad["piles"][1]["connectors"][0]["type"] = json!("type2");
    let (status, error) = app.put("/api/partner/v1/stations/SZ-NS-001", Some(&cpo), &bad).await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(fields(&error), ["piles[1].connectors[0].type"], "{error}");
    // A NUL (which PostgreSQL text cannot hold) is bad input, not an internal error.
    let mut bad = station("A");
    bad["name"] = json!("南山\u{0}站");
    let (status, error) = app.put("/api/partner/v1/stations/SZ-NS-001", Some(&cpo), &bad).await;
    assert_eq!((status, fields(&error)), (422, vec!["name"]), "{error}");
    assert_eq!(nearby(&app, WGS).await[0]["name"], "南山科技园充电站", "a refused upload changed the station");

    // Replaced: renamed, the AC pile gone; same station, 200.
    let (status, _) = app.put("/api/partner/v1/connectors/AP1-1/status", Some(&cpo), &json!({"status": "available", "at": rfc3339(app.services.now())})).await;
    assert_eq!(status, 200);
    let mut replaced = station("A");
    replaced["name"] = json!("南山科技园超充站");
    replaced["piles"].as_array_mut().unwrap().truncate(1);
    let (status, body) = app.put("/api/partner/v1/stations/SZ-NS-001", Some(&cpo), &replaced).await;
    assert_eq!((status, body["status"].as_str(), body["id"].as_str()), (200, Some("updated"), Some(our_id.as_str())), "{body}");
    let found = nearby(&app, WGS).await;
    assert_eq!((found.len(), found[0]["name"].as_str()), (1, Some("南山科技园超充站")));
    let statuses = app_statuses(&app, &our_id).await;
    assert_eq!(statuses.keys().collect::<Vec<_>>(), ["AP1-1", "AP1-2"], "the dropped connector is gone");
    assert_eq!(statuses["AP1-1"], "available", "a kept connector keeps its live status");
    let (status, _) = app.put("/api/partner/v1/connectors/AP2-1/status", Some(&cpo), &json!({"status": "available", "at": rfc3339(app.services.now())})).await;
    assert_eq!(status, 404, "a dropped connector takes no status");

    // What is stored is what comes back after a restart of the catalog.
    app.services.load_catalog().await.unwrap();
    assert_eq!(app_statuses(&app, &our_id).await.len(), 2);
    app.cleanup().await;
}

/// 批量上传：合格的存储，不合格的按序号与字段报告。
async fn batch_stores_good_items_and_reports_bad_ones(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin_token().await;
    let cpo = rest_partner(&app, &admin, CODE_A, "operator").await;

    let mut good = station("G");
    good["id"] = json!("SZ-G");
    let mut bad_power = station("B");
    bad_power["id"] = json!("SZ-B");
    bad_power["piles"][0]["connectors"][1]["power_kw"] = json!("0");
    let mut bad_type = station("T");
    bad_type["id"] = json!("SZ-T");
    bad_type["lat"] = json!("22.54");
    let mut no_id = station("N");
    no_id["lat"] = json!(22.60);
    let mut reused = station("G");
    reused["id"] = json!("SZ-R");
    reused["lat"] = json!(22.62);
    let mut far_good = station("F");
    far_good["id"] = json!("SZ-F");
    far_good["lat"] = json!(22.70);
    let (status, body) =
        app.post("/api/partner/v1/stations:batch", Some(&cpo), &json!({"stations": [good, bad_power, bad_type, no_id, reused, far_good]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["created"].as_u64(), body["updated"].as_u64(), body["invalid"].as_u64()), (Some(2), Some(0), Some(4)), "{body}");
    let results = body["results"].as_array().unwrap();
    let summary: Vec<(u64, &str)> = results.iter().map(|r| (r["index"].as_u64().unwrap(), r["status"].as_str().unwrap())).collect();
    assert_eq!(summary, [(0, "created"), (1, "invalid"), (2, "invalid"), (3, "invalid"), (4, "invalid"), (5, "created")]);
    let item_fields = |i: usize| results[i]["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(item_fields(1), ["piles[0].connectors[1].power_kw"]);
    assert_eq!(results[1]["station_id"], "SZ-B");
    assert_eq!(item_fields(2), ["lat"]);
    assert_eq!(item_fields(3), ["id"]);
    assert!(item_fields(4).iter().all(|f| f.starts_with("piles[")) && !item_fields(4).is_empty(), "connector ids of SZ-G reused: {body}");
    assert!(results[1]["errors"][0]["message_zh"].as_str().is_some_and(|m| !m.is_empty()));

    // The good ones are on the map, the bad ones are not.
    assert_eq!(nearby(&app, WGS).await.iter().map(|s| s["external_id"].as_str().unwrap()).collect::<Vec<_>>(), ["SZ-G"]);
    let (status, _) = app.put("/api/partner/v1/connectors/BP1-1/status", Some(&cpo), &json!({"status": "available", "at": rfc3339(app.services.now())})).await;
    assert_eq!(status, 404, "an invalid item stored nothing");

    // Sent again: updated, not created twice.
    let mut good = station("G");
    good["id"] = json!("SZ-G");
    let (_, body) = app.post("/api/partner/v1/stations:batch", Some(&cpo), &json!({"stations": [good]})).await;
    assert_eq!(body["results"][0]["status"], "updated", "{body}");

    // Over the limit: a specific error naming the list, nothing stored.
    let many: Vec<Value> = (0..1_001).map(|i| json!({"id": format!("X{i}")})).collect();
    let (status, error) = app.post("/api/partner/v1/stations:batch", Some(&cpo), &json!({"stations": many})).await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(fields(&error), ["stations"]);
    assert!(error["error"]["message"].as_str().unwrap().contains("1001"), "{error}");
    app.cleanup().await;
}

/// 实时状态：单条与批量；较旧的读数报告为 stale 且不覆盖较新的；超前太多的拒绝。
async fn live_status_single_and_batch(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin_token().await;
    let cpo = rest_partner(&app, &admin, CODE_A, "operator").await;
    let (_, created) = app.put("/api/partner/v1/stations/SZ-NS-001", Some(&cpo), &station("A")).await;
    let our_id = created["id"].as_str().unwrap().to_owned();
    assert!(app_statuses(&app, &our_id).await.values().all(|s| s == "unknown"), "nothing heard yet");
    let t0 = app.services.now() - Duration::seconds(30);

    let (status, body) = app.put("/api/partner/v1/connectors/AP1-1/status", Some(&cpo), &json!({"status": "available", "at": rfc3339(t0)})).await;
    assert_eq!((status, body["result"].as_str()), (200, Some("applied")), "{body}");
    assert_eq!(app_statuses(&app, &our_id).await["AP1-1"], "available");
    // Older than what we hold: stale, nothing changes.
    let (status, body) =
        app.put("/api/partner/v1/connectors/AP1-1/status", Some(&cpo), &json!({"status": "faulted", "at": rfc3339(t0 - Duration::seconds(1))})).await;
    assert_eq!((status, body["result"].as_str()), (200, Some("stale")), "{body}");
    assert_eq!(app_statuses(&app, &our_id).await["AP1-1"], "available");
    // Far ahead of our clock: refused, naming `at`.
    let (status, error) = app
        .put("/api/partner/v1/connectors/AP1-1/status", Some(&cpo), &json!({"status": "faulted", "at": rfc3339(app.services.now() + Duration::hours(1))}))
        .await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(fields(&error), ["at"]);
    assert_eq!(app_statuses(&app, &our_id).await["AP1-1"], "available");
    let (status, error) = app.put("/api/partner/v1/connectors/AP1-1/status", Some(&cpo), &json!({"status": "busy", "at": rfc3339(t0)})).await;
    assert_eq!((status, fields(&error)), (422, vec!["status"]), "{error}");

    let changes = json!({"changes": [
        {"connector_id": "AP1-1", "status": "charging", "at": rfc3339(t0 + Duration::seconds(10))},
        {"connector_id": "AP1-2", "status": "faulted", "at": rfc3339(t0 + Duration::seconds(5))},
        {"connector_id": "AP1-1", "status": "available", "at": rfc3339(t0 + Duration::seconds(2))},
        {"connector_id": "NOPE-1", "status": "available", "at": rfc3339(t0)},
        {"connector_id": "AP2-1", "status": "parked", "at": rfc3339(t0)},
        {"connector_id": "AP2-1", "status": "occupied", "at": rfc3339(app.services.now() + Duration::hours(2))},
        {"connector_id": "AP2-1", "status": "reserved", "at": rfc3339(t0 + Duration::seconds(20))}
    ]});
    let (status, body) = app.post("/api/partner/v1/connectors/status:batch", Some(&cpo), &changes).await;
    assert_eq!(status, 200, "{body}");
    let results: Vec<(&str, &str)> =
        body["results"].as_array().unwrap().iter().map(|r| (r["connector_id"].as_str().unwrap(), r["result"].as_str().unwrap())).collect();
    assert_eq!(
        results,
        [
            ("AP1-1", "applied"),
            ("AP1-2", "applied"),
            ("AP1-1", "stale"),
            ("NOPE-1", "not_found"),
            ("AP2-1", "invalid"),
            ("AP2-1", "invalid"),
            ("AP2-1", "applied")
        ]
    );
    assert_eq!(body["results"][4]["errors"][0]["field"], "status", "{body}");
    assert_eq!(body["results"][5]["errors"][0]["field"], "at", "{body}");
    assert_eq!((body["applied"].as_u64(), body["stale"].as_u64(), body["not_found"].as_u64(), body["invalid"].as_u64()), (Some(3), Some(1), Some(1), Some(2)));
    let statuses = app_statuses(&app, &our_id).await;
    assert_eq!((statuses["AP1-1"].as_str(), statuses["AP1-2"].as_str(), statuses["AP2-1"].as_str()), ("charging", "faulted", "reserved"));

    // Freshness as for every partner: a reading nobody renews goes unknown, never "free".
    app.advance(app.services.hub.freshness + Duration::minutes(1));
    assert!(app_statuses(&app, &our_id).await.values().all(|s| s == "unknown"));
    app.cleanup().await;
}

/// 下线：DELETE 后搜索不到，也不再接收状态；再次 DELETE 为 404。
async fn delete_retires_the_station(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin_token().await;
    let cpo = rest_partner(&app, &admin, CODE_A, "operator").await;
    let (_, created) = app.put("/api/partner/v1/stations/SZ-NS-001", Some(&cpo), &station("A")).await;
    let our_id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(nearby(&app, WGS).await.len(), 1);

    let response = app.http.delete(app.url("/api/partner/v1/stations/SZ-NS-001")).bearer_auth(&cpo).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 204);
    assert!(nearby(&app, WGS).await.is_empty());
    let (status, _) = app.get(&format!("/api/app/v1/stations/{our_id}"), None).await;
    assert_eq!(status, 404);
    let (status, _) = app.put("/api/partner/v1/connectors/AP1-1/status", Some(&cpo), &json!({"status": "available", "at": rfc3339(app.services.now())})).await;
    assert_eq!(status, 404);
    let (status, error) = common::read(app.http.delete(app.url("/api/partner/v1/stations/SZ-NS-001")).bearer_auth(&cpo).send().await.unwrap()).await;
    assert_eq!((status, error["error"]["code"].as_str()), (404, Some("not_found")), "{error}");
    // Stays retired when the catalog is rebuilt from the store.
    app.services.load_catalog().await.unwrap();
    assert!(nearby(&app, WGS).await.is_empty());
    let (status, _) = app.get(&format!("/api/app/v1/stations/{our_id}"), None).await;
    assert_eq!(status, 404, "a retired station came back with the rebuilt catalog");

    // Uploaded again: back on the map, as a new station of the partner.
    let (status, body) = app.put("/api/partner/v1/stations/SZ-NS-001", Some(&cpo), &station("A")).await;
    assert_eq!((status, body["status"].as_str()), (201, Some("created")), "{body}");
    assert_eq!(nearby(&app, WGS).await.len(), 1);
    app.cleanup().await;
}

/// 权限：只有 cpo 权限的令牌可用；其他合作商的编号为 404 且不改变任何东西。
async fn scope_and_ownership(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin_token().await;
    let cpo = rest_partner(&app, &admin, CODE_A, "operator").await;
    let other_cpo = rest_partner(&app, &admin, CODE_B, "operator").await;
    let emsp = rest_partner(&app, &admin, CODE_C, "platform").await;
    let (_, created) = app.put("/api/partner/v1/stations/SZ-NS-001", Some(&cpo), &station("A")).await;
    let our_id = created["id"].as_str().unwrap().to_owned();
    let at = rfc3339(app.services.now());
    app.put("/api/partner/v1/connectors/AP1-1/status", Some(&cpo), &json!({"status": "available", "at": at})).await;

    // A platform's token has no `cpo` scope.
    let (status, error) = app.put("/api/partner/v1/stations/SZ-X", Some(&emsp), &station("E")).await;
    assert_eq!((status, error["error"]["code"].as_str()), (403, Some("insufficient_scope")), "{error}");
    assert!(!error["error"]["message_zh"].as_str().unwrap().is_empty());
    let (status, _) = app.put("/api/partner/v1/connectors/AP1-1/status", Some(&emsp), &json!({"status": "faulted", "at": at})).await;
    assert_eq!(status, 403);
    let (status, _) =
        app.post("/api/partner/v1/connectors/status:batch", Some(&emsp), &json!({"changes": [{"connector_id": "AP1-1", "status": "faulted", "at": at}]})).await;
    assert_eq!(status, 403);
    let (status, _) = app.post("/api/partner/v1/stations:batch", Some(&emsp), &json!({"stations": [station("E")]})).await;
    assert_eq!(status, 403);
    let response = app.http.delete(app.url("/api/partner/v1/stations/SZ-NS-001")).bearer_auth(&emsp).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let (status, _) = app.put("/api/partner/v1/stations/SZ-X", None, &station("E")).await;
    assert_eq!(status, 401);

    // Another operator cannot reach A's station or connectors.
    let later = rfc3339(app.services.now() + Duration::seconds(1));
    let (status, error) = app.put("/api/partner/v1/connectors/AP1-1/status", Some(&other_cpo), &json!({"status": "faulted", "at": later})).await;
    assert_eq!((status, error["error"]["code"].as_str()), (404, Some("not_found")), "{error}");
    let (_, body) = app
        .post("/api/partner/v1/connectors/status:batch", Some(&other_cpo), &json!({"changes": [{"connector_id": "AP1-1", "status": "faulted", "at": later}]}))
        .await;
    assert_eq!(body["results"][0]["result"], "not_found", "{body}");
    let response = app.http.delete(app.url("/api/partner/v1/stations/SZ-NS-001")).bearer_auth(&other_cpo).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(app_statuses(&app, &our_id).await["AP1-1"], "available");
    let found = nearby(&app, WGS).await;
    assert_eq!((found.len(), found[0]["id"].as_str()), (1, Some(our_id.as_str())));

    // An operator whose catalog we pull over T/CEC 102 cannot upload or retire stations here:
    // the next pull would replace what it put. Its refusal changes nothing.
    let cec = approved_partner(&app, &admin, "91310000MA1FL4TF2W", "operator", "cec102").await;
    let (status, error) = app.put("/api/partner/v1/stations/SZ-T", Some(&cec), &station("T")).await;
    assert_eq!((status, error["error"]["code"].as_str()), (403, Some("forbidden")), "{error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("rest_api"), "{error}");
    let (status, _) = app.post("/api/partner/v1/stations:batch", Some(&cec), &json!({"stations": [station("T")]})).await;
    assert_eq!(status, 403);
    assert_eq!(nearby(&app, WGS).await.len(), 1);

    // Its own station of the same id is its own: A's stays as it was.
    let mut own = station("B");
    own["name"] = json!("另一家的站");
    own["lat"] = json!(22.70);
    let (status, body) = app.put("/api/partner/v1/stations/SZ-NS-001", Some(&other_cpo), &own).await;
    assert_eq!((status, body["status"].as_str()), (201, Some("created")), "{body}");
    assert_ne!(body["id"].as_str(), Some(our_id.as_str()));
    assert_eq!(nearby(&app, WGS).await[0]["name"], "南山科技园充电站");
    app.cleanup().await;
}

/// 并发上传：两个充电站同时声明同一充电枪编号，只能有一个成功。
async fn concurrent_uploads_cannot_share_a_connector(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin_token().await;
    let cpo = rest_partner(&app, &admin, CODE_A, "operator").await;
    for round in 0..5 {
        // Two stations of their own ids, with the same connector ids, sent side by side.
        let body = station(&format!("R{round}"));
        let (path_a, path_b) = (format!("/api/partner/v1/stations/SZ-R{round}-a"), format!("/api/partner/v1/stations/SZ-R{round}-b"));
        let ((first, one), (second, other)) = tokio::join!(app.put(&path_a, Some(&cpo), &body), app.put(&path_b, Some(&cpo), &body));
        let mut statuses = [first, second];
        statuses.sort();
        assert_eq!(statuses, [201, 422], "round {round}: {one} / {other}");
    }
    app.cleanup().await;
}

on_both_backends!(
    concurrent_uploads_cannot_share_a_connector,
    uploaded_station_is_found_where_it_is,
    batch_stores_good_items_and_reports_bad_ones,
    live_status_single_and_batch,
    delete_retires_the_station,
    scope_and_ownership,
);
