//! Flow B, the partner asking: which of our stations it may see, their live status and the
//! prices it gets. A partner querying a station it may not see gets nothing.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::partner::ReviewState;
use domain::station::ConnectorStatus;
use domain::tariff::{PricePolicy, Tariff};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use store::catalog::{self as repo, ConnectorRow, EquipmentRow, StationRow};
use uuid::Uuid;

use crate::{Error, Result, Services};

/// One of our stations as a partner sees it.
#[derive(Debug, Clone)]
pub struct VisibleStation {
    pub station: StationRow,
    pub equipment: Vec<(EquipmentRow, Vec<ConnectorRow>)>,
}

/// Per-partner price policy for our stations (flow B), kept with the partner's terms.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OpenTerms {
    /// Adjustments to our tariff for this partner's users; absent = our published prices.
    #[schema(value_type = Option<Object>)]
    pub price_policy: Option<PricePolicy>,
    /// Whether the partner may use our reservation extension (`query_reserve`); it is not part
    /// of T/CEC 102, so it is off until agreed.
    #[serde(default)]
    pub reservations: bool,
    /// The longest hold this partner may ask for, within the extension's 1–60 minutes
    /// (absent: 60).
    #[serde(default)]
    pub reservation_max_minutes: Option<i64>,
}

/// Our tariff at `station` under a partner's terms (`None`: the station has no valid tariff).
pub(crate) fn tariff_under(station: &StationRow, terms: &OpenTerms) -> Option<Tariff> {
    let base = serde_json::from_value::<Tariff>(station.tariff.clone()).ok()?;
    Some(match &terms.price_policy {
        Some(policy) => policy.apply(&base),
        None => base,
    })
}

impl Services {
    pub async fn require_platform(&self, partner_id: Uuid) -> Result<()> {
        let partner = self.partner(partner_id).await?;
        if partner.state != ReviewState::Approved || !partner.application.roles.is_platform() {
            return Err(Error::forbidden("only approved platform partners may use our stations", "仅已审核通过的平台合作方可使用自营站点"));
        }
        Ok(())
    }

    /// Our stations visible to `partner_id`, changed since `since`, paged (page from 1).
    pub async fn visible_stations(&self, partner_id: Uuid, since: Option<DateTime<Utc>>, page: i64, per_page: i64) -> Result<(i64, Vec<VisibleStation>)> {
        self.require_platform(partner_id).await?;
        let mut conn = self.db.acquire().await?;
        let (total, stations) = repo::visible_own_stations(&mut conn, partner_id, since, (page - 1).max(0) * per_page, per_page).await?;
        // The page's equipment and connectors in two queries, not two per station.
        let ids: Vec<Uuid> = stations.iter().map(|s| s.id).collect();
        let mut connectors: HashMap<Uuid, Vec<ConnectorRow>> = HashMap::new();
        for c in repo::connectors_of_stations(&mut conn, &ids).await? {
            connectors.entry(c.equipment_id).or_default().push(c);
        }
        let mut equipment: HashMap<Uuid, Vec<(EquipmentRow, Vec<ConnectorRow>)>> = HashMap::new();
        for e in repo::equipment_of_stations(&mut conn, &ids).await? {
            let mine = connectors.remove(&e.id).unwrap_or_default();
            equipment.entry(e.station_id).or_default().push((e, mine));
        }
        let visible = stations.into_iter().map(|station| VisibleStation { equipment: equipment.remove(&station.id).unwrap_or_default(), station }).collect();
        Ok((total, visible))
    }

    /// One of our stations by its StationID, if `partner_id` may see it.
    pub async fn visible_station(&self, partner_id: Uuid, external_id: &str) -> Result<Option<VisibleStation>> {
        self.require_platform(partner_id).await?;
        let mut conn = self.db.acquire().await?;
        let Some(station) = repo::station_by_external(&mut conn, None, external_id).await? else { return Ok(None) };
        if !station.public && !repo::is_visible(&mut conn, station.id, partner_id).await? {
            return Ok(None);
        }
        let connectors = repo::connectors_of_station(&mut conn, station.id).await?;
        let equipment = repo::equipment_of_station(&mut conn, station.id)
            .await?
            .into_iter()
            .map(|e| {
                let mine = connectors.iter().filter(|c| c.equipment_id == e.id).cloned().collect();
                (e, mine)
            })
            .collect();
        Ok(Some(VisibleStation { station, equipment }))
    }

    /// Whether `partner_id` may see our station `station_id` (public, or granted to it); a
    /// partner's station (flow A) is never one of ours to show.
    pub async fn own_station_visible_to(&self, partner_id: Uuid, station_id: Uuid) -> Result<bool> {
        let mut conn = self.db.acquire().await?;
        let Some(station) = repo::station(&mut conn, station_id).await? else { return Ok(false) };
        Ok(station.partner_id.is_none() && (station.public || repo::is_visible(&mut conn, station.id, partner_id).await?))
    }

    /// Live status of one of our connectors as partners see it.
    pub fn own_connector_status(&self, connector_id: Uuid) -> ConnectorStatus {
        self.hub.effective(connector_id, self.now())
    }

    /// The tariff a partner gets at one of our stations: ours under its price policy.
    pub async fn partner_tariff(&self, partner_id: Uuid, station: &StationRow) -> Result<Option<Tariff>> {
        let terms = self.partner_terms(partner_id).await?.open;
        Ok(tariff_under(station, &terms))
    }

    /// Energy charged at each connector of `station` in sessions that ended in `[start, end)`
    /// (all customers, as the station's operator reports it), in kWh.
    pub async fn station_energy(&self, station: &VisibleStation, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<HashMap<Uuid, Decimal>> {
        let connectors: Vec<Uuid> = station.equipment.iter().flat_map(|(_, cs)| cs.iter().map(|c| c.id)).collect();
        // A session ending in the period may have begun up to a couple of days before it.
        let orders = {
            let mut conn = self.db.acquire().await?;
            store::orders::for_connectors_between(&mut conn, &connectors, start - chrono::Duration::days(2), end).await?
        };
        let mut energy: HashMap<Uuid, Decimal> = connectors.iter().map(|c| (*c, Decimal::ZERO)).collect();
        for stored in orders {
            if let Some(record) = stored.order.record.as_ref().filter(|r| r.end >= start && r.end < end) {
                *energy.entry(stored.order.connector_id).or_default() += record.energy.value();
            }
        }
        Ok(energy)
    }

    /// Makes a non-public station visible to a partner.
    pub async fn grant_station(&self, station_id: Uuid, partner_id: Uuid) -> Result<()> {
        let mut conn = self.db.acquire().await?;
        repo::grant_visibility(&mut conn, station_id, partner_id).await?;
        Ok(())
    }
}
