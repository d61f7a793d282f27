//! Flow A as the seed flowchart draws it (第三方充电站接入流程), over real HTTP against the
//! simulated third-party CPO: partner approved → catalog synced → live status → our user starts,
//! charges, stops → charge-end record billed → paid from the wallet → settlement line and notice.

use crate::common;

use std::time::Duration;

use common::Backend;
use common::billed::FlowA;
use rust_decimal::Decimal;
use serde_json::json;
use sim::cec_cpo::CpoConfig;

type World = FlowA;

async fn world(backend: Backend, adjust: impl FnOnce(&mut CpoConfig)) -> World {
    common::billed::onboarded(backend, |_| {}, adjust).await
}

async fn synced_free_connector(w: &World) -> (String, String) {
    let (status, report) = w.app.post(&format!("/api/admin/v1/partners/{}/sync", w.partner_id), Some(&w.admin), &json!({})).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["stations"], 5, "{report}");
    assert!(report["rejected"].as_array().unwrap().is_empty());
    // Shenzhen, where the simulator's stations are.
    let (_, nearby) = w.app.get("/api/app/v1/stations/nearby?lat=22.55&lng=114.05&radius_m=50000&free_now=true", None).await;
    assert!(nearby["total"].as_u64().unwrap() > 0, "{nearby}");
    let station = &nearby["items"][0];
    let (_, detail) = w.app.get(&format!("/api/app/v1/stations/{}", station["id"].as_str().unwrap()), None).await;
    let live = detail["connectors_live"].as_array().unwrap();
    let free = live.iter().find(|c| c["status"] == "available").expect("a free connector");
    let connector = free["id"].as_str().unwrap().to_owned();
    let external = detail["connectors"].as_array().unwrap().iter().find(|c| c["id"] == free["id"]).unwrap()["external_id"].as_str().unwrap().to_owned();
    (connector, external)
}

on_both_backends!(
    the_whole_flowchart,
    failure_edges,
    inconsistent_records_are_disputed,
    concurrent_syncs_agree,
    prices_shown_and_searched,
    reservations,
    daily_check_lists_gaps,
    catalog_pulled_when_the_partner_registers,
    prices_refreshed_without_a_station_change,
    daily_price_refresh_runs_by_itself
);

/// The first moment we can reach a new operator is when it registers its endpoint: its catalog
/// is pulled then, without waiting for the periodic sync or an admin.
async fn catalog_pulled_when_the_partner_registers(backend: Backend) {
    let w = common::billed::onboarded(backend, |c| c.cec.sync_on_register = true, |_| {}).await;
    let mut total = serde_json::Value::Null;
    for _ in 0..100 {
        let (_, nearby) = w.app.get("/api/app/v1/stations/nearby?lat=22.55&lng=114.05&radius_m=50000", None).await;
        total = nearby["total"].clone();
        if total == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(total, 5, "the partner's 5 stations, pulled on registration");
    w.app.cleanup().await;
}

/// 每日对账: the day's orders are each followed to record, bill, payment and settlement line;
/// what is missing once the grace period has passed is listed for an admin.
async fn daily_check_lists_gaps(backend: Backend) {
    let world = common::billed::flow_a(backend, |_| {}).await;
    let w = &world;
    let (paid, _) = w.billed_order().await;
    let (status, _) = w.app.post(&format!("/api/app/v1/orders/{paid}/pay"), Some(&w.driver), &json!({})).await;
    assert_eq!(status, 200);
    let (unpaid, _) = w.billed_order().await;
    // A session whose partner then goes silent: no charge record ever comes.
    let (_, nearby) = w.app.get("/api/app/v1/stations/nearby?lat=22.55&lng=114.05&radius_m=50000&free_now=true", None).await;
    let station = nearby["items"][0]["id"].as_str().unwrap().to_owned();
    let (_, detail) = w.app.get(&format!("/api/app/v1/stations/{station}"), None).await;
    let free = detail["connectors_live"].as_array().unwrap().iter().find(|c| c["status"] == "available").unwrap()["id"].clone();
    let (_, silent) = w.app.post("/api/app/v1/charging/start", Some(&w.driver), &json!({"connector_id": free})).await;
    let silent = silent["id"].as_str().unwrap().to_owned();
    w.wait_order(&silent, |o| o["state"] == "charging").await;
    w.cpo.set_misbehaviour(sim::cec_cpo::Misbehaviour { down: true, ..Default::default() });

    let today = w.app.services.now().with_timezone(&domain::tariff::beijing()).date_naive().to_string();
    let run = |day: String| async move { w.app.post("/api/admin/v1/daily-checks", Some(&w.admin), &json!({"day": day})).await };
    let (status, report) = run(today.clone()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (report["checks"][0]["orders"].as_i64(), report["checks"][0]["finding_count"].as_i64()),
        (Some(3), Some(0)),
        "within the grace period: {report}"
    );

    w.app.advance(chrono::Duration::hours(7));
    let (_, report) = run(today.clone()).await;
    let findings = report["checks"][0]["findings"].as_array().unwrap().clone();
    let seq_of = |id: &str| {
        let id = id.to_owned();
        async move { w.app.get(&format!("/api/app/v1/orders/{id}"), Some(&w.driver)).await.1["seq"].clone() }
    };
    let mut expected = vec![(seq_of(&unpaid).await, "unpaid"), (seq_of(&silent).await, "no_partner_record")];
    expected.sort_by_key(|(seq, _)| seq.as_str().unwrap().to_owned());
    let found: Vec<(serde_json::Value, &str)> = findings.iter().map(|f| (f["order"].clone(), f["kind"].as_str().unwrap())).collect();
    assert_eq!(found, expected, "{report}");

    // Checking again replaces the day's results; the list filters by day and by findings.
    let (_, listed) = w.app.get("/api/admin/v1/daily-checks?with_findings=true", Some(&w.admin)).await;
    assert_eq!((listed["total"].as_i64(), listed["items"][0]["finding_count"].as_i64()), (Some(1), Some(2)), "{listed}");
    let (_, other_day) = w.app.get("/api/admin/v1/daily-checks?day=2020-01-01", Some(&w.admin)).await;
    assert_eq!(other_day["total"], 0, "{other_day}");
    let (status, body) = run("2999-01-01".into()).await;
    assert_eq!((status, body["error"]["fields"][0]["field"].as_str()), (422, Some("day")), "{body}");
    let (status, _) = w.app.get("/api/admin/v1/daily-checks", None).await;
    assert_eq!(status, 401);

    // The same orders as an admin finds them: by partner and flow, by state, and one in full.
    let orders = |query: String| async move { w.app.get(&format!("/api/admin/v1/orders?partner_id={}{query}", w.partner_id), Some(&w.admin)).await };
    let (_, all) = orders("&flow=a".into()).await;
    assert_eq!(all["total"], 3, "{all}");
    let (_, none) = orders("&flow=b".into()).await;
    assert_eq!(none["total"], 0, "{none}");
    let (_, billed) = orders("&state=billed".into()).await;
    assert_eq!((billed["total"].as_i64(), billed["items"][0]["id"].as_str()), (Some(1), Some(unpaid.as_str())), "{billed}");
    let (status, bad) = orders("&flow=x".into()).await;
    assert_eq!((status, bad["error"]["fields"][0]["field"].as_str()), (422, Some("flow")), "{bad}");
    let (_, detail) = w.app.get(&format!("/api/admin/v1/orders/{unpaid}"), Some(&w.admin)).await;
    let events: Vec<&str> = detail["transitions"].as_array().unwrap().iter().map(|t| t["event"].as_str().unwrap()).collect();
    assert_eq!(events.first().copied(), Some("start_requested"), "{detail}");
    assert_eq!(events.last().copied(), Some("billed"), "{detail}");
    assert!(detail["bill"]["partner_record"].is_object(), "{detail}");
    world.app.cleanup().await;
}

/// 预约: the driver holds a partner's connector (T/CEC 102 reservation extension), then uses the
/// hold by starting there; another hold is cancelled; a third runs out.
async fn reservations(backend: Backend) {
    let world = world(backend, |_| {}).await;
    let w = &world;
    let (connector, external) = synced_free_connector(w).await;
    let reserve = |connector: &str, minutes: u32| {
        let body = json!({"connector_id": connector, "minutes": minutes});
        async move { w.app.post("/api/app/v1/reservations", Some(&w.driver), &body).await }
    };
    let (status, body) = reserve(&connector, 0).await;
    assert_eq!((status, body["error"]["fields"][0]["field"].as_str()), (422, Some("minutes")), "{body}");

    let (status, held) = reserve(&connector, 60).await;
    assert_eq!((status, held["state"].as_str()), (201, Some("reserved")), "{held}");
    assert!(held["reserved_until"].is_string(), "{held}");
    let id = held["id"].as_str().unwrap().to_owned();
    let at_partner = w.cpo.reservations();
    assert_eq!(at_partner.len(), 1);
    assert_eq!((at_partner[0].connector_id.as_str(), at_partner[0].reserve_seq.as_str()), (external.as_str(), held["seq"].as_str().unwrap()));
    let (status, second) = reserve(&connector, 10).await;
    assert_eq!((status, second["error"]["code"].as_str()), (409, Some("reservation_exists")), "{second}");

    // Starting on the held connector uses the reservation: the same order goes on to charge.
    let (status, started) = w.app.post("/api/app/v1/charging/start", Some(&w.driver), &json!({"connector_id": connector})).await;
    assert_eq!((status, started["id"].as_str()), (201, Some(id.as_str())), "{started}");
    w.wait_order(&id, |o| o["state"] == "charging").await;
    assert_eq!(w.cpo.reservations()[0].stat, cec::messages::ReserveSeqStat::Used);
    let (status, _) = w.app.post(&format!("/api/app/v1/orders/{id}/stop"), Some(&w.driver), &json!({})).await;
    assert_eq!(status, 200);
    w.wait_order(&id, |o| o["state"] == "billed").await;

    // A hold given back: the partner releases it and the order says cancelled.
    let partner = w.partner_id.parse().ok();
    let other = w
        .cpo
        .connector_ids()
        .iter()
        .filter(|e| **e != external)
        .filter_map(|e| w.app.services.connector_by_external(partner, e))
        .find(|(c, _)| w.app.services.hub.effective(*c, w.app.services.now()).is_free())
        .expect("another free connector")
        .0
        .to_string();
    let (_, held) = reserve(&other, 60).await;
    let id = held["id"].as_str().unwrap().to_owned();
    let (status, cancelled) = w.app.post(&format!("/api/app/v1/orders/{id}/cancel"), Some(&w.driver), &json!({})).await;
    assert_eq!((status, cancelled["state"].as_str()), (200, Some("cancelled")), "{cancelled}");
    assert_eq!(w.cpo.reservations()[1].stat, cec::messages::ReserveSeqStat::Cancelled);
    let (status, again) = w.app.post(&format!("/api/app/v1/orders/{id}/cancel"), Some(&w.driver), &json!({})).await;
    assert_eq!((status, again["error"]["code"].as_str()), (409, Some("order_state")), "{again}");

    // A hold that runs out ends as expired, told to the driver in plain words.
    let (status, held) = reserve(&other, 60).await;
    assert_eq!((status, held["state"].as_str()), (201, Some("reserved")), "{held}");
    let id = held["id"].as_str().unwrap().to_owned();
    w.app.advance(chrono::Duration::hours(3));
    let expired = w.wait_order(&id, |o| o["state"] == "reservation_expired").await;
    assert!(!expired["message_zh"].as_str().unwrap().is_empty(), "{expired}");
    let pool = w.app.services.db.pool();
    let events: Vec<String> = sqlx::query_scalar("SELECT event FROM order_transitions WHERE order_id = $1 ORDER BY n").bind(&id).fetch_all(pool).await.unwrap();
    assert_eq!(events, ["reserve_requested", "reservation_confirmed", "reservation_expired"]);
    world.app.cleanup().await;
}

/// The partner's prices are pulled with its stations; drivers see what they will pay now (the
/// partner's price under our user pricing) and can search by it.
async fn prices_shown_and_searched(backend: Backend) {
    use sim::cec_cpo::data::TariffPeriod;
    let dec = |s: &str| s.parse::<Decimal>().unwrap();
    let world =
        world(backend, |c| c.tariff = vec![TariffPeriod::new(0, 0, dec("0.35"), dec("0.45")), TariffPeriod::new(12, 0, dec("0.95"), dec("0.65"))]).await;
    let w = &world;
    let (status, report) = w.app.post(&format!("/api/admin/v1/partners/{}/sync", w.partner_id), Some(&w.admin), &json!({})).await;
    assert_eq!((status, report["priced"].as_u64(), report["price_failures"].as_u64()), (200, Some(5), Some(0)), "{report}");

    use chrono::Timelike;
    let afternoon = w.app.services.now().with_timezone(&domain::tariff::beijing()).hour() >= 12;
    let (elec, service) = if afternoon { (dec("0.95"), dec("0.65")) } else { (dec("0.35"), dec("0.45")) };
    let nearby = |query: &str| {
        let path = format!("/api/app/v1/stations/nearby?lat=22.55&lng=114.05&radius_m=50000{query}");
        async move { w.app.get(&path, None).await }
    };
    let (_, all) = nearby("").await;
    let station = all["items"][0]["id"].as_str().unwrap().to_owned();
    let price_of = |v: &serde_json::Value, field: &str| dec(v[field].as_str().unwrap_or_else(|| panic!("{field} in {v}")));
    assert_eq!(price_of(&all["items"][0]["price"], "total_price"), elec + service, "{all}");
    let (_, detail) = w.app.get(&format!("/api/app/v1/stations/{station}"), None).await;
    assert_eq!((price_of(&detail["price"], "elec_price"), price_of(&detail["price"], "service_price")), (elec, service), "{detail}");
    let until: chrono::DateTime<chrono::Utc> = detail["price"]["until"].as_str().unwrap().parse().unwrap();
    assert!(until > w.app.services.now() && until - w.app.services.now() <= chrono::Duration::hours(12), "{detail}");
    assert_eq!(detail["prices"].as_array().unwrap().len(), 2, "{detail}");
    assert_eq!(detail["prices"][1]["start"], "120000");

    // Search by price: the bound is inclusive; a station costing more is left out.
    let (_, cheap) = nearby(&format!("&max_price={}", elec + service)).await;
    assert_eq!(cheap["total"], 5, "{cheap}");
    let (_, none) = nearby(&format!("&max_price={}", elec + service - dec("0.01"))).await;
    assert_eq!(none["total"], 0, "{none}");
    let (status, body) = nearby("&max_price=-1").await;
    assert_eq!((status, body["error"]["fields"][0]["field"].as_str()), (422, Some("max_price")), "{body}");

    // Our 10 % service-fee markup shows at once in what drivers see and search by.
    let terms_path = format!("/api/admin/v1/partners/{}/terms", w.partner_id);
    let (_, mut terms) = w.app.get(&terms_path, Some(&w.admin)).await;
    terms["user_pricing"]["service_adjust_percent"] = json!("10");
    let (status, saved) = w.app.put(&terms_path, Some(&w.admin), &terms).await;
    assert_eq!(status, 200, "{saved}");
    let marked = service * dec("1.1");
    let (_, detail) = w.app.get(&format!("/api/app/v1/stations/{station}"), None).await;
    assert_eq!((price_of(&detail["price"], "service_price"), price_of(&detail["price"], "total_price")), (marked, elec + marked), "{detail}");
    let (_, none) = nearby(&format!("&max_price={}", elec + service)).await;
    assert_eq!(none["total"], 0, "{none}");
    world.app.cleanup().await;
}

/// A partner with one price for all its stations, both synced: (the world, our ids of ST000001
/// and ST000002).
async fn two_priced_stations(backend: Backend, adjust_app: impl FnOnce(&mut server::config::Config)) -> (World, String, String) {
    use sim::cec_cpo::data::TariffPeriod;
    let w = common::billed::onboarded(backend, adjust_app, |c| {
        c.stations = 2;
        c.tariff = vec![TariffPeriod::new(0, 0, dec("0.50"), dec("0.40"))];
    })
    .await;
    let (status, report) = w.app.post(&format!("/api/admin/v1/partners/{}/sync", w.partner_id), Some(&w.admin), &json!({})).await;
    assert_eq!((status, report["priced"].as_u64()), (200, Some(2)), "{report}");
    let (_, nearby) = w.app.get("/api/app/v1/stations/nearby?lat=22.55&lng=114.05&radius_m=50000", None).await;
    let id_of = |external: &str| {
        let station = nearby["items"].as_array().unwrap().iter().find(|s| s["external_id"] == external);
        station.unwrap_or_else(|| panic!("{external} in {nearby}"))["id"].as_str().unwrap().to_owned()
    };
    let (first, second) = (id_of("ST000001"), id_of("ST000002"));
    (w, first, second)
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// (electricity, service) price per kWh a driver is shown at a station now.
async fn shown_price(w: &World, station: &str) -> (Decimal, Decimal) {
    let (_, detail) = w.app.get(&format!("/api/app/v1/stations/{station}"), None).await;
    let price = |field: &str| dec(detail["price"][field].as_str().unwrap_or_else(|| panic!("{field} in {detail}")));
    (price("elec_price"), price("service_price"))
}

/// 价格变更: the partner changes a station's prices without touching the station. An incremental
/// sync does not notice; the full price refresh (here an admin's "refresh now") does, drivers see
/// the new prices at once, and the next bill there is the partner's own record at those prices.
async fn prices_refreshed_without_a_station_change(backend: Backend) {
    use sim::cec_cpo::data::TariffPeriod;
    let (w, changed, kept) = two_priced_stations(backend, |_| {}).await;
    assert_eq!(shown_price(&w, &changed).await, (dec("0.50"), dec("0.40")));
    assert!(w.cpo.set_station_tariff("ST000001", vec![TariffPeriod::new(0, 0, dec("0.70"), dec("0.55"))]));

    // The station itself did not change: an incremental sync brings nothing; the old price stays.
    let (_, report) = w.app.post(&format!("/api/admin/v1/partners/{}/sync", w.partner_id), Some(&w.admin), &json!({})).await;
    assert_eq!((report["incremental"].as_bool(), report["stations"].as_u64()), (Some(true), Some(0)), "{report}");
    assert_eq!(shown_price(&w, &changed).await, (dec("0.50"), dec("0.40")));

    let refresh = format!("/api/admin/v1/partners/{}/prices/refresh", w.partner_id);
    let (status, report) = w.app.post(&refresh, Some(&w.admin), &json!({})).await;
    assert_eq!((status, report), (200, json!({"stations": 2, "priced": 2, "changed": 1, "failed": 0})));
    assert_eq!(shown_price(&w, &changed).await, (dec("0.70"), dec("0.55")));
    assert_eq!(shown_price(&w, &kept).await, (dec("0.50"), dec("0.40")));
    let (_, again) = w.app.post(&refresh, Some(&w.admin), &json!({})).await;
    assert_eq!(again["changed"], 0, "nothing new the second time: {again}");
    // Stored, not only shown: the catalog rebuilt from the store at start has the new prices.
    w.app.services.load_catalog().await.unwrap();
    assert_eq!(shown_price(&w, &changed).await, (dec("0.70"), dec("0.55")));

    let (status, body) = w.app.post(&format!("/api/admin/v1/partners/{}/prices/refresh", uuid::Uuid::now_v7()), Some(&w.admin), &json!({})).await;
    assert_eq!(status, 404, "{body}");
    assert!(!body["error"]["message"].as_str().unwrap().is_empty() && !body["error"]["message_zh"].as_str().unwrap().is_empty(), "{body}");
    let (status, _) = w.app.post(&refresh, None, &json!({})).await;
    assert_eq!(status, 401);

    // The bill comes from the partner's record, priced by the partner with its new prices.
    let (_, detail) = w.app.get(&format!("/api/app/v1/stations/{changed}"), None).await;
    let live = detail["connectors_live"].as_array().unwrap();
    let connector =
        live.iter().find(|c| c["status"] == "available").unwrap_or_else(|| panic!("a free connector in {detail}"))["id"].as_str().unwrap().to_owned();
    let (_, billed) = w.charge_and_bill(&connector).await;
    let record = w.cpo.orders().into_iter().find(|o| o.start_charge_seq.as_str() == billed["seq"].as_str().unwrap()).expect("the partner's record");
    assert_eq!(dec(billed["amount"].as_str().unwrap()), record.total_money.value(), "{billed}");
    assert!(!record.charge_details.is_empty());
    assert!(record.charge_details.iter().all(|d| (d.elec_price.value(), d.sevice_price.value()) == (dec("0.70"), dec("0.55"))), "{record:?}");
    w.app.cleanup().await;
}

/// Nobody asks: the scheduled refresh (here every 200 ms instead of daily) notices the change.
async fn daily_price_refresh_runs_by_itself(backend: Backend) {
    use sim::cec_cpo::data::TariffPeriod;
    let (w, changed, _) = two_priced_stations(backend, |c| c.workers.price_refresh = Duration::from_millis(200)).await;
    assert!(w.cpo.set_station_tariff("ST000001", vec![TariffPeriod::new(0, 0, dec("0.70"), dec("0.55"))]));
    let mut shown = shown_price(&w, &changed).await;
    for _ in 0..100 {
        if shown == (dec("0.70"), dec("0.55")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        shown = shown_price(&w, &changed).await;
    }
    assert_eq!(shown, (dec("0.70"), dec("0.55")), "the refresh worker stored the new prices");
    w.app.cleanup().await;
}

/// The periodic worker and an admin's "sync now" may run at once; neither may fail or duplicate.
async fn concurrent_syncs_agree(backend: Backend) {
    let w = world(backend, |_| {}).await;
    let path = format!("/api/admin/v1/partners/{}/sync", w.partner_id);
    let empty = json!({});
    let runs = (0..4).map(|_| w.app.post(&path, Some(&w.admin), &empty));
    let reports = futures::future::join_all(runs).await;
    for (status, report) in &reports {
        assert_eq!(*status, 200, "{report}");
    }
    // A run that starts after another committed is incremental and finds nothing new.
    assert!(reports.iter().any(|(_, r)| r["stations"] == 5 && r["incremental"] == false), "{reports:?}");
    let (_, nearby) = w.app.get("/api/app/v1/stations/nearby?lat=22.55&lng=114.05&radius_m=50000", None).await;
    assert_eq!(nearby["total"], 5, "{nearby}");
}

async fn the_whole_flowchart(backend: Backend) {
    let w = world(backend, |_| {}).await;
    let (connector, external) = synced_free_connector(&w).await;

    // 用户发起充电 → 调用第三方接口 → 充电中
    let (status, order) = w.app.post("/api/app/v1/charging/start", Some(&w.driver), &json!({"connector_id": connector})).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["state"], "starting", "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    let charging = w.wait_order(&id, |o| o["state"] == "charging" && o["energy_kwh"].is_string()).await;
    assert!(!charging["message_zh"].as_str().unwrap().is_empty());
    // The connector shows as charging to everyone (status push from the partner).
    let mut seen = false;
    for _ in 0..40 {
        let (_, nearby) = w.app.get("/api/app/v1/stations/nearby?lat=22.55&lng=114.05&radius_m=50000", None).await;
        seen = nearby["items"].as_array().unwrap().iter().any(|s| {
            s["connectors"].as_array().unwrap().iter().zip(s["statuses"].as_array().unwrap()).any(|(c, st)| c["id"] == connector.as_str() && st == "charging")
        });
        if seen {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen, "connector {external} shown as charging");

    // Stopping → the partner's charge-end record → billed.
    let (status, stopping) = w.app.post(&format!("/api/app/v1/orders/{id}/stop"), Some(&w.driver), &json!({})).await;
    assert_eq!(status, 200, "{stopping}");
    let billed = w.wait_order(&id, |o| o["state"] == "billed").await;
    let bill: Decimal = billed["amount"].as_str().unwrap().parse().unwrap();
    let partner_order = w.cpo.orders().into_iter().find(|o| o.start_charge_seq.as_str() == billed["seq"].as_str().unwrap()).expect("the partner's record");
    assert_eq!(bill, partner_order.total_money.value(), "our users pay the partner's price by default");
    assert!(bill > Decimal::ZERO);

    // 用户支付 → 记录并通知第三方结算
    let (status, paid) = w.app.post(&format!("/api/app/v1/orders/{id}/pay"), Some(&w.driver), &json!({})).await;
    assert_eq!((status, paid["state"].as_str()), (200, Some("paid")), "{paid}");
    let (status, again) = w.app.post(&format!("/api/app/v1/orders/{id}/pay"), Some(&w.driver), &json!({})).await;
    assert_eq!((status, again["state"].as_str()), (200, Some("paid")), "paying twice charges once");
    let (_, wallet) = w.app.get("/api/app/v1/wallet", Some(&w.driver)).await;
    let balance: Decimal = wallet["balance"].as_str().unwrap().parse().unwrap();
    assert_eq!(balance, Decimal::from(200) - bill);

    let pool = w.app.services.db.pool();
    let (partner_amount, our_amount): (i64, i64) = {
        use sqlx::Row;
        let row = sqlx::query("SELECT partner_amount, our_amount FROM settlement_lines").fetch_one(pool).await.unwrap();
        (row.get(0), row.get(1))
    };
    let service = partner_order.total_sevice_money.value();
    let commission = (service * Decimal::new(10, 2)).round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToZero);
    assert_eq!(Decimal::new(our_amount, 4), commission, "10 % of the service fee");
    assert_eq!(Decimal::new(partner_amount + our_amount, 4), bill);
    let notices: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind = 'settlement.order_paid'").fetch_one(pool).await.unwrap();
    assert_eq!(notices, 1);
    let payments: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM payments WHERE status = 'succeeded'").fetch_one(pool).await.unwrap();
    assert_eq!(payments, 1);

    // 对账: the partner's daily check_charge_orders agrees with ours: nothing disputed.
    let day_start = chrono::Utc::now() - chrono::Duration::days(1);
    let check = w.cpo.send_check_charge_orders(day_start, chrono::Utc::now() + chrono::Duration::days(1)).await.unwrap();
    assert_eq!(check.total_dispute_order, 0, "{check:?}");
    w.app.cleanup().await;
}

/// Each edge of the flowchart that goes wrong ends in a defined state, told to the user.
async fn failure_edges(backend: Backend) {
    let w = world(backend, |_| {}).await;
    let (connector, external) = synced_free_connector(&w).await;
    let pool = w.app.services.db.pool();

    // Pushes lost and repaired: the partner's status change never arrives; the periodic query
    // (query_station_status) repairs it.
    w.cpo.set_misbehaviour(sim::cec_cpo::Misbehaviour { drop_status_pushes: 1.0, ..Default::default() });
    assert!(w.cpo.set_connector_status(&external, cec::messages::ConnectorStatusCode::OccupiedNotCharging));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status_of = |w: &World| {
        let s = w.app.services.hub.effective(connector.parse().unwrap(), w.app.services.now());
        format!("{s:?}")
    };
    assert_eq!(status_of(&w), "Available", "the push was dropped");
    let partner = w.partner_id.parse().unwrap();
    let ids = w.app.services.partner_station_ids(partner);
    w.app.services.repair_status(partner, &ids).await.unwrap();
    assert_eq!(status_of(&w), "Occupied", "repaired by query");

    // Start refused: the connector is occupied at the partner. We refuse before asking while our
    // view says occupied; when our view is wrong (it says free), the partner's refusal is shown.
    let (status, refused) = w.app.post("/api/app/v1/charging/start", Some(&w.driver), &json!({"connector_id": connector})).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("connector_not_free")), "{refused}");
    assert!(w.cpo.set_connector_status(&external, cec::messages::ConnectorStatusCode::Charging));
    w.app.services.hub.apply(connector.parse().unwrap(), domain::station::ConnectorStatus::Available, w.app.services.now());
    let (status, order) = w.app.post("/api/app/v1/charging/start", Some(&w.driver), &json!({"connector_id": connector})).await;
    assert_eq!((status, order["state"].as_str()), (201, Some("failed")), "{order}");
    assert!(order["message_zh"].as_str().unwrap().contains("拒绝启动"), "{order}");
    w.cpo.set_misbehaviour(Default::default());
    assert!(w.cpo.set_connector_status(&external, cec::messages::ConnectorStatusCode::Idle));

    // Partner down: no answer to the start → unknown outcome, never guessed; when the partner
    // is back, a query resolves it (the partner never started it).
    for _ in 0..40 {
        if status_of(&w) == "Available" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    w.cpo.set_misbehaviour(sim::cec_cpo::Misbehaviour { down: true, ..Default::default() });
    let (status, order) = w.app.post("/api/app/v1/charging/start", Some(&w.driver), &json!({"connector_id": connector})).await;
    assert_eq!((status, order["state"].as_str()), (201, Some("unknown_outcome")), "{order}");
    assert!(!order["message_zh"].as_str().unwrap().is_empty());
    let unknown = order["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (_, still) = w.app.get(&format!("/api/app/v1/orders/{unknown}"), Some(&w.driver)).await;
    assert_eq!(still["state"], "unknown_outcome", "not resolved while the partner cannot be asked");
    w.cpo.set_misbehaviour(Default::default());
    w.app.advance(chrono::Duration::seconds(120));
    let resolved = w.wait_order(&unknown, |o| o["state"] != "unknown_outcome").await;
    assert_eq!(resolved["state"], "failed", "{resolved}");

    // Duplicate and inconsistent charge-end records, sent by the partner's own client.
    let (_, order) = w.app.post("/api/app/v1/charging/start", Some(&w.driver), &json!({"connector_id": connector})).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let charging = w.wait_order(&id, |o| o["state"] == "charging").await;
    let seq = charging["seq"].as_str().unwrap().to_owned();
    w.cpo.set_misbehaviour(sim::cec_cpo::Misbehaviour { duplicate_pushes: true, ..Default::default() });
    w.app.post(&format!("/api/app/v1/orders/{id}/stop"), Some(&w.driver), &json!({})).await;
    w.wait_order(&id, |o| o["state"] == "billed").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let bills: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM order_bills").fetch_one(pool).await.unwrap();
    let transitions: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT event FROM order_transitions t JOIN orders o ON o.id = t.order_id WHERE o.seq = '{seq}' ORDER BY n"
    )))
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(bills, 1, "a duplicate record is acknowledged, not billed twice");
    assert_eq!(transitions.iter().filter(|e| *e == "charge_ended").count(), 1, "{transitions:?}");
    assert_eq!(transitions.iter().filter(|e| *e == "billed").count(), 1, "{transitions:?}");
    w.app.cleanup().await;
}

/// A charge-end record whose lines do not add up to its totals is disputed (ConfirmResult 1),
/// kept with the differences listed, and not billed.
async fn inconsistent_records_are_disputed(backend: Backend) {
    use cec::messages::*;
    use rust_decimal_macros::dec;
    let w = world(backend, |_| {}).await;
    let (connector, external) = synced_free_connector(&w).await;
    let (_, order) = w.app.post("/api/app/v1/charging/start", Some(&w.driver), &json!({"connector_id": connector})).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let charging = w.wait_order(&id, |o| o["state"] == "charging").await;

    let partner = cec::CecClient::new(cec::ClientConfig::new(&w.app.base, "v1.0", "MA5FCTXX0", w.issued.clone()), reqwest::Client::new()).unwrap();
    let t0 = chrono::Utc::now() - chrono::Duration::minutes(30);
    let record = ChargeOrderInfo {
        start_charge_seq: Seq27(charging["seq"].as_str().unwrap().into()),
        connector_id: external,
        start_time: t0,
        end_time: t0 + chrono::Duration::minutes(20),
        total_power: dec!(20.00).into(),
        total_elec_money: dec!(16.00).into(),
        total_sevice_money: dec!(8.00).into(),
        total_money: dec!(30.00).into(), // 16 + 8 is 24, not 30
        stop_reason: StopReason::User,
        sum_period: Some(1),
        charge_details: vec![ChargeDetail {
            detail_start_time: t0,
            detail_end_time: t0 + chrono::Duration::minutes(20),
            elec_price: dec!(0.8).into(),
            sevice_price: dec!(0.4).into(),
            detail_power: dec!(15.00).into(), // not the 20 kWh of the total
            detail_elec_money: dec!(16.00).into(),
            detail_sevice_money: dec!(8.00).into(),
        }],
    };
    let answer = partner.call(&record).await.unwrap();
    assert_eq!(answer.confirm_result, 1, "disputed");
    let again = partner.call(&record).await.unwrap();
    assert_eq!(again.confirm_result, 1, "the same answer when sent again");
    let (_, order) = w.app.get(&format!("/api/app/v1/orders/{id}"), Some(&w.driver)).await;
    assert_eq!(order["state"], "disputed", "held for an admin, not billed: {order}");
    let listed: String = sqlx::query_scalar("SELECT discrepancies FROM order_bills").fetch_one(w.app.services.db.pool()).await.unwrap();
    assert!(listed.contains("energy_sum") && listed.contains("total_not_sum"), "{listed}");
    let (status, body) = w.app.post(&format!("/api/app/v1/orders/{id}/pay"), Some(&w.driver), &json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("not_payable")));

    // Reconciliation: the partner's figure differs from the record we hold → disputed (2).
    let check = CheckChargeOrders {
        check_order_seq: Seq27("MA5FCTXX0202611230100000001".into()),
        start_time: t0,
        end_time: t0 + chrono::Duration::hours(1),
        order_count: 2,
        total_order_power: dec!(40).into(),
        total_order_money: dec!(60).into(),
        charge_orders: vec![
            ChargeOrder { start_charge_seq: record.start_charge_seq.clone(), total_power: dec!(20).into(), total_money: dec!(31).into() },
            ChargeOrder { start_charge_seq: Seq27("MA01CB001209901010000000009".into()), total_power: dec!(20).into(), total_money: dec!(29).into() },
        ],
    };
    let answer = partner.call(&check).await.unwrap();
    let reasons: Vec<i64> = answer.dispute_orders.iter().map(|d| d.dispute_reason).collect();
    assert_eq!(reasons, [2, 1], "wrong amount, and an order we do not have");
    assert_eq!(answer.dispute_orders[0].total_money.value(), dec!(30.00), "our figure");

    // A record for an order that is not this partner's is refused in protocol terms.
    let mut stranger = record.clone();
    stranger.start_charge_seq = Seq27("MA01CB001209901010000000001".into());
    let err = partner.call(&stranger).await.unwrap_err();
    assert!(matches!(err, cec::ClientError::Ret { ret: cec::Ret::Parameter, .. }), "{err}");
    w.app.cleanup().await;
}
