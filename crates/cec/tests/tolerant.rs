//! Tolerant reading, strict writing — with literal JSON as partners really send it.

mod support;

use axum::routing::post;
use cec::envelope::{RequestEnvelope, ResponseEnvelope};
use cec::messages::*;
use cec::{ClientError, Keys, Ret};
use chrono::Utc;
use rust_decimal_macros::dec;
use support::*;

#[tokio::test]
async fn the_server_reads_deviant_keys_and_string_numbers() {
    let running = start().await;
    let token = client(&running.base, PARTNER, secrets()).token().await.unwrap();
    // Corrected spellings (ServiceMoney…), wrong case, numbers as strings, a typo'd SumPeriod,
    // an extra field, and Data Base64 wrapped at 76 characters with CRLF.
    let payload = r#"{"startChargeSeq":"MA5DEMO01202401011200000001","connectorID":"33010600010001",
        "StartTime":"2024-01-01 12:00:05","EndTime":"2024-01-01 12:40:11","TotalPower":"24.60",
        "TotalElecMoney":19.68,"TotalServiceMoney":"9.84","TotalMoney":29.52,"StopReason":"0","SubPeriod":1.0,
        "Vin":"LSVAU2180N2183294",
        "ChargeDetails":[{"DetailStartTime":"2024-01-01 12:00:05","DetailEndTime":"2024-01-01 12:40:11",
          "ElecPrice":"0.8000","ServicePrice":0.4,"DetailPower":24.6,"DetailElecMoney":19.68,"DetailServiceMoney":9.84}]}"#;
    let keys = Keys::new(&secrets()).unwrap();
    let data = keys.encrypt(payload.as_bytes());
    let wrapped: String = data.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join("\r\n");
    let mut env = RequestEnvelope::seal(&keys, PARTNER, b"{}", Utc::now(), 1);
    env.data = wrapped;
    env.sig = keys.sign(&[&env.operator_id, &env.data, &env.timestamp, &env.seq]).to_lowercase();
    let response =
        reqwest::Client::new().post(format!("{}/evcs/v1.0/notification_charge_order_info", running.base)).bearer_auth(&token).json(&env).send().await.unwrap();
    let reply = ResponseEnvelope::parse(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(reply.ret, 0, "{}", reply.msg);
    let calls = running.recorder.calls.lock().unwrap();
    let received: ChargeOrderInfo = serde_json::from_value(calls[0].2.clone()).unwrap();
    assert_eq!(received.total_sevice_money.value(), dec!(9.84));
    assert_eq!(received.total_power.value(), dec!(24.60));
    assert_eq!(received.sum_period, Some(1));
    assert_eq!(received.stop_reason, StopReason::User);
    assert_eq!(received.charge_details[0].detail_sevice_money.value(), dec!(9.84));
    assert_eq!(received.charge_details[0].sevice_price.value(), dec!(0.4));
}

/// A partner server that answers every call with a fixed body.
async fn partner_answering(body: String) -> String {
    let app = axum::Router::new().fallback(post(move || {
        let body = body.clone();
        async move { ([("content-type", "application/json")], body) }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test]
async fn the_client_reads_deviant_replies() {
    support::start().await; // installs the TLS provider reqwest needs
    let keys = Keys::new(&secrets()).unwrap();
    // Ret as a string, pretty-printed Data with a float token lifetime, lower-case Sig.
    let data = keys.encrypt(b"{\r\n  \"OperatorID\": \"MA5DEMO01\",\r\n  \"SuccStat\": 0,\r\n  \"AccessToken\": \"tok\",\r\n  \"TokenAvailableTime\": 604800.0,\r\n  \"FailReason\": 0\r\n}");
    let sig = keys.sign(&["0", "", &data]).to_lowercase();
    let base = partner_answering(format!(r#"{{"Ret":"0","Msg":"","Data":"{data}","Sig":"{sig}","OperatorID":"CPODEMO01"}}"#)).await;
    assert_eq!(client(&base, PARTNER, secrets()).token().await.unwrap(), "tok");

    // Errors with Data null and no Sig are read, never decrypted.
    let base = partner_answering(r#"{"Ret":4004,"Msg":"ConnectorID 不存在","Data":null}"#.into()).await;
    let err = client(&base, PARTNER, secrets()).call(&QueryToken { operator_id: PARTNER.into(), operator_secret: "x".into() }).await.unwrap_err();
    assert_eq!(err, ClientError::Ret { ret: Ret::Parameter, msg: "ConnectorID 不存在".into() });

    // A forged success is caught by the signature check.
    let base = partner_answering(format!(r#"{{"Ret":0,"Msg":"","Data":"{data}","Sig":"00000000000000000000000000000000"}}"#)).await;
    assert_eq!(client(&base, PARTNER, secrets()).token().await.unwrap_err(), ClientError::Signature);

    // A proxy's HTML error page.
    let base = partner_answering("<html>502 Bad Gateway</html>".into()).await;
    assert!(matches!(client(&base, PARTNER, secrets()).token().await.unwrap_err(), ClientError::Decode(_)));
}

#[test]
fn writing_is_strict() {
    let station = station();
    let json = serde_json::to_string(&station).unwrap();
    assert!(json.contains(r#""BusineHours":"00:00-24:00""#), "{json}");
    assert!(json.contains(r#""StationLng":116.310000"#), "coordinates keep 6 decimals: {json}");
    assert!(json.contains(r#""Power":120.0"#), "{json}");
    let status = charge_status(&seq(1));
    let json = serde_json::to_string(&status).unwrap();
    assert!(json.contains(r#""SeviceMoney":4.94"#) && !json.contains("ServiceMoney"), "{json}");
    assert!(json.contains(r#""TotalPower":12.35"#) && json.contains(r#""StartTime":"2024-01-01 12:00:05""#), "Beijing time: {json}");
    let policy = PolicyInfo { start_time: "000000".into(), elec_price: dec!(0.8).into(), sevice_price: dec!(0.4).into() };
    assert_eq!(serde_json::to_string(&policy).unwrap(), r#"{"StartTime":"000000","ElecPrice":0.8000,"SevicePrice":0.4000}"#);
}
