//! The charging catalog: partner sync (flow A), the in-memory search index and nearby search.
//!
//! Stations live in the store; a copy of what search needs is kept in memory (the grid index,
//! station summaries, and the partner-identifier → connector map used by every status push),
//! rebuilt from the store at start and updated by every sync.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::geo::Gcj02;
use domain::partner::ReviewState;
use domain::settlement::UserPricing;
use domain::station::{ConnectorStatus, ConnectorType, Station, StationStatus, StationType};
use domain::tariff::Tariff;
use parking_lot::RwLock;
use rust_decimal::Decimal;
use serde::Serialize;
use store::catalog::{self as repo, ConnectorRow, EquipmentRow, StationRow};
use uuid::Uuid;

use crate::geo_index::GeoIndex;
use crate::ports::GatewayError;
use crate::prices::PriceNow;
use crate::search_facts::StationFacts;
use crate::status_hub::ConnectorSlot;
use crate::{Error, Result, Services};

/// What search and the app show about a station.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StationSummary {
    pub id: Uuid,
    /// `None` for our own stations.
    pub partner_id: Option<Uuid>,
    /// The owner's own StationID.
    pub external_id: String,
    pub name: String,
    pub address: String,
    /// WGS-84.
    pub lat: f64,
    pub lng: f64,
    pub connectors: Vec<ConnectorSummary>,
    /// The owner's time-of-day prices (the partner's own, before our user pricing); shown
    /// through [`crate::prices::PriceNow`].
    #[serde(skip)]
    pub tariff: Option<Tariff>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConnectorSummary {
    pub id: Uuid,
    pub external_id: String,
    pub connector_type: ConnectorType,
    #[schema(value_type = String)]
    pub power_kw: Decimal,
    /// DC fast charging.
    pub dc: bool,
}

#[derive(Default)]
pub struct CatalogCache {
    /// Each station's position with the facts search filters by.
    geo: GeoIndex<StationFacts>,
    stations: HashMap<Uuid, StationSummary>,
    /// (partner, partner's ConnectorID) → (connector, station).
    by_external: HashMap<(Option<Uuid>, String), (Uuid, Uuid)>,
    connector_station: HashMap<Uuid, Uuid>,
    /// Every connector put under each station, with its owner's id for it (including ones a
    /// later put no longer lists), so taking a station out touches its own entries only instead
    /// of scanning every connector of the catalog.
    station_connectors: HashMap<Uuid, Vec<(Uuid, String)>>,
    /// Each operator partner's user pricing (flow A), so prices are shown without a query.
    pub(crate) user_pricing: HashMap<Uuid, UserPricing>,
}

impl CatalogCache {
    /// `slots`: the status hub's slots of the summary's connectors, in order.
    fn put(&mut self, summary: StationSummary, slots: &[ConnectorSlot]) {
        self.geo.upsert(summary.id, summary.lat, summary.lng, StationFacts::new(&summary, slots));
        let known = self.station_connectors.entry(summary.id).or_default();
        for c in &summary.connectors {
            self.by_external.insert((summary.partner_id, c.external_id.clone()), (c.id, summary.id));
            self.connector_station.insert(c.id, summary.id);
            if !known.iter().any(|(id, _)| *id == c.id) {
                known.push((c.id, c.external_id.clone()));
            }
        }
        self.stations.insert(summary.id, summary);
    }

    /// Takes a station out of search; returns the connectors that pointed at it (including
    /// ones an earlier sync dropped), for the status hub to forget.
    fn remove(&mut self, station_id: Uuid) -> Vec<Uuid> {
        self.geo.remove(station_id);
        let Some(summary) = self.stations.remove(&station_id) else { return Vec::new() };
        let mut connectors = Vec::new();
        for (connector, external_id) in self.station_connectors.remove(&station_id).unwrap_or_default() {
            if self.connector_station.get(&connector) == Some(&station_id) {
                self.connector_station.remove(&connector);
                connectors.push(connector);
            }
            let key = (summary.partner_id, external_id);
            // The identifier may have moved to another of the owner's stations since.
            if self.by_external.get(&key).is_some_and(|(_, s)| *s == station_id) {
                self.by_external.remove(&key);
            }
        }
        connectors
    }

    /// A partner's stations.
    pub fn stations_of(&self, partner_id: Uuid) -> impl Iterator<Item = &StationSummary> {
        self.stations.values().filter(move |s| s.partner_id == Some(partner_id))
    }

    /// Replaces a station's prices (the price refresh; nothing search filters by changes).
    pub(crate) fn set_tariff(&mut self, station_id: Uuid, tariff: Tariff) {
        if let Some(station) = self.stations.get_mut(&station_id) {
            station.tariff = Some(tariff);
        }
    }

    pub fn len(&self) -> usize {
        self.stations.len()
    }

    pub fn summary(&self, station_id: Uuid) -> Option<&StationSummary> {
        self.stations.get(&station_id)
    }

    /// A connector by its owner's own identifier.
    pub(crate) fn connector_by_external(&self, partner_id: Option<Uuid>, external_id: &str) -> Option<Uuid> {
        self.by_external.get(&(partner_id, external_id.to_owned())).map(|(connector, _)| *connector)
    }

    /// The station a connector belongs to.
    pub fn station_of(&self, connector_id: Uuid) -> Option<Uuid> {
        self.connector_station.get(&connector_id).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.stations.is_empty()
    }
}

/// The in-memory catalog, shared.
pub type SharedCatalog = std::sync::Arc<RwLock<CatalogCache>>;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SyncReport {
    pub stations: usize,
    pub connectors: usize,
    /// Stations refused, with the reason (bad coordinates, no connectors, …).
    pub rejected: Vec<(String, String)>,
    pub incremental: bool,
    /// Stations whose prices the partner gave us in this sync.
    pub priced: usize,
    /// Stations whose prices could not be fetched (the last known prices are kept).
    pub price_failures: usize,
}

/// Search filters of the app's nearby search.
#[derive(Debug, Clone, Default)]
pub struct NearbyFilter {
    pub free_now: bool,
    pub min_power_kw: Option<Decimal>,
    pub dc_only: bool,
    /// Highest total price (electricity + service, yuan per kWh) our user pays right now;
    /// stations without known prices are left out when set.
    pub max_price: Option<Decimal>,
}

/// A page of a nearby search.
#[derive(Debug, Clone)]
pub struct NearbyResults {
    /// Stations in the circle that pass the filters: exact when `total_exact`, otherwise
    /// estimated from the part of the circle the search had to look at.
    pub total: usize,
    pub total_exact: bool,
    pub items: Vec<NearbyStation>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NearbyStation {
    #[serde(flatten)]
    pub station: StationSummary,
    pub distance_m: f64,
    pub free_connectors: usize,
    pub statuses: Vec<ConnectorStatus>,
    /// What our user pays per kWh now; `None` when the owner has not given prices.
    pub price: Option<PriceNow>,
}

fn validate(station: &Station) -> std::result::Result<domain::geo::Coordinate, String> {
    if station.external_id.trim().is_empty() || station.external_id.len() > 20 {
        return Err("StationID must be 1 to 20 characters".into());
    }
    if station.name.trim().is_empty() {
        return Err("StationName is empty".into());
    }
    if station.equipment.iter().all(|e| e.connectors.is_empty()) {
        return Err("no connectors".into());
    }
    let gcj = Gcj02::new(station.lat_gcj02, station.lng_gcj02).map_err(|e| format!("coordinates: {e}"))?;
    Ok(gcj.to_wgs84())
}

fn summary(station: &StationRow, connectors: &[ConnectorRow]) -> StationSummary {
    StationSummary {
        id: station.id,
        partner_id: station.partner_id,
        external_id: station.external_id.clone(),
        name: station.name.clone(),
        address: station.address.clone(),
        lat: station.lat,
        lng: station.lng,
        tariff: serde_json::from_value(station.tariff.clone()).ok(),
        connectors: connectors
            .iter()
            .map(|c| ConnectorSummary {
                id: c.id,
                external_id: c.external_id.clone(),
                connector_type: c.connector_type,
                power_kw: c.power_kw.parse().unwrap_or_default(),
                dc: c.connector_type.is_dc(),
            })
            .collect(),
    }
}

impl Services {
    /// Rebuilds the in-memory catalog and status hub from the store (at start).
    pub async fn load_catalog(&self) -> Result<usize> {
        let mut conn = self.db.acquire().await?;
        let stations = repo::all_stations(&mut conn).await?;
        let connectors = repo::all_connectors(&mut conn).await?;
        let mut by_station: HashMap<Uuid, Vec<ConnectorRow>> = HashMap::new();
        for c in connectors {
            let reading = c.status_at.map(|at| domain::station::StatusReading { status: c.status, observed_at: at });
            self.hub.register(c.id, c.station_id, reading);
            by_station.entry(c.station_id).or_default().push(c);
        }
        let mut pricing = HashMap::new();
        for partner in stations.iter().filter_map(|s| s.partner_id).collect::<std::collections::HashSet<_>>() {
            pricing.insert(partner, self.partner_terms(partner).await?.user_pricing);
        }
        let mut cache = self.catalog.write();
        cache.user_pricing = pricing;
        for s in &stations {
            let connectors = by_station.get(&s.id).map_or(&[][..], Vec::as_slice);
            // Registered above with their readings; this gives back the same slots.
            let slots: Vec<ConnectorSlot> = connectors.iter().map(|c| self.hub.register(c.id, s.id, None)).collect();
            cache.put(summary(s, connectors), &slots);
        }
        Ok(stations.len())
    }

    /// Puts a stored station into the in-memory catalog and registers its connectors.
    pub fn index_station(&self, station: &StationRow, connectors: &[ConnectorRow]) {
        // Catalog lock first, then the hub's (inside `register`): the order `nearby` takes them.
        let mut cache = self.catalog.write();
        let slots: Vec<ConnectorSlot> = connectors.iter().map(|c| self.hub.register(c.id, station.id, None)).collect();
        cache.put(summary(station, connectors), &slots);
    }

    /// Puts a new version of a station into the in-memory catalog in one step: connectors it
    /// no longer has leave the status hub, the ones it keeps keep their slots and readings (a
    /// re-upload must not make a free connector look unknown), and search never sees the
    /// station missing in between.
    pub fn reindex_station(&self, station: &StationRow, connectors: &[ConnectorRow]) {
        let keep: std::collections::HashSet<Uuid> = connectors.iter().map(|c| c.id).collect();
        let mut cache = self.catalog.write();
        for gone in cache.remove(station.id).into_iter().filter(|c| !keep.contains(c)) {
            self.hub.forget(gone);
        }
        let slots: Vec<ConnectorSlot> = connectors.iter().map(|c| self.hub.register(c.id, station.id, None)).collect();
        cache.put(summary(station, connectors), &slots);
    }

    /// Takes a station out of the in-memory catalog and its connectors out of the status hub
    /// (the stored rows stay). Returns whether it was indexed.
    pub fn unindex_station(&self, station_id: Uuid) -> bool {
        let mut cache = self.catalog.write();
        let known = cache.stations.contains_key(&station_id);
        for connector in cache.remove(station_id) {
            self.hub.forget(connector);
        }
        known
    }

    /// Pulls a partner's stations (incrementally after the first time), validates and stores
    /// them as that partner's, then repairs their live status.
    pub async fn sync_catalog(&self, partner_id: Uuid) -> Result<SyncReport> {
        let gateway = self.operator_gateway.clone().ok_or_else(|| Error::Internal("no operator gateway configured".into()))?;
        let partner = self.approved_operator(partner_id).await?;
        let since = {
            let mut conn = self.db.acquire().await?;
            store::settlement::last_sync(&mut conn, partner_id).await?
        };
        let query_time = self.now();
        let remote = match gateway.stations(&partner, since).await {
            Ok(stations) => stations,
            Err(e) => {
                let mut conn = self.db.acquire().await?;
                store::settlement::record_sync(&mut conn, partner_id, None, query_time, &format!("failed: {e}")).await?;
                return Err(gateway_error(e));
            }
        };
        let user_pricing = self.partner_terms(partner_id).await?.user_pricing;
        self.catalog.write().user_pricing.insert(partner_id, user_pricing);
        let tariffs = self.fetch_tariffs(gateway.as_ref(), &partner, &remote).await;
        // A deadlock with the status write-behind (PostgreSQL picks one victim) is retried.
        let (report, summaries) = self.db.retry("catalog write", || self.write_catalog(partner_id, &remote, &tariffs, since.is_some(), query_time)).await?;
        for (station, connectors) in &summaries {
            self.index_station(station, connectors);
        }
        let ids: Vec<String> = summaries.iter().map(|(s, _)| s.external_id.clone()).collect();
        self.repair_status(partner_id, &ids).await?;
        tracing::info!(partner = %partner_id, stations = report.stations, rejected = report.rejected.len(), "catalog synced");
        Ok(report)
    }

    /// The write half of a sync: stations, equipment and connectors upserted in one transaction.
    async fn write_catalog(
        &self,
        partner_id: Uuid,
        remote: &[Station],
        tariffs: &crate::prices::FetchedTariffs,
        incremental: bool,
        query_time: DateTime<Utc>,
    ) -> Result<(SyncReport, Vec<(StationRow, Vec<ConnectorRow>)>)> {
        let mut report = SyncReport { stations: 0, connectors: 0, rejected: Vec::new(), incremental, priced: tariffs.fetched, price_failures: tariffs.failed };
        let mut summaries = Vec::new();
        let mut tx = self.db.begin().await?;
        // Writing the sync row first serialises concurrent syncs of one partner (the periodic
        // worker and an admin's "sync now"): on PostgreSQL it takes the row lock, so the second
        // run sees the first one's stations instead of inserting them again.
        store::settlement::record_sync(&mut tx, partner_id, None, query_time, "running").await?;
        for station in remote {
            let position = match validate(station) {
                Ok(p) => p,
                Err(reason) => {
                    tracing::warn!(partner = %partner_id, station = %station.external_id, %reason, "station rejected");
                    report.rejected.push((station.external_id.clone(), reason));
                    continue;
                }
            };
            let tariff = tariffs.by_station.get(&station.external_id).map_or(serde_json::Value::Null, |t| serde_json::to_value(t).unwrap_or_default());
            let (row, connectors) = store_station(&mut tx, partner_id, station, position, tariff, query_time).await?;
            report.stations += 1;
            report.connectors += connectors.len();
            summaries.push((row, connectors));
        }
        store::settlement::record_sync(&mut tx, partner_id, Some(query_time), self.now(), &format!("ok: {} stations", report.stations)).await?;
        tx.commit().await.map_err(store::Error::from)?;
        Ok((report, summaries))
    }

    /// The partner, if it is an approved charge-point operator: the only partners whose catalog
    /// and prices we pull.
    pub(crate) async fn approved_operator(&self, partner_id: Uuid) -> Result<domain::partner::Partner> {
        let partner = self.partner(partner_id).await?;
        if partner.state != ReviewState::Approved || !partner.application.roles.is_operator() {
            return Err(Error::forbidden("only approved charge-point operators are synced", "仅同步已审核通过的运营商"));
        }
        Ok(partner)
    }

    /// Asks the partner for the status of `station_ids` (50 per call, the standard's limit) and
    /// applies it: repairs what missed pushes left behind.
    pub async fn repair_status(&self, partner_id: Uuid, station_ids: &[String]) -> Result<usize> {
        let gateway = self.operator_gateway.clone().ok_or_else(|| Error::Internal("no operator gateway configured".into()))?;
        let partner = self.partner(partner_id).await?;
        let mut applied = 0;
        for chunk in station_ids.chunks(50) {
            let statuses = gateway.statuses(&partner, chunk).await.map_err(gateway_error)?;
            let now = self.now();
            for (external, status) in statuses {
                if let Some((connector, _)) = self.connector_by_external(Some(partner_id), &external) {
                    self.hub.apply(connector, status, now);
                    applied += 1;
                }
            }
        }
        Ok(applied)
    }

    /// Approved operator partners we can reach (their endpoint and secrets are registered):
    /// the ones the periodic sync and status repair visit.
    pub async fn reachable_operators(&self) -> Result<Vec<Uuid>> {
        let page = store::PageRequest { page: 1, per_page: 10_000 };
        let filter = store::partners::PartnerFilter { state: Some(ReviewState::Approved), ..Default::default() };
        let partners = self.list_partners(&filter, page).await?;
        let mut reachable = Vec::new();
        for p in partners.items.into_iter().filter(|p| p.application.roles.is_operator()) {
            if self.cec_received_for_partner(p.id).await?.is_some() {
                reachable.push(p.id);
            }
        }
        Ok(reachable)
    }

    /// The partner's station ids (its own identifiers), for periodic status repair.
    pub fn partner_station_ids(&self, partner_id: Uuid) -> Vec<String> {
        let cache = self.catalog.read();
        cache.stations_of(partner_id).map(|s| s.external_id.clone()).collect()
    }

    pub fn connector_by_external(&self, partner_id: Option<Uuid>, external_id: &str) -> Option<(Uuid, Uuid)> {
        self.catalog.read().by_external.get(&(partner_id, external_id.to_owned())).copied()
    }

    pub fn station_summary(&self, id: Uuid) -> Option<StationSummary> {
        self.catalog.read().stations.get(&id).cloned()
    }

    /// Stations within `radius_m` of a WGS-84 point that pass `filter`, nearest first, paged.
    ///
    /// The filters are applied while the index walks outward from the point, and the walk stops
    /// once the page is certain (see `GeoIndex::nearest`), so the cost follows the page, not the
    /// circle; the total is exact only when the walk saw the whole circle. Live status is read
    /// under one lock for the whole query, by slot from the facts beside each station.
    pub fn nearby(&self, lat: f64, lng: f64, radius_m: f64, filter: &NearbyFilter, offset: usize, limit: usize) -> NearbyResults {
        let now = self.now();
        let cache = self.catalog.read();
        let price = |station: &StationSummary| crate::prices::user_price(&cache, station, now);
        let fits = |power_kw: Decimal, dc: bool| (!filter.dc_only || dc) && filter.min_power_kw.is_none_or(|min| power_kw >= min);
        self.hub.with_view(now, |view| {
            let walk = cache.geo.nearest(lat, lng, radius_m, offset.saturating_add(limit), |id, _, facts| {
                let passes = if filter.free_now {
                    facts.statuses(view, |c| fits(c.power_kw, c.dc)).any(ConnectorStatus::is_free)
                } else {
                    facts.connectors.iter().any(|c| fits(c.power_kw, c.dc))
                };
                passes && filter.max_price.is_none_or(|max| cache.stations.get(&id).and_then(price).is_some_and(|p| p.total_price() <= max))
            });
            let items = walk.found[offset.min(walk.found.len())..]
                .iter()
                .filter_map(|(id, distance_m)| {
                    let station = cache.stations.get(id)?;
                    let statuses: Vec<ConnectorStatus> = station.connectors.iter().filter(|c| fits(c.power_kw, c.dc)).map(|c| view.status_of(c.id)).collect();
                    let free_connectors = statuses.iter().filter(|s| s.is_free()).count();
                    Some(NearbyStation { station: station.clone(), distance_m: *distance_m, free_connectors, statuses, price: price(station) })
                })
                .collect();
            NearbyResults { total: walk.total_estimate(), total_exact: walk.exhausted, items }
        })
    }

    /// Records a status reported for a partner's connector (push or poll). Unknown connectors
    /// are ignored (and reported as such), never invented.
    pub fn report_status(&self, partner_id: Option<Uuid>, connector_external_id: &str, status: ConnectorStatus, at: DateTime<Utc>) -> bool {
        match self.connector_by_external(partner_id, connector_external_id) {
            Some((connector, _)) => {
                self.hub.apply(connector, status, at);
                true
            }
            None => false,
        }
    }

    /// Writes the statuses that changed since the last call to the store (write-behind).
    pub async fn flush_statuses(&self) -> Result<usize> {
        let dirty = self.hub.take_dirty();
        if dirty.is_empty() {
            return Ok(0);
        }
        let mut rows: Vec<(Uuid, ConnectorStatus, DateTime<Utc>)> = dirty.iter().map(|(id, r)| (*id, r.status, r.observed_at)).collect();
        // One lock order for every flush, so two flushes never deadlock each other.
        rows.sort_by_key(|r| r.0);
        let written = async {
            let mut tx = self.db.begin().await?;
            repo::save_statuses(&mut tx, &rows).await?;
            tx.commit().await.map_err(store::Error::from)?;
            Ok::<_, Error>(())
        }
        .await;
        if let Err(e) = written {
            // Not written: the next flush tries these again (the hub still has them).
            self.hub.mark_dirty(rows.iter().map(|r| r.0));
            return Err(e);
        }
        Ok(rows.len())
    }
}

/// A made-up station of ours with a 120 kW DC and a 7 kW AC connector, for benchmarks and tests
/// of search (never stored by the application itself).
pub fn synthetic_station(external_id: &str, lat: f64, lng: f64, at: DateTime<Utc>) -> (StationRow, Vec<ConnectorRow>) {
    let id = Uuid::now_v7();
    let station = StationRow {
        id,
        partner_id: None,
        external_id: external_id.to_owned(),
        name: format!("基准站 {external_id}"),
        address: String::new(),
        area_code: "440300".into(),
        lat,
        lng,
        station_type: StationType::Public,
        station_status: StationStatus::Operating,
        service_tel: String::new(),
        business_hours: None,
        tariff: serde_json::Value::Null,
        public: true,
        detail: serde_json::Value::Null,
        updated_at: at,
    };
    let connectors = (0..2)
        .map(|n| ConnectorRow {
            id: Uuid::now_v7(),
            station_id: id,
            equipment_id: id,
            external_id: format!("{external_id}{n}"),
            connector_type: if n == 0 { ConnectorType::DcCable } else { ConnectorType::AcCable },
            power_kw: if n == 0 { "120".into() } else { "7".into() },
            ocpp_connector: None,
            status: ConnectorStatus::Available,
            status_at: None,
            detail: serde_json::Value::Null,
        })
        .collect();
    (station, connectors)
}

/// Stores one validated station of a partner with its piles and connectors (upserted by the
/// partner's own identifiers, inside the caller's transaction) and returns the rows to index.
/// Every way a partner's catalog reaches us (a T/CEC pull, the REST API) goes through here, so
/// they cannot drift apart in how a station is kept. `position` is WGS-84; `tariff` is the JSON
/// of a [`Tariff`] or null when the partner gave no prices.
pub(crate) async fn store_station(
    tx: &mut store::Conn,
    partner_id: Uuid,
    station: &Station,
    position: domain::geo::Coordinate,
    tariff: serde_json::Value,
    at: DateTime<Utc>,
) -> Result<(StationRow, Vec<ConnectorRow>)> {
    let row = StationRow {
        id: Uuid::now_v7(),
        partner_id: Some(partner_id),
        external_id: station.external_id.clone(),
        name: station.name.clone(),
        address: station.address.clone(),
        area_code: station.area_code.clone(),
        lat: position.lat(),
        lng: position.lng(),
        station_type: station.station_type,
        station_status: station.status,
        service_tel: station.service_tel.clone(),
        business_hours: station.business_hours.clone(),
        tariff,
        public: true,
        detail: station.detail.clone(),
        updated_at: at,
    };
    let station_id = repo::upsert_station(tx, &row).await?;
    let mut connectors = Vec::new();
    for e in &station.equipment {
        let equipment_id = repo::upsert_equipment(
            tx,
            &EquipmentRow {
                id: Uuid::now_v7(),
                station_id,
                external_id: e.external_id.clone(),
                equipment_type: e.equipment_type,
                power_kw: e.power_kw.to_string(),
                detail: serde_json::Value::Null,
                ocpp_id: None,
            },
        )
        .await?;
        for c in &e.connectors {
            let mut connector = ConnectorRow {
                id: Uuid::now_v7(),
                station_id,
                equipment_id,
                external_id: c.external_id.clone(),
                connector_type: c.connector_type,
                power_kw: c.power_kw.to_string(),
                ocpp_connector: None,
                status: ConnectorStatus::Offline,
                status_at: None,
                detail: c.detail.clone(),
            };
            connector.id = repo::upsert_connector(tx, &connector).await?;
            connectors.push(connector);
        }
    }
    Ok((StationRow { id: station_id, ..row }, connectors))
}

pub(crate) fn gateway_error(e: GatewayError) -> Error {
    match e {
        GatewayError::NoAnswer(m) => {
            Error::Unavailable { message: format!("the partner did not answer: {m}"), message_zh: "合作方未响应，请稍后重试".into() }
        }
        GatewayError::Refused(m) => Error::Unavailable { message: format!("the partner refused: {m}"), message_zh: "合作方拒绝了请求".into() },
        GatewayError::NotConfigured(m) => {
            Error::Unavailable { message: format!("the partner is not reachable: {m}"), message_zh: "尚未配置合作方接口".into() }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{MasterKey, Settings, SystemClock};

    /// Pages put together are exactly the full result, nearest first, whatever the page size;
    /// filters agree with a plain scan.
    #[tokio::test]
    async fn pages_are_the_nearest_first_list_cut_up() {
        let db = store::Db::connect("sqlite::memory:").await.unwrap();
        let services = Services::new(db, MasterKey::from_bytes(&MasterKey::generate()), Arc::new(SystemClock), Settings::default());
        let now = services.now();
        let mut free_dc = 0;
        for i in 0..300 {
            let (row, connectors) = synthetic_station(&format!("S{i}"), 22.50 + (i / 20) as f64 * 0.003, 114.00 + (i % 20) as f64 * 0.003, now);
            services.index_station(&row, &connectors);
            // Every third station's DC connector is free; the rest are charging.
            for (n, c) in connectors.iter().enumerate() {
                let free = n == 0 && i % 3 == 0;
                free_dc += usize::from(free);
                services.hub.apply(c.id, if free { ConnectorStatus::Available } else { ConnectorStatus::Charging }, now);
            }
        }
        let (lat, lng) = (22.52, 114.03);
        let expected = services.catalog.read().geo.nearby(lat, lng, 50_000.0, |_, _| true);
        assert_eq!(expected.len(), 300);
        for per_page in [1, 7, 20, 300, 1_000] {
            let mut seen = Vec::new();
            let mut offset = 0;
            loop {
                let found = services.nearby(lat, lng, 50_000.0, &NearbyFilter::default(), offset, per_page);
                let page = found.items;
                if found.total_exact {
                    assert_eq!(found.total, 300);
                } else {
                    assert!(found.total >= offset + page.len(), "{} < {offset} + {}", found.total, page.len());
                }
                if page.is_empty() {
                    break;
                }
                seen.extend(page.iter().map(|s| (s.station.id, s.distance_m)));
                offset += per_page;
            }
            assert_eq!(seen, expected, "pages of {per_page}");
        }
        let free = NearbyFilter { free_now: true, dc_only: true, ..Default::default() };
        let found = services.nearby(lat, lng, 50_000.0, &free, 0, 500);
        let page = found.items;
        assert_eq!((found.total, found.total_exact, page.len()), (free_dc, true, free_dc));
        assert!(page.iter().all(|s| s.free_connectors == 1 && s.statuses == [ConnectorStatus::Available]));
        let ac_free = NearbyFilter { free_now: true, min_power_kw: Some(Decimal::from(7)), dc_only: false, max_price: None };
        assert_eq!(services.nearby(lat, lng, 50_000.0, &ac_free, 0, 500).total, free_dc, "the free DC connector passes 7 kW");
        let fast_ac = NearbyFilter { free_now: true, min_power_kw: Some(Decimal::from(121)), ..Default::default() };
        assert_eq!(services.nearby(lat, lng, 50_000.0, &fast_ac, 0, 10).total, 0);
    }

    /// Each connector's status as search reads it (by the slot kept beside its station), next to
    /// its id; read under the view, compared outside it.
    fn statuses_by_slot(services: &Services, now: DateTime<Utc>) -> Vec<(Uuid, ConnectorStatus)> {
        let cache = services.catalog.read();
        services.hub.with_view(now, |view| {
            let mut out = Vec::new();
            for (id, facts) in cache.geo.entries() {
                let station = cache.summary(id).expect("every indexed station has a summary");
                assert_eq!(facts.connectors.len(), station.connectors.len());
                out.extend(station.connectors.iter().zip(facts.connectors.iter()).map(|(c, f)| (c.id, view.status(f.slot))));
            }
            out
        })
    }

    fn assert_agrees_with_hub(services: &Services, now: DateTime<Utc>, connectors: usize) {
        let read = statuses_by_slot(services, now);
        assert_eq!(read.len(), connectors);
        for (connector, status) in read {
            assert_eq!(status, services.hub.effective(connector, now), "connector {connector}");
        }
        // Search itself runs at the services' clock.
        let free_stations = {
            let cache = services.catalog.read();
            let at = services.now();
            cache.stations.values().filter(|s| s.connectors.iter().any(|c| services.hub.effective(c.id, at).is_free())).count()
        };
        let free = NearbyFilter { free_now: true, ..Default::default() };
        assert_eq!(services.nearby(22.52, 114.03, 50_000.0, &free, 0, 10_000).total, free_stations);
    }

    /// Search reads statuses by slot, not from the hub's id map; both must say the same after
    /// pushes, after a re-sync that changes a station's connectors, after a station leaves (its
    /// slots go to newcomers without its readings) and once readings go stale.
    #[tokio::test]
    async fn search_reads_the_hubs_statuses() {
        let db = store::Db::connect("sqlite::memory:").await.unwrap();
        let services = Services::new(db, MasterKey::from_bytes(&MasterKey::generate()), Arc::new(SystemClock), Settings::default());
        let now = services.now();
        let mut stations = Vec::new();
        for i in 0..30 {
            let (row, connectors) = synthetic_station(&format!("S{i}"), 22.50 + (i / 6) as f64 * 0.003, 114.00 + (i % 6) as f64 * 0.003, now);
            services.index_station(&row, &connectors);
            stations.push((row, connectors));
        }
        // Free, charging, never heard of, and free but too long ago.
        for (i, (_, connectors)) in stations.iter().enumerate() {
            match i % 4 {
                0 => services.hub.apply(connectors[0].id, ConnectorStatus::Available, now),
                1 => services.hub.apply(connectors[1].id, ConnectorStatus::Charging, now),
                2 => false,
                _ => services.hub.apply(connectors[0].id, ConnectorStatus::Available, now - services.hub.freshness - chrono::Duration::seconds(1)),
            };
        }
        assert_agrees_with_hub(&services, now, 60);
        assert_eq!(services.nearby(22.52, 114.03, 50_000.0, &NearbyFilter { free_now: true, ..Default::default() }, 0, 10_000).total, 8);

        // A connector goes charging, another comes free.
        services.hub.apply(stations[0].1[0].id, ConnectorStatus::Charging, now);
        services.hub.apply(stations[2].1[1].id, ConnectorStatus::Available, now);
        assert_agrees_with_hub(&services, now, 60);

        // Re-synced: station 4 keeps its DC connector, loses the AC one and gains a new free one.
        let (row, connectors) = &stations[4];
        let (_, mut fresh) = synthetic_station("S4X", row.lat, row.lng, now);
        fresh.truncate(1);
        fresh[0].station_id = row.id;
        let resynced = vec![connectors[0].clone(), fresh[0].clone()];
        services.index_station(row, &resynced);
        services.hub.apply(fresh[0].id, ConnectorStatus::Available, now);
        assert_agrees_with_hub(&services, now, 60);

        // Station 8 (free) leaves; a newcomer takes its slots and is not free for it.
        assert!(services.unindex_station(stations[8].0.id));
        assert!(!services.unindex_station(stations[8].0.id), "already gone");
        assert_eq!(services.hub.effective(stations[8].1[0].id, now), ConnectorStatus::Unknown);
        let (row, connectors) = synthetic_station("NEW", 22.51, 114.01, now);
        services.index_station(&row, &connectors);
        assert_agrees_with_hub(&services, now, 60);
        let newcomer: Vec<ConnectorStatus> =
            statuses_by_slot(&services, now).into_iter().filter(|(c, _)| connectors.iter().any(|n| n.id == *c)).map(|(_, s)| s).collect();
        assert_eq!(newcomer, [ConnectorStatus::Unknown, ConnectorStatus::Unknown]);

        // Everything goes stale: nothing is free any more.
        let later = now + services.hub.freshness + chrono::Duration::seconds(1);
        assert_agrees_with_hub(&services, later, 60);
        assert!(statuses_by_slot(&services, later).iter().all(|(_, s)| *s == ConnectorStatus::Unknown));
    }
}
