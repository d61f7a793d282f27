//! The demo's second half, flow B: our own station with a simulated OCPP pile, a partner
//! platform (simulated eMSP) onboarded over HTTP, pulling our stations, receiving our status
//! pushes, and charging one of its users on our pile end to end over T/CEC 102.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, ensure};
use reqwest::Method;
use serde_json::json;
use sim::cec_emsp::{EmspConfig, EmspSimulator, PlatformLink};
use sim::piles::{FleetConfig, PileFleet};

use crate::demo::{Client, Narrator, demo_credit_code};

/// What must stay alive while the platform keeps serving after the demo.
pub struct FlowB {
    /// Our station the flow ran on.
    pub station_id: String,
    pub _emsp: EmspSimulator,
    pub _fleet: PileFleet,
}

pub(crate) async fn run(client: &Client, services: &services::Services, admin: &str, say: &Narrator) -> anyhow::Result<FlowB> {
    // Our own station, with a tariff and one DC pile of two connectors.
    let station_id = format!("CBDEMO{:05}", std::process::id() % 100_000);
    let pile_prefix = format!("CB{:05}P", std::process::id() % 100_000);
    let station = json!({
        "external_id": station_id, "name": "深圳湾自营演示站 (Shenzhen Bay, our own)", "address": "深圳市南山区滨海大道1号",
        "area_code": "440305", "lat": 22.5152, "lng": 113.9510, "service_tel": "4008000000",
        "tariff": [
            {"start": "000000", "elec_price": "0.3500", "service_price": "0.4000"},
            {"start": "080000", "elec_price": "0.9500", "service_price": "0.6000"},
            {"start": "220000", "elec_price": "0.3500", "service_price": "0.4000"}
        ],
        "piles": [{"ocpp_id": format!("{pile_prefix}00001"), "power_kw": "120", "connectors": 2, "dc": true}]
    });
    let (status, created) = client.call(Method::POST, "/api/admin/v1/stations", Some(admin), Some(station)).await?;
    ensure!(status == 201, "creating our station failed: {created}");
    let passwords: HashMap<String, Vec<u8>> = created["piles"]
        .as_array()
        .context("piles")?
        .iter()
        .filter_map(|p| Some((p["ocpp_id"].as_str()?.to_owned(), p["password"].as_str()?.as_bytes().to_vec())))
        .collect();
    let mut fleet = FleetConfig::new(format!("{}/ocpp", client.base.replace("http://", "ws://")), 1);
    fleet.id_prefix = pile_prefix;
    fleet.meter_interval = Duration::from_millis(500);
    fleet.power_w = 120_000; // the station's 120 kW pile
    fleet.password_for = Arc::new(move |id| passwords.get(id).cloned());
    let fleet = PileFleet::start(fleet);
    ensure!(fleet.wait_all_online(Duration::from_secs(20)).await, "the simulated pile did not connect");
    say.say(
        &format!("flow B: our station {station_id} created; its OCPP 1.6J pile connected with its issued password"),
        "流程二：自营站点已建立，充电桩经 OCPP 1.6J 接入",
    );

    // The partner platform: registered, approved, credentials, and where we reach it.
    let credit_code = demo_credit_code(services).await?;
    let application = json!({
        "company_name": "演示出行平台有限公司 (Demo Mobility Platform Ltd.)", "credit_code": credit_code,
        "contact_name": "王工", "contact_phone": "13900139000", "contact_email": "api@demo-mobility.example",
        "roles": "platform", "protocol": "cec102", "callback_base_url": "http://127.0.0.1:9/evcs"
    });
    let (status, registered) = client.call(Method::POST, "/api/portal/v1/partners", None, Some(application)).await?;
    ensure!(status == 201, "registration failed: {registered}");
    let id = registered["partner"]["id"].as_str().context("partner id")?.to_owned();
    let portal = registered["portal_token"].as_str().context("portal token")?.to_owned();
    let (status, approved) = client.call(Method::POST, &format!("/api/admin/v1/partners/{id}/approve"), Some(admin), None).await?;
    ensure!(status == 200, "approval failed: {approved}");
    let (_, creds) = client.call(Method::GET, "/api/portal/v1/partners/me/credentials", Some(&portal), None).await?;
    let issued = &creds["cec_issued"][0];
    let s = |k: &str| issued[k].as_str().unwrap_or_default().to_owned();
    let theirs = cec::Secrets::new(
        &services::secrets::random_alphanumeric(16),
        &services::secrets::random_alphanumeric(16),
        &services::secrets::random_alphanumeric(16),
        &services::secrets::random_alphanumeric(16),
    );
    let link = PlatformLink {
        base_url: client.base.clone(),
        version: "v1.0".into(),
        our_operator_id: s("operator_id"),
        secrets: cec::Secrets::new(&s("operator_secret"), &s("data_secret"), &s("data_secret_iv"), &s("sig_secret")),
    };
    let emsp = EmspSimulator::start(EmspConfig::new(&s("operator_id"), theirs.clone(), link)).await.context("starting the simulated partner platform")?;
    let peer = json!({"base_url": emsp.base_url(), "version_segment": "v1.0", "operator_secret": theirs.operator_secret,
                      "data_secret": theirs.data_secret, "data_secret_iv": theirs.data_secret_iv, "sig_secret": theirs.sig_secret});
    let (status, body) = client.call(Method::PUT, "/api/portal/v1/partners/me/cec-peer", Some(&portal), Some(peer)).await?;
    ensure!(status == 200, "registering the partner's endpoint failed: {body}");
    say.say(
        &format!("partner platform {} approved, credentials issued, its endpoint registered", s("operator_id")),
        "第三方平台审核通过，获得凭证并配置对接服务",
    );

    let pulled = emsp.sync_stations().await.context("pulling our stations")?;
    let connector = emsp
        .stations()
        .iter()
        .find(|st| st.station_id == station_id)
        .and_then(|st| st.equipment_infos.first()?.connector_infos.first().map(|c| c.connector_id.clone()))
        .context("our station in the partner's pull")?;
    say.say(&format!("the partner pulled our stations (query_stations_info): {pulled}"), "第三方平台拉取我方充电站列表");
    emsp.refresh_status(std::slice::from_ref(&station_id)).await.context("query_station_status")?;
    say.say(
        &format!(
            "the partner reads live status (query_station_status): {connector} is {:?}; changes are pushed from now on",
            emsp.connector_status(&connector)
        ),
        "第三方平台拉取我方桩实时状态，此后状态变化实时推送",
    );

    let (seq, answer) = emsp.start_charging(&connector).await.context("query_start_charge")?;
    ensure!(answer.succ_stat == cec::messages::SuccStat::Success, "start refused: {answer:?}");
    let waited = |what: &'static str| move |s: Option<sim::cec_emsp::Session>| s.with_context(|| format!("timed out waiting for {what}"));
    waited("the start result")(emsp.wait_session(&seq, Duration::from_secs(30), |s| s.stat == Some(cec::messages::StartChargeSeqStat::Charging)).await)?;
    say.say(&format!("a partner's user starts charging on our pile (query_start_charge → RemoteStartTransaction), order {seq}"), "第三方用户在我方桩发起充电");
    let live = waited("charge status")(emsp.wait_session(&seq, Duration::from_secs(30), |s| s.energy > rust_decimal::Decimal::ZERO).await)?;
    say.say(&format!("charging: {} kWh, ¥{} so far (notification_equip_charge_status)", live.energy, live.money), "充电中，充电状态推送给第三方平台");
    emsp.stop_charging(&seq).await.context("query_stop_charge")?;
    let ended = waited("the charge-end record")(emsp.wait_session(&seq, Duration::from_secs(60), |s| s.billed.is_some()).await)?;
    let order = ended.order.context("the record")?;
    say.say(
        &format!(
            "stopped; charge-end record delivered and confirmed (notification_charge_order_info): {} kWh, electricity ¥{} + service ¥{} = ¥{}",
            order.total_power.value(),
            order.total_elec_money.value(),
            order.total_sevice_money.value(),
            order.total_money.value()
        ),
        "充电结束，充电订单推送第三方平台，第三方结算用户",
    );
    say.say("settlement line booked with the partner's revenue share (see /api/admin/v1/partners/{id}/terms)", "已记录对账结算明细（含分成）");

    // Finance draws up today's statement (Beijing day); the partner checks our orders.
    let beijing = domain::tariff::beijing();
    let today = services.now().with_timezone(&beijing).date_naive().and_hms_opt(0, 0, 0).context("midnight")?;
    let start = today.and_local_timezone(beijing).single().context("Beijing midnight")?.to_utc();
    let period = json!({"start": start, "end": start + chrono::Duration::days(1)});
    let (status, statement) = client.call(Method::POST, &format!("/api/admin/v1/partners/{id}/statements"), Some(admin), Some(period)).await?;
    ensure!(status == 201, "drawing up the statement failed: {statement}");
    let differences = statement["differences"].as_array().map_or(0, Vec::len);
    say.say(
        &format!(
            "reconciled with the partner ({}): {} order(s), {differences} difference(s)",
            statement["reconciled_with"].as_str().unwrap_or("?"),
            statement["body"]["order_count"]
        ),
        "与第三方平台对账（check_charge_orders）",
    );
    let body = &statement["body"];
    // Amounts are exact to the fen; shown as a bill shows them.
    let money = |k: &str| body[k].as_str().and_then(|v| v.parse::<rust_decimal::Decimal>().ok()).map_or("?".into(), |d| d.round_dp(2).to_string());
    say.say(
        &format!(
            "settlement statement (draft): gross ¥{}, the partner keeps ¥{}, it owes us ¥{}; CSV at /api/admin/v1/statements/{}/csv",
            money("gross"),
            money("partner_amount"),
            money("our_amount"),
            statement["id"].as_str().unwrap_or("?")
        ),
        "生成结算单（草稿），财务确认后结算",
    );
    Ok(FlowB { station_id, _emsp: emsp, _fleet: fleet })
}
