//! Our own charging network (flow B): stations, piles and connectors an admin creates, the
//! tariff they charge, and the OCPP identity and password of each pile.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::geo::Coordinate;
use domain::station::{ConnectorStatus, ConnectorType, EquipmentType, StationStatus, StationType};
use domain::tariff::{Tariff, TariffPeriod};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use store::catalog::{self as repo, ConnectorRow, EquipmentRow, StationRow};
use uuid::Uuid;

use crate::secrets::{random_alphanumeric, sha256_hex};
use crate::{Error, Result, Services};

/// What the OCPP side needs of a pile: its password hash and connectors.
#[derive(Debug)]
pub struct CachedPile {
    password_hash: String,
    connectors: Vec<ConnectorRow>,
}

impl CachedPile {
    /// Whether the pile has connector `connector_no` (OCPP numbering, from 1).
    pub(crate) fn has_connector(&self, connector_no: i64) -> bool {
        self.connector_id(connector_no).is_some()
    }

    pub(crate) fn connector_count(&self) -> usize {
        self.connectors.len()
    }

    /// Our connector id of OCPP connector `connector_no`.
    pub(crate) fn connector_id(&self, connector_no: i64) -> Option<uuid::Uuid> {
        self.connectors.iter().find(|c| c.ocpp_connector == Some(connector_no)).map(|c| c.id)
    }
}

pub type PileCache = Arc<parking_lot::RwLock<std::collections::HashMap<String, Arc<CachedPile>>>>;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct OwnStationInput {
    /// Our StationID (≤ 20 characters), what partners see.
    pub external_id: String,
    pub name: String,
    pub address: String,
    pub area_code: String,
    /// WGS-84.
    pub lat: f64,
    pub lng: f64,
    pub service_tel: String,
    /// Time-of-day prices: start `HHmmss` (Beijing), electricity and service price per kWh.
    pub tariff: Vec<PeriodInput>,
    /// Visible to every approved platform partner (default true).
    pub public: Option<bool>,
    pub piles: Vec<PileInput>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct PeriodInput {
    pub start: String,
    #[schema(value_type = String)]
    pub elec_price: Decimal,
    #[schema(value_type = String)]
    pub service_price: Decimal,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct PileInput {
    /// The OCPP charge point identity (the last path segment it connects to).
    pub ocpp_id: String,
    #[schema(value_type = String)]
    pub power_kw: Decimal,
    /// 1 to 8.
    pub connectors: u8,
    /// true: DC (a DC gun with cable); false: AC (an AC plug with cable).
    pub dc: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedStation {
    pub station_id: Uuid,
    /// Each pile's OCPP password, shown only now.
    pub piles: Vec<CreatedPile>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedPile {
    pub ocpp_id: String,
    pub password: String,
    pub connector_ids: Vec<Uuid>,
}

fn tariff_json(tariff: &Tariff) -> serde_json::Value {
    serde_json::to_value(tariff).unwrap_or(serde_json::Value::Null)
}

impl Services {
    pub async fn create_own_station(&self, input: OwnStationInput) -> Result<CreatedStation> {
        let position = Coordinate::new(input.lat, input.lng).map_err(|e| Error::invalid("lat", e.to_string(), e.message_zh()))?;
        if input.external_id.trim().is_empty() || input.external_id.len() > 20 {
            return Err(Error::invalid("external_id", "must be 1 to 20 characters", "站点编号须为 1 至 20 个字符"));
        }
        if input.name.trim().is_empty() {
            return Err(Error::invalid("name", "is required", "必填"));
        }
        if input.piles.is_empty() || input.piles.iter().any(|p| !(1..=8).contains(&p.connectors) || p.ocpp_id.trim().is_empty() || p.ocpp_id.len() > 48) {
            return Err(Error::invalid(
                "piles",
                "at least one pile, each with an OCPP id (≤ 48 characters) and 1 to 8 connectors",
                "至少一个充电桩，每桩须有 OCPP 编号且枪数为 1 至 8",
            ));
        }
        let periods = input
            .tariff
            .iter()
            .enumerate()
            .map(|(i, p)| TariffPeriod::parse(i, &p.start, p.elec_price, p.service_price))
            .collect::<std::result::Result<Vec<_>, _>>()
            .and_then(Tariff::new)
            .map_err(|e| Error::invalid("tariff", e.to_string(), e.message_zh()))?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if repo::station_by_external(&mut tx, None, &input.external_id).await?.is_some() {
            return Err(Error::Conflict {
                code: "duplicate_station",
                field: Some("external_id"),
                message: "a station with this id exists".into(),
                message_zh: "站点编号已存在".into(),
            });
        }
        let station = StationRow {
            id: Uuid::now_v7(),
            partner_id: None,
            external_id: input.external_id.clone(),
            name: input.name.clone(),
            address: input.address.clone(),
            area_code: input.area_code.clone(),
            lat: position.lat(),
            lng: position.lng(),
            station_type: StationType::Public,
            station_status: StationStatus::Operating,
            service_tel: input.service_tel.clone(),
            business_hours: Some("00:00-24:00".into()),
            tariff: tariff_json(&periods),
            public: input.public.unwrap_or(true),
            detail: serde_json::Value::Null,
            updated_at: now,
        };
        let station_id = repo::upsert_station(&mut tx, &station).await?;
        let mut piles = Vec::new();
        let mut all_connectors = Vec::new();
        for (i, pile) in input.piles.iter().enumerate() {
            let equipment_id = repo::upsert_equipment(
                &mut tx,
                &EquipmentRow {
                    id: Uuid::now_v7(),
                    station_id,
                    external_id: format!("{}{:03}", input.external_id, i + 1),
                    equipment_type: if pile.dc { EquipmentType::Dc } else { EquipmentType::Ac },
                    power_kw: pile.power_kw.to_string(),
                    detail: serde_json::Value::Null,
                    ocpp_id: None,
                },
            )
            .await?;
            let password = random_alphanumeric(24);
            repo::set_pile_password(&mut tx, equipment_id, pile.ocpp_id.trim(), &sha256_hex(&password)).await.map_err(|e| match e {
                store::Error::Duplicate { .. } => Error::Conflict {
                    code: "duplicate_pile",
                    field: Some("piles"),
                    message: format!("OCPP id {} is taken", pile.ocpp_id),
                    message_zh: format!("OCPP 编号 {} 已被使用", pile.ocpp_id),
                },
                other => other.into(),
            })?;
            let mut connector_ids = Vec::new();
            for n in 1..=pile.connectors {
                let connector = ConnectorRow {
                    id: Uuid::now_v7(),
                    station_id,
                    equipment_id,
                    external_id: format!("{}{:03}{:02}", input.external_id, i + 1, n),
                    connector_type: if pile.dc { ConnectorType::DcCable } else { ConnectorType::AcCable },
                    power_kw: (pile.power_kw / Decimal::from(pile.connectors)).round_dp(1).to_string(),
                    ocpp_connector: Some(i64::from(n)),
                    status: ConnectorStatus::Offline,
                    status_at: None,
                    detail: serde_json::Value::Null,
                };
                let id = repo::upsert_connector(&mut tx, &connector).await?;
                connector_ids.push(id);
                all_connectors.push(ConnectorRow { id, ..connector });
            }
            piles.push(CreatedPile { ocpp_id: pile.ocpp_id.trim().to_owned(), password, connector_ids });
        }
        tx.commit().await.map_err(store::Error::from)?;
        self.index_station(&StationRow { id: station_id, ..station }, &all_connectors);
        Ok(CreatedStation { station_id, piles })
    }

    /// One of our piles by OCPP identity, from memory after the first read. Unknown identities
    /// are not remembered, so a pile created later (here or on another instance) is found.
    pub(crate) async fn pile(&self, ocpp_id: &str) -> Result<Option<Arc<CachedPile>>> {
        if let Some(pile) = self.piles.read().get(ocpp_id) {
            return Ok(Some(pile.clone()));
        }
        let mut conn = self.db.acquire().await?;
        let Some((_, password_hash, connectors)) = repo::pile(&mut conn, ocpp_id).await? else { return Ok(None) };
        let pile = Arc::new(CachedPile { password_hash, connectors });
        self.piles.write().insert(ocpp_id.to_owned(), pile.clone());
        Ok(Some(pile))
    }

    /// Whether `password` opens the OCPP connection of pile `ocpp_id`; `None` for unknown piles.
    pub async fn verify_pile(&self, ocpp_id: &str, password: &[u8]) -> Result<Option<bool>> {
        let Some(pile) = self.pile(ocpp_id).await? else { return Ok(None) };
        let presented = sha256_hex(&String::from_utf8_lossy(password));
        Ok(Some(!pile.password_hash.is_empty() && crate::secrets::constant_time_eq(presented.as_bytes(), pile.password_hash.as_bytes())))
    }

    /// A status from one of our piles (OCPP StatusNotification). Connector 0 is the whole pile.
    pub async fn pile_status(&self, ocpp_id: &str, connector: i64, status: ConnectorStatus, at: DateTime<Utc>) -> Result<usize> {
        let Some(pile) = self.pile(ocpp_id).await? else { return Ok(0) };
        let mut applied = 0;
        for c in pile.connectors.iter().filter(|c| connector == 0 || c.ocpp_connector == Some(connector)) {
            if self.hub.apply(c.id, status, at) {
                self.push_connector_status(c, status, at).await?;
            }
            applied += 1;
        }
        Ok(applied)
    }
}
