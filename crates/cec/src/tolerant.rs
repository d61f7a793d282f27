//! Tolerant reading (T/CEC 102 §15): partners send keys in the wrong case, "fix" the
//! standard's misspellings, and send numbers as strings. Before typed decoding, every key of a
//! decrypted payload is mapped to the standard's spelling; numbers are read with the lenient
//! deserializers below. Writing always uses the standard's form.

use std::collections::HashMap;
use std::sync::OnceLock;

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, Visitor};
use serde_json::{Map, Value};

/// Every key the standard (and our extension) uses, in its standard spelling.
const KEYS: &[&str] = &[
    "AccessToken",
    "Address",
    "AreaCode",
    "Balance",
    "BusineHours",
    "ChargeDetails",
    "ChargeOrders",
    "CheckOrderSeq",
    "ConfirmResult",
    "ConnectorElectricity",
    "ConnectorID",
    "ConnectorInfos",
    "ConnectorName",
    "ConnectorStatsInfos",
    "ConnectorStatus",
    "ConnectorStatusInfo",
    "ConnectorStatusInfos",
    "ConnectorType",
    "Construction",
    "CountryCode",
    "Current",
    "CurrentA",
    "CurrentB",
    "CurrentC",
    "DetailElecMoney",
    "DetailEndTime",
    "DetailPower",
    "DetailSeviceMoney",
    "DetailStartTime",
    "DisputeOrders",
    "DisputeReason",
    "ElecMoney",
    "ElecPrice",
    "ElectricityFee",
    "EndTime",
    "EquipAuthSeq",
    "EquipBizSeq",
    "EquipmentElectricity",
    "EquipmentID",
    "EquipmentInfos",
    "EquipmentLat",
    "EquipmentLng",
    "EquipmentModel",
    "EquipmentName",
    "EquipmentOwnerID",
    "EquipmentStatsInfos",
    "EquipmentType",
    "ExpireTime",
    "FailReason",
    "FailReasonMsg",
    "ItemSize",
    "LastQueryTime",
    "LockStatus",
    "ManufacturerID",
    "ManufacturerName",
    "MatchCars",
    "Minutes",
    "NationalStandard",
    "OperatorID",
    "OperatorSecret",
    "OrderCount",
    "PageCount",
    "PageNo",
    "PageSize",
    "ParkFee",
    "ParkInfo",
    "ParkNo",
    "ParkNums",
    "ParkStatus",
    "Payment",
    "Pictures",
    "PolicyInfos",
    "Power",
    "ProductionDate",
    "QRCode",
    "Remark",
    "ReserveSeq",
    "ReserveSeqStat",
    "ServiceFee",
    "ServiceTel",
    "SevicePrice",
    "SeviceMoney",
    "SiteGuide",
    "Soc",
    "StartChargeSeq",
    "StartChargeSeqStat",
    "StartTime",
    "StationElectricity",
    "StationID",
    "StationIDs",
    "StationInfos",
    "StationLat",
    "StationLng",
    "StationName",
    "StationStats",
    "StationStatus",
    "StationStatusInfos",
    "StationTel",
    "StationType",
    "Status",
    "StopReason",
    "SuccStat",
    "SumPeriod",
    "SupportOrder",
    "TokenAvailableTime",
    "Total",
    "TotalDisputeMoney",
    "TotalDisputeOrder",
    "TotalDisputePower",
    "TotalElecMoney",
    "TotalMoney",
    "TotalOrderMoney",
    "TotalOrderPower",
    "TotalPower",
    "TotalSeviceMoney",
    "VoltageA",
    "VoltageB",
    "VoltageC",
    "VoltageLowerLimits",
    "VoltageUpperLimits",
];

/// Deviations seen in the wild → the standard's key (compared in lower case).
const ALIASES: &[(&str, &str)] = &[
    ("serviceprice", "SevicePrice"),
    ("servicemoney", "SeviceMoney"),
    ("detailservicemoney", "DetailSeviceMoney"),
    ("totalservicemoney", "TotalSeviceMoney"),
    ("businesshours", "BusineHours"),
    ("electmoney", "ElecMoney"),
    ("startime", "StartTime"),
    ("subperiod", "SumPeriod"),
    ("equipmentmode", "EquipmentModel"),
];

fn table() -> &'static HashMap<String, &'static str> {
    static TABLE: OnceLock<HashMap<String, &'static str>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t: HashMap<String, &'static str> = KEYS.iter().map(|k| (k.to_ascii_lowercase(), *k)).collect();
        t.extend(ALIASES.iter().map(|(alias, key)| ((*alias).to_owned(), *key)));
        t
    })
}

/// The standard's spelling of `key`, if we know it in any spelling.
pub fn canonical_key(key: &str) -> Option<&'static str> {
    table().get(&key.to_ascii_lowercase()).copied()
}

/// Rewrites keys to the standard's spelling, recursively. Unknown keys are kept (and then
/// ignored by the typed decoders). When both a deviant and the standard spelling are present,
/// the standard one wins.
pub fn normalise(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            let mut deviant = Vec::new();
            for (key, value) in map {
                let value = normalise(value);
                match canonical_key(&key) {
                    Some(canonical) if canonical == key => {
                        out.insert(key, value);
                    }
                    Some(canonical) => deviant.push((canonical, value)),
                    None => {
                        out.insert(key, value);
                    }
                }
            }
            for (canonical, value) in deviant {
                out.entry(canonical).or_insert(value);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(normalise).collect()),
        other => other,
    }
}

/// True when the keys are already in standard form; lets the hot path skip the rewrite.
pub fn is_canonical(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.iter().all(|(k, v)| canonical_key(k).is_none_or(|c| c == k) && is_canonical(v)),
        Value::Array(items) => items.iter().all(is_canonical),
        _ => true,
    }
}

struct DecimalVisitor;

impl Visitor<'_> for DecimalVisitor {
    type Value = Decimal;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a decimal number or a numeric string")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }
    /// JSON numbers with a fraction arrive as f64; its shortest round-trip text is exactly the
    /// decimal the sender wrote (for the ≤ 15 significant digits money and energy use), so no
    /// binary-float error reaches the amount.
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        v.to_string().parse().or_else(|_| Decimal::try_from(v)).map_err(|_| E::custom(format!("{v} is not a decimal")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
        let t = v.trim();
        t.parse().or_else(|_| Decimal::from_scientific(t)).map_err(|_| E::custom(format!("`{v}` is not a number")))
    }
}

/// Decimal from a number or a numeric string.
pub fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    d.deserialize_any(DecimalVisitor)
}

/// Optional decimal: absent, null and "" mean not given.
pub fn opt_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    let value = Option::<Value>::deserialize_with(d)?;
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(v) => decimal(v).map(Some).map_err(de::Error::custom),
    }
}

/// Integer from a number, an integral float (`7200.0`) or a numeric string.
pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let value = decimal(d)?;
    if value.fract().is_zero() {
        i64::try_from(value).map_err(|_| de::Error::custom(format!("{value} is out of range")))
    } else {
        Err(de::Error::custom(format!("{value} is not a whole number")))
    }
}

/// Optional integer: absent, null and "" mean not given.
pub fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let value = Option::<Value>::deserialize_with(d)?;
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(v) => int(v).map(Some).map_err(de::Error::custom),
    }
}

/// Small helper so the optional readers can take the raw value first.
trait DeserializeWith: Sized {
    fn deserialize_with<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
}

impl DeserializeWith for Option<Value> {
    fn deserialize_with<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <Option<Value> as serde::Deserialize>::deserialize(d)
    }
}

/// Serialises a decimal as a JSON number with exactly `DP` decimals (money 2, prices 4).
pub fn write_dp<S: serde::Serializer, const DP: u32>(value: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    use serde::Serialize;
    let rounded = value.round_dp_with_strategy(DP, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let mut text = rounded.to_string();
    if DP > 0 {
        let decimals = text.split_once('.').map_or(0, |(_, f)| f.len()) as u32;
        if decimals == 0 {
            text.push('.');
        }
        for _ in decimals..DP {
            text.push('0');
        }
    }
    serde_json::value::RawValue::from_string(text).map_err(serde::ser::Error::custom)?.serialize(s)
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;
    use serde_json::json;

    use super::*;

    #[test]
    fn misspellings_and_case_are_mapped() {
        let v = normalise(json!({"ServicePrice": 0.4, "startchargeseq": "X", "ChargeDetails": [{"detailServiceMoney": 1}], "Vin": "L1"}));
        assert_eq!(v, json!({"SevicePrice": 0.4, "StartChargeSeq": "X", "ChargeDetails": [{"DetailSeviceMoney": 1}], "Vin": "L1"}));
        // The standard spelling wins when both are present.
        let v = normalise(json!({"SeviceMoney": 1, "ServiceMoney": 2}));
        assert_eq!(v, json!({"SeviceMoney": 1}));
        assert!(is_canonical(&json!({"SevicePrice": 1, "X": [{"ConnectorID": "1"}]})));
        assert!(!is_canonical(&json!({"X": [{"connectorID": "1"}]})));
    }

    #[test]
    fn numbers_as_strings_and_floats() {
        assert_eq!(decimal(json!("24.60")).unwrap(), dec!(24.60));
        assert_eq!(decimal(json!(0.1)).unwrap(), dec!(0.1));
        assert_eq!(decimal(json!(29.52)).unwrap(), dec!(29.52));
        assert_eq!(int(json!(7200.0)).unwrap(), 7200);
        assert_eq!(int(json!("4")).unwrap(), 4);
        assert!(int(json!(1.5)).is_err());
        assert!(decimal(json!("abc")).is_err());
    }

    #[test]
    fn writes_fixed_decimals() {
        #[derive(serde::Serialize)]
        struct T {
            #[serde(serialize_with = "write_dp::<_, 2>")]
            m: Decimal,
            #[serde(serialize_with = "write_dp::<_, 4>")]
            p: Decimal,
        }
        assert_eq!(serde_json::to_string(&T { m: dec!(29.5), p: dec!(0.8) }).unwrap(), r#"{"m":29.50,"p":0.8000}"#);
    }
}
