//! Flow B over T/CEC 102: a partner platform pulls our stations, their status and its prices;
//! a station it may not see does not exist for it.

use crate::common;

use cec::messages::*;
use cec::{CecClient, ClientConfig, Secrets};
use common::{Backend, CODE_B, TestApp, application};
use rust_decimal_macros::dec;
use serde_json::json;

on_both_backends!(partners_see_what_they_may);

fn station(id: &str, public: bool, lat: f64) -> serde_json::Value {
    json!({
        "external_id": id, "name": format!("自营站 {id}"), "address": "深圳市福田区", "area_code": "440304",
        "lat": lat, "lng": 114.05, "service_tel": "4008000000", "public": public,
        "tariff": [{"start": "000000", "elec_price": "0.5000", "service_price": "0.8000"}],
        "piles": [{"ocpp_id": format!("{id}-P1"), "power_kw": "60", "connectors": 2, "dc": true}]
    })
}

async fn partners_see_what_they_may(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin_token().await;
    let (_, public) = app.post("/api/admin/v1/stations", Some(&admin), &station("OPEN01", true, 22.54)).await;
    let (_, private) = app.post("/api/admin/v1/stations", Some(&admin), &station("PRIV01", false, 22.55)).await;

    let mut platform = application(CODE_B);
    platform["roles"] = json!("platform");
    let (id, portal) = app.register(&platform).await;
    app.post(&format!("/api/admin/v1/partners/{id}/approve"), Some(&admin), &json!({})).await;
    let (_, creds) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    let set = &creds["cec_issued"][0];
    let secrets = Secrets::new(
        set["operator_secret"].as_str().unwrap(),
        set["data_secret"].as_str().unwrap(),
        set["data_secret_iv"].as_str().unwrap(),
        set["sig_secret"].as_str().unwrap(),
    );
    let client = CecClient::new(ClientConfig::new(&app.base, "v1.0", set["operator_id"].as_str().unwrap(), secrets), reqwest::Client::new()).unwrap();

    let page = client.call(&QueryStationsInfo { last_query_time: None, page_no: Some(1), page_size: Some(10) }).await.unwrap();
    assert_eq!(page.item_size, 1);
    let info = &page.station_infos[0];
    assert_eq!(info.station_id, "OPEN01");
    assert_eq!(info.equipment_infos[0].connector_infos.len(), 2);
    // GCJ-02 on the wire: shifted from the WGS-84 we store by a few hundred metres in Shenzhen.
    let shift = (info.station_lat.value() - dec!(22.54)).abs() + (info.station_lng.value() - dec!(114.05)).abs();
    assert!(shift > dec!(0.001) && shift < dec!(0.01), "GCJ-02 shift {shift}");

    // The private station does not exist for this partner, until it is granted.
    let status = client.call(&QueryStationStatus { station_ids: vec!["OPEN01".into(), "PRIV01".into()] }).await.unwrap();
    assert_eq!(status.total, 1);
    assert!(status.station_status_infos[0].connector_status_infos.iter().all(|c| c.status == ConnectorStatusCode::Offline), "never heard from: not free");
    let (code, _) =
        app.post(&format!("/api/admin/v1/stations/{}/visibility", private["station_id"].as_str().unwrap()), Some(&admin), &json!({"partner_id": id})).await;
    assert_eq!(code, 204);
    let page = client.call(&QueryStationsInfo { last_query_time: None, page_no: Some(1), page_size: Some(1) }).await.unwrap();
    assert_eq!((page.item_size, page.page_count, page.station_infos.len()), (2, 2, 1));

    // Prices, with a partner's price policy applied on top of our tariff.
    let connector = info.equipment_infos[0].connector_infos[0].connector_id.clone();
    let seq = |n: u32| Seq27(format!("{}{:018}", set["operator_id"].as_str().unwrap(), n));
    let policy = client.call(&QueryEquipBusinessPolicy { equip_biz_seq: seq(1), connector_id: connector.clone() }).await.unwrap();
    assert_eq!((policy.succ_stat, policy.sum_period), (SuccStat::Success, 1));
    assert_eq!(policy.policy_infos[0].sevice_price.value(), dec!(0.8));
    // An admin gives this partner's users 25 % off the service fee.
    let terms_path = format!("/api/admin/v1/partners/{id}/terms");
    let (_, mut terms) = app.get(&terms_path, Some(&admin)).await;
    terms["open"]["price_policy"] = json!({"electricity": {"kind": "none"}, "service": {"kind": "percent", "value": "-25"}});
    let (code, saved) = app.put(&terms_path, Some(&admin), &terms).await;
    assert_eq!(code, 200, "{saved}");
    let discounted = client.call(&QueryEquipBusinessPolicy { equip_biz_seq: seq(3), connector_id: connector.clone() }).await.unwrap();
    assert_eq!(discounted.policy_infos[0].sevice_price.value(), dec!(0.6));
    assert_eq!(discounted.policy_infos[0].elec_price.value(), dec!(0.5));
    let mut impossible = terms.clone();
    impossible["open"]["price_policy"]["service"]["value"] = json!("-150");
    let (code, body) = app.put(&terms_path, Some(&admin), &impossible).await;
    assert_eq!((code, body["error"]["fields"][0]["field"].as_str()), (422, Some("open.price_policy")), "{body}");
    let again = client.call(&QueryEquipBusinessPolicy { equip_biz_seq: seq(4), connector_id: connector.clone() }).await.unwrap();
    assert_eq!(again.policy_infos[0].sevice_price.value(), dec!(0.6), "a refused change changes nothing");
    let unknown = client.call(&QueryEquipBusinessPolicy { equip_biz_seq: seq(2), connector_id: "NOSUCH".into() }).await.unwrap();
    assert_eq!((unknown.succ_stat, unknown.fail_reason), (SuccStat::Failure, 1));
    let _ = public;
    app.cleanup().await;
}
