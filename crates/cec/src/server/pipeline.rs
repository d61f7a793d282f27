//! One request, step by step (T/CEC 102 §4.4).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::CecServer;
use super::ports::{Caller, PartnerEntry};
use crate::crypto::Keys;
use crate::envelope::{RequestEnvelope, ResponseEnvelope};
use crate::error::{HandlerError, Refusal, Ret};
use crate::messages::*;
use crate::time::parse_timestamp;
use crate::tolerant;

/// Which side serves an interface.
enum Side {
    Token,
    Operator,
    Platform,
}

fn side_of(interface: &str) -> Option<Side> {
    Some(match interface {
        "query_token" => Side::Token,
        "query_stations_info"
        | "query_station_status"
        | "query_station_stats"
        | "query_equip_auth"
        | "query_equip_business_policy"
        | "query_start_charge"
        | "query_equip_charge_status"
        | "query_stop_charge"
        | "query_reserve"
        | "query_cancel_reserve" => Side::Operator,
        "notification_stationStatus"
        | "notification_start_charge_result"
        | "notification_equip_charge_status"
        | "notification_stop_charge_result"
        | "notification_charge_order_info"
        | "check_charge_orders"
        | "notification_reserve_result" => Side::Platform,
        _ => return None,
    })
}

pub(super) async fn process(server: &CecServer, version: &str, interface: &str, bearer: Option<&str>, body: &[u8]) -> ResponseEnvelope {
    // 1. The envelope. A known partner's incomplete request is still answered signed.
    let request = match RequestEnvelope::parse(body) {
        Ok(r) => r,
        Err(refusal) => {
            let keys = match RequestEnvelope::claimed_operator(body) {
                Some(operator_id) => server.directory.lookup(&operator_id).await.ok().flatten().and_then(|entry| signing_keys(&entry)),
                None => None,
            };
            return ResponseEnvelope::refusal(keys.as_ref(), &refusal);
        }
    };
    // 2. The caller.
    let entry = match server.directory.lookup(&request.operator_id).await {
        Ok(Some(entry)) => entry,
        Ok(None) => {
            let msg = format!("OperatorID {} 未登记 / unknown OperatorID", request.operator_id);
            return ResponseEnvelope::refusal(None, &Refusal::envelope(msg));
        }
        Err(e) => return ResponseEnvelope::refusal(None, &Refusal::from(e)),
    };
    // 3. The signature, against every secret set the caller may use now.
    let mut entry = entry;
    let mut matched = verifying_set(&entry, &request);
    if matched.is_none()
        && let Ok(Some(fresh)) = server.directory.refresh(&request.operator_id).await
    {
        matched = verifying_set(&fresh, &request);
        entry = fresh;
    }
    let Some((keys, secrets)) = matched else {
        let refusal = Refusal::new(Ret::Signature, "签名错误 / signature does not match (check SigSecret)");
        return ResponseEnvelope::refusal(signing_keys(&entry).as_ref(), &refusal);
    };
    match authorise(server, &entry, &request, version, interface, bearer).await {
        Ok(()) => {}
        Err(refusal) => return ResponseEnvelope::refusal(Some(&keys), &refusal),
    }
    // 6. Decrypt and parse.
    let payload = match request.open(&keys) {
        Ok(p) => p,
        Err(e) => return ResponseEnvelope::refusal(Some(&keys), &Refusal::envelope(format!("Data 无法解密 / {e}"))),
    };
    let caller = Caller { partner_ref: entry.partner_ref.clone(), operator_id: request.operator_id.clone() };
    // 7. Business fields and the handler.
    let result = if interface == "query_token" {
        query_token(server, &request, &secrets.operator_secret, &payload).await
    } else {
        dispatch(server, &caller, interface, &payload).await
    };
    match result {
        Ok(data) => ResponseEnvelope::seal(&keys, Ret::Ok, "", &data),
        Err(refusal) => ResponseEnvelope::refusal(Some(&keys), &refusal),
    }
}

/// The keys to sign a refusal with when no secret set verified the request: the newest set
/// (the directory lists them newest first), the one a partner in a rotation is moving to.
fn signing_keys(entry: &PartnerEntry) -> Option<Keys> {
    entry.secret_sets.iter().find_map(|s| Keys::new(s).ok())
}

fn verifying_set(entry: &PartnerEntry, request: &RequestEnvelope) -> Option<(Keys, crate::secrets::Secrets)> {
    entry.secret_sets.iter().filter_map(|s| Keys::new(s).ok().map(|k| (k, s.clone()))).find(|(k, _)| request.verify(k))
}

/// Steps 4 and 5 plus the routing checks: active partner, version, interface, token, replay.
async fn authorise(
    server: &CecServer,
    entry: &PartnerEntry,
    request: &RequestEnvelope,
    version: &str,
    interface: &str,
    bearer: Option<&str>,
) -> Result<(), Refusal> {
    if !entry.active {
        return Err(Refusal::envelope("合作商未启用或已暂停 / partner is not active"));
    }
    if !entry.versions.iter().any(|v| v == version) {
        return Err(Refusal::envelope(format!("版本 {version} 不适用于该运营商，可用：{} / version not enabled", entry.versions.join(","))));
    }
    let side = side_of(interface).ok_or_else(|| Refusal::envelope(format!("接口 {interface} 不存在 / unknown interface")))?;
    let served = match side {
        Side::Token => true,
        Side::Operator => server.operator.is_some(),
        Side::Platform => server.platform.is_some(),
    };
    if !served {
        return Err(Refusal::envelope(format!("本平台不提供接口 {interface} / interface not served here")));
    }
    let now = (server.clock)();
    if !matches!(side, Side::Token) {
        let token = bearer.ok_or_else(|| Refusal::new(Ret::Token, "缺少 Authorization: Bearer 令牌 / missing bearer token"))?;
        match server.tokens.holder(token, now).await.map_err(Refusal::from)? {
            Some(holder) if holder == request.operator_id => {}
            Some(_) => return Err(Refusal::new(Ret::Token, "令牌不属于该运营商 / token belongs to another operator")),
            None => return Err(Refusal::new(Ret::Token, "令牌无效或已过期，请重新获取 / token unknown or expired, call query_token")),
        }
    }
    let window = server.config.timestamp_window;
    let sent = parse_timestamp(&request.timestamp).ok_or_else(|| Refusal::envelope("TimeStamp 格式应为 yyyyMMddHHmmss / bad TimeStamp"))?;
    if (now - sent).abs() > window {
        return Err(Refusal::envelope(format!("TimeStamp 超出允许范围 ±{} 秒 / TimeStamp outside the allowed window", window.num_seconds())));
    }
    let key = format!("{}|{}|{}|{}", request.operator_id, request.timestamp, request.seq, request.sig.to_ascii_uppercase());
    if !server.replay.first_time(&key, now, sent + window).await.map_err(Refusal::from)? {
        return Err(Refusal::envelope("重复的请求 (Seq+TimeStamp+Sig) / replayed request"));
    }
    Ok(())
}

/// Decodes a payload tolerantly (keys mapped to the standard's spelling first).
fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, Refusal> {
    let value: Value = serde_json::from_slice(payload).map_err(|e| Refusal::parameter(format!("Data 不是合法 JSON / Data is not JSON: {e}")))?;
    let value = if tolerant::is_canonical(&value) { value } else { tolerant::normalise(value) };
    serde_json::from_value(value).map_err(|e| Refusal::parameter(format!("业务参数不合法 / invalid business parameters: {e}")))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, Refusal> {
    serde_json::to_vec(value).map_err(|e| Refusal::from(HandlerError::Internal(e.to_string())))
}

async fn query_token(server: &CecServer, request: &RequestEnvelope, operator_secret: &str, payload: &[u8]) -> Result<Vec<u8>, Refusal> {
    let req: QueryToken = decode(payload)?;
    if req.operator_id != request.operator_id {
        return Err(Refusal::parameter("Data 中的 OperatorID 与信封不一致 / OperatorID in Data differs from the envelope"));
    }
    let ok = crate::crypto::constant_time_eq(req.operator_secret.as_bytes(), operator_secret.as_bytes());
    let response = if ok {
        let ttl = server.config.token_ttl;
        let token = server.tokens.issue(&req.operator_id, (server.clock)() + ttl).await.map_err(Refusal::from)?;
        QueryTokenResponse {
            operator_id: req.operator_id,
            succ_stat: SuccStat::Success,
            access_token: token,
            token_available_time: ttl.num_seconds(),
            fail_reason: TokenFailReason::None,
        }
    } else {
        QueryTokenResponse {
            operator_id: req.operator_id,
            succ_stat: SuccStat::Failure,
            access_token: String::new(),
            token_available_time: 0,
            fail_reason: TokenFailReason::WrongSecret,
        }
    };
    encode(&response)
}

/// Checks shared by several interfaces before the handler sees the request.
fn require(condition: bool, msg: &str) -> Result<(), Refusal> {
    if condition { Ok(()) } else { Err(Refusal::parameter(msg.to_owned())) }
}

fn seq_ok(seq: &Seq27, field: &str) -> Result<(), Refusal> {
    require(seq.is_valid(), &format!("{field} 须为 27 位（9 位 OperatorID + 18 位）/ {field} must be 27 characters"))
}

async fn dispatch(server: &CecServer, caller: &Caller, interface: &str, payload: &[u8]) -> Result<Vec<u8>, Refusal> {
    macro_rules! op {
        ($method:ident, $req:ty, $check:expr) => {{
            let handler = server.operator.as_ref().expect("checked in authorise");
            let req: $req = decode(payload)?;
            #[allow(clippy::redundant_closure_call)]
            ($check)(&req)?;
            encode(&handler.$method(caller, req).await.map_err(Refusal::from)?)
        }};
    }
    macro_rules! plat {
        ($method:ident, $req:ty, $check:expr) => {{
            let handler = server.platform.as_ref().expect("checked in authorise");
            let req: $req = decode(payload)?;
            #[allow(clippy::redundant_closure_call)]
            ($check)(&req)?;
            encode(&handler.$method(caller, req).await.map_err(Refusal::from)?)
        }};
    }
    match interface {
        "query_stations_info" => op!(query_stations_info, QueryStationsInfo, |r: &QueryStationsInfo| {
            require(r.page_no.is_none_or(|p| p >= 1), "PageNo 从 1 开始 / PageNo counts from 1")?;
            require(r.page_size.is_none_or(|s| (1..=500).contains(&s)), "PageSize 须为 1–500 / PageSize must be 1 to 500")
        }),
        "query_station_status" => op!(query_station_status, QueryStationStatus, |r: &QueryStationStatus| require(
            (1..=50).contains(&r.station_ids.len()),
            "StationIDs 须为 1–50 个 / StationIDs must hold 1 to 50 IDs"
        )),
        "query_station_stats" => op!(query_station_stats, QueryStationStats, |r: &QueryStationStats| require(
            r.start_time <= r.end_time,
            "StartTime 不能晚于 EndTime / StartTime after EndTime"
        )),
        "query_equip_auth" => op!(query_equip_auth, QueryEquipAuth, |r: &QueryEquipAuth| seq_ok(&r.equip_auth_seq, "EquipAuthSeq")),
        "query_equip_business_policy" => {
            op!(query_equip_business_policy, QueryEquipBusinessPolicy, |r: &QueryEquipBusinessPolicy| seq_ok(&r.equip_biz_seq, "EquipBizSeq"))
        }
        "query_start_charge" => op!(query_start_charge, QueryStartCharge, |r: &QueryStartCharge| {
            seq_ok(&r.start_charge_seq, "StartChargeSeq")?;
            require(
                r.start_charge_seq.creator() == caller.operator_id,
                "StartChargeSeq 须以调用方 OperatorID 开头 / StartChargeSeq must start with the caller's OperatorID",
            )
        }),
        "query_equip_charge_status" => op!(query_equip_charge_status, QueryEquipChargeStatus, |_: &_| Ok::<(), Refusal>(())),
        "query_stop_charge" => op!(query_stop_charge, QueryStopCharge, |_: &_| Ok::<(), Refusal>(())),
        "query_reserve" | "query_cancel_reserve" => {
            let enabled = server.directory.lookup(&caller.operator_id).await.map_err(Refusal::from)?.is_some_and(|e| e.reservation_enabled);
            require(enabled, "预约扩展接口未对该运营商开通 / the reservation extension is not enabled for this partner")?;
            if interface == "query_reserve" {
                op!(query_reserve, QueryReserve, |r: &QueryReserve| {
                    seq_ok(&r.reserve_seq, "ReserveSeq")?;
                    require((1..=60).contains(&r.minutes), "Minutes 须为 1–60 / Minutes must be 1 to 60")
                })
            } else {
                op!(query_cancel_reserve, QueryCancelReserve, |_: &_| Ok::<(), Refusal>(()))
            }
        }
        "notification_stationStatus" => plat!(notification_station_status, NotificationStationStatus, |_: &_| Ok::<(), Refusal>(())),
        "notification_start_charge_result" => plat!(notification_start_charge_result, NotificationStartChargeResult, |_: &_| Ok::<(), Refusal>(())),
        "notification_equip_charge_status" => plat!(notification_equip_charge_status, ChargeStatus, |_: &_| Ok::<(), Refusal>(())),
        "notification_stop_charge_result" => plat!(notification_stop_charge_result, NotificationStopChargeResult, |_: &_| Ok::<(), Refusal>(())),
        "notification_charge_order_info" => plat!(notification_charge_order_info, ChargeOrderInfo, |_: &_| Ok::<(), Refusal>(())),
        "check_charge_orders" => plat!(check_charge_orders, CheckChargeOrders, |r: &CheckChargeOrders| require(
            r.order_count == r.charge_orders.len() as i64,
            "OrderCount 与 ChargeOrders 数量不符 / OrderCount does not match ChargeOrders"
        )),
        "notification_reserve_result" => plat!(notification_reserve_result, NotificationReserveResult, |_: &_| Ok::<(), Refusal>(())),
        other => Err(Refusal::envelope(format!("接口 {other} 不存在 / unknown interface"))),
    }
}
