//! The full price refresh of a flow-A partner (daily, and on an admin's request).
//!
//! A catalog sync asks for prices only of the stations it returns, and an incremental sync
//! returns only stations the partner changed; a partner that changes its prices without touching
//! its stations would go unnoticed. The refresh asks again for every station we hold of the
//! partner, stores the prices that changed and shows them at once. A station whose prices cannot
//! be had keeps the last known.

use std::collections::HashMap;

use domain::tariff::Tariff;
use serde::Serialize;
use uuid::Uuid;

use crate::prices::PriceAsk;
use crate::{Error, Result, Services};

/// A station as the refresh finds it: our id and the prices we show now.
type Known = (Uuid, Option<Tariff>);

/// What one refresh found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PriceRefreshReport {
    /// The partner's stations in our catalog.
    pub stations: usize,
    /// Stations whose prices the partner gave us now.
    pub priced: usize,
    /// Stations whose prices differ from what we showed; stored and shown from now on.
    pub changed: usize,
    /// Stations whose prices could not be had (the last known prices are kept).
    pub failed: usize,
}

impl Services {
    /// Asks an approved operator partner for the prices of all its stations again.
    pub async fn refresh_prices(&self, partner_id: Uuid) -> Result<PriceRefreshReport> {
        let gateway = self.operator_gateway.clone().ok_or_else(|| Error::Internal("no operator gateway configured".into()))?;
        let partner = self.approved_operator(partner_id).await?;
        // (StationID, ConnectorID) to ask by, and what we know now, by StationID.
        let (asks, known): (Vec<PriceAsk>, HashMap<String, Known>) = {
            let cache = self.catalog.read();
            let stations: Vec<_> = cache.stations_of(partner_id).filter(|s| !s.connectors.is_empty()).collect();
            (
                stations.iter().map(|s| (s.external_id.clone(), s.connectors[0].external_id.clone())).collect(),
                stations.iter().map(|s| (s.external_id.clone(), (s.id, s.tariff.clone()))).collect(),
            )
        };
        let fetched = self.fetch_prices(gateway.as_ref(), &partner, asks).await;
        let changed: Vec<(Uuid, Tariff)> = fetched
            .by_station
            .into_iter()
            .filter_map(|(external, tariff)| {
                let (id, before) = known.get(&external)?;
                (before.as_ref() != Some(&tariff)).then_some((*id, tariff))
            })
            .collect();
        if !changed.is_empty() {
            let mut tx = self.db.begin().await?;
            for (station, tariff) in &changed {
                store::catalog::set_station_tariff(&mut tx, *station, &serde_json::to_value(tariff).unwrap_or_default()).await?;
            }
            tx.commit().await.map_err(store::Error::from)?;
            let mut cache = self.catalog.write();
            for (station, tariff) in changed.iter().cloned() {
                cache.set_tariff(station, tariff);
            }
        }
        let report = PriceRefreshReport { stations: known.len(), priced: fetched.fetched, changed: changed.len(), failed: fetched.failed };
        tracing::info!(partner = %partner_id, stations = report.stations, priced = report.priced, changed = report.changed, failed = report.failed, "prices refreshed");
        Ok(report)
    }
}
