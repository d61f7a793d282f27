//! Every interface between this crate's client and its server over real HTTP on loopback.

mod support;

use cec::messages::*;
use chrono::NaiveDate;
use rust_decimal_macros::dec;
use support::*;

#[tokio::test]
async fn every_interface_round_trips() {
    let running = start().await;
    let client = client(&running.base, PARTNER, secrets());

    let stations = client.call(&QueryStationsInfo { last_query_time: Some(t(0, 0)), page_no: Some(1), page_size: Some(10) }).await.unwrap();
    assert_eq!(stations.station_infos, vec![station()]);
    assert_eq!(stations.station_infos[0].station_lng.value(), dec!(116.31));

    let status = client.call(&QueryStationStatus { station_ids: vec!["S001".into(), "S002".into()] }).await.unwrap();
    assert_eq!(status.total, 2);
    assert_eq!(status.station_status_infos[1].connector_status_infos[0].connector_id, "S002-1");

    let d = |day| NaiveDate::from_ymd_opt(2024, 1, day).unwrap();
    let stats = client.call(&QueryStationStats { station_id: "S001".into(), start_time: d(1), end_time: d(7) }).await.unwrap();
    assert_eq!(stats.station_stats.station_electricity.value(), dec!(120.5));

    let auth = client.call(&QueryEquipAuth { equip_auth_seq: seq(1), connector_id: "33010600010001".into() }).await.unwrap();
    assert_eq!(auth.succ_stat, SuccStat::Success);

    let policy = client.call(&QueryEquipBusinessPolicy { equip_biz_seq: seq(2), connector_id: "33010600010001".into() }).await.unwrap();
    assert_eq!(policy.policy_infos[1].elec_price.value(), dec!(0.8));

    let started = client.call(&QueryStartCharge { start_charge_seq: seq(3), connector_id: "33010600010001".into(), qr_code: String::new() }).await.unwrap();
    assert_eq!((started.succ_stat, started.start_charge_seq_stat), (SuccStat::Success, StartChargeSeqStat::Starting));

    let live = client.call(&QueryEquipChargeStatus { start_charge_seq: seq(3) }).await.unwrap();
    assert_eq!(live, charge_status(&seq(3)));

    let stopped = client.call(&QueryStopCharge { start_charge_seq: seq(3), connector_id: "33010600010001".into() }).await.unwrap();
    assert_eq!(stopped.start_charge_seq_stat, StartChargeSeqStat::Stopping);

    let reserved = client.call(&QueryReserve { reserve_seq: seq(4), connector_id: "33010600010001".into(), minutes: 15 }).await.unwrap();
    assert_eq!((reserved.reserve_seq_stat, reserved.expire_time), (ReserveSeqStat::Reserved, Some(t(4, 15))));
    let cancelled = client.call(&QueryCancelReserve { reserve_seq: seq(4), connector_id: "33010600010001".into() }).await.unwrap();
    assert_eq!(cancelled.reserve_seq_stat, ReserveSeqStat::Cancelled);

    // The other direction: notifications to the platform side.
    let ack = client
        .call(&NotificationStationStatus {
            connector_status_info: ConnectorStatusInfo {
                connector_id: "33010600010001".into(),
                status: ConnectorStatusCode::Charging,
                park_status: Some(50),
                lock_status: None,
            },
        })
        .await
        .unwrap();
    assert_eq!(ack.status, 0);
    let ack = client
        .call(&NotificationStartChargeResult {
            start_charge_seq: seq(3),
            start_charge_seq_stat: StartChargeSeqStat::Charging,
            connector_id: "33010600010001".into(),
            start_time: t(4, 0),
        })
        .await
        .unwrap();
    assert_eq!(ack.succ_stat, SuccStat::Success);
    let ack = client.call(&charge_status(&seq(3))).await.unwrap();
    assert_eq!(ack.start_charge_seq, seq(3));
    let ack = client
        .call(&NotificationStopChargeResult {
            start_charge_seq: seq(3),
            start_charge_seq_stat: StartChargeSeqStat::Ended,
            connector_id: "33010600010001".into(),
            succ_stat: SuccStat::Success,
            fail_reason: 0,
        })
        .await
        .unwrap();
    assert_eq!(ack.succ_stat, SuccStat::Success);
    let order = ChargeOrderInfo {
        start_charge_seq: seq(3),
        connector_id: "33010600010001".into(),
        start_time: t(4, 0),
        end_time: t(4, 40),
        total_power: dec!(24.60).into(),
        total_elec_money: dec!(19.68).into(),
        total_sevice_money: dec!(9.84).into(),
        total_money: dec!(29.52).into(),
        stop_reason: StopReason::User,
        sum_period: Some(1),
        charge_details: vec![ChargeDetail {
            detail_start_time: t(4, 0),
            detail_end_time: t(4, 40),
            elec_price: dec!(0.8).into(),
            sevice_price: dec!(0.4).into(),
            detail_power: dec!(24.60).into(),
            detail_elec_money: dec!(19.68).into(),
            detail_sevice_money: dec!(9.84).into(),
        }],
    };
    let confirmed = client.call(&order).await.unwrap();
    assert_eq!(confirmed.confirm_result, 0);
    let check = CheckChargeOrders {
        check_order_seq: seq(5),
        start_time: t(0, 0),
        end_time: t(23, 59),
        order_count: 1,
        total_order_power: dec!(24.60).into(),
        total_order_money: dec!(29.52).into(),
        charge_orders: vec![ChargeOrder { start_charge_seq: seq(3), total_power: dec!(24.60).into(), total_money: dec!(29.52).into() }],
    };
    let disputes = client.call(&check).await.unwrap();
    assert!(disputes.dispute_orders.is_empty());
    let ack = client
        .call(&NotificationReserveResult {
            reserve_seq: seq(4),
            connector_id: "33010600010001".into(),
            reserve_seq_stat: ReserveSeqStat::Expired,
            end_time: t(4, 15),
        })
        .await
        .unwrap();
    assert_eq!(ack.succ_stat, SuccStat::Success);

    // Every interface reached its handler exactly once, with what the client sent.
    let mut names = running.recorder.names();
    names.sort();
    let mut expected: Vec<String> = ALL_INTERFACES.iter().filter(|n| **n != "query_token").map(|n| n.to_string()).collect();
    expected.sort();
    assert_eq!(names, expected);
    let calls = running.recorder.calls.lock().unwrap();
    let (partner, _, sent) = calls.iter().find(|(_, n, _)| n == "notification_charge_order_info").unwrap();
    assert_eq!(partner, "ref-MA5DEMO01");
    assert_eq!(sent, &serde_json::to_value(&order).unwrap());
}

#[tokio::test]
async fn rotated_secrets_work_during_the_overlap() {
    let running = start().await;
    for secrets in [secrets(), rotated()] {
        let c = client(&running.base, PARTNER, secrets);
        assert!(c.call(&QueryStationStatus { station_ids: vec!["S1".into()] }).await.is_ok());
    }
}

#[tokio::test]
async fn a_token_is_fetched_once_and_reused() {
    let running = start().await;
    let c = client(&running.base, PARTNER, secrets());
    let first = c.token().await.unwrap();
    for _ in 0..3 {
        c.call(&QueryStationStatus { station_ids: vec!["S1".into()] }).await.unwrap();
    }
    assert_eq!(c.token().await.unwrap(), first);
}
