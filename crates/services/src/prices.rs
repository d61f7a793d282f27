//! Station prices in flow A: pulled from the operator during catalog sync, shown to our users
//! as what they will pay (the partner's price under our user pricing), and searched by.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::partner::Partner;
use domain::station::Station;
use domain::tariff::{Tariff, TariffPeriod};
use futures::StreamExt;
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use crate::Services;
use crate::catalog::{CatalogCache, StationSummary};
use crate::ports::OperatorGateway;

/// Price queries in flight at once during a sync: enough to pull 1,000 stations' prices in
/// seconds, few enough not to look like an attack on the partner.
const PRICE_QUERIES_IN_FLIGHT: usize = 8;

/// One price period as our user pays it, yuan per kWh.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PeriodPrice {
    /// Start of the period, Beijing time `HHMMSS`.
    pub start: String,
    #[schema(value_type = String, example = "0.8000")]
    pub elec_price: Decimal,
    #[schema(value_type = String, example = "0.4000")]
    pub service_price: Decimal,
    #[schema(value_type = String, example = "1.2000")]
    pub total_price: Decimal,
}

impl From<&TariffPeriod> for PeriodPrice {
    fn from(p: &TariffPeriod) -> Self {
        Self { start: p.start.hhmmss(), elec_price: p.elec_price.value(), service_price: p.service_price.value(), total_price: p.total_price().value() }
    }
}

/// The price in force now and until when it holds.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PriceNow {
    #[serde(flatten)]
    pub period: PeriodPrice,
    /// When the next price period begins (UTC).
    pub until: DateTime<Utc>,
}

impl PriceNow {
    pub fn total_price(&self) -> Decimal {
        self.period.total_price
    }
}

/// A price query: the partner's StationID and the ConnectorID its prices are asked by.
pub(crate) type PriceAsk = (String, String);

/// The prices a sync pulled, by the partner's StationID.
#[derive(Debug, Default)]
pub struct FetchedTariffs {
    pub by_station: HashMap<String, Tariff>,
    pub fetched: usize,
    pub failed: usize,
}

/// The station's tariff as our user pays it: the owner's prices under the owner's user pricing
/// (our own stations are shown as they are).
fn user_tariff<'a>(cache: &CatalogCache, station: &'a StationSummary) -> Option<(&'a Tariff, domain::settlement::UserPricing)> {
    let tariff = station.tariff.as_ref()?;
    let pricing = station.partner_id.and_then(|p| cache.user_pricing.get(&p).copied()).unwrap_or_default();
    Some((tariff, pricing))
}

/// What our user pays per kWh at `station` at `now`.
pub(crate) fn user_price(cache: &CatalogCache, station: &StationSummary, now: DateTime<Utc>) -> Option<PriceNow> {
    let (tariff, pricing) = user_tariff(cache, station)?;
    Some(price_now(tariff, pricing, now))
}

fn price_now(tariff: &Tariff, pricing: domain::settlement::UserPricing, now: DateTime<Utc>) -> PriceNow {
    let (period, until) = tariff.current(now);
    PriceNow { period: PeriodPrice::from(&pricing.period(period)), until }
}

impl Services {
    /// The price now and the whole day's periods our user pays at a station.
    pub fn station_prices(&self, station_id: Uuid) -> Option<(PriceNow, Vec<PeriodPrice>)> {
        let cache = self.catalog.read();
        let (tariff, pricing) = user_tariff(&cache, cache.summary(station_id)?)?;
        Some((price_now(tariff, pricing, self.now()), tariff.periods().iter().map(|p| PeriodPrice::from(&pricing.period(p))).collect()))
    }

    /// Keeps the in-memory copy of a partner's user pricing in step with its terms.
    pub(crate) fn remember_user_pricing(&self, partner_id: Uuid, pricing: domain::settlement::UserPricing) {
        self.catalog.write().user_pricing.insert(partner_id, pricing);
    }

    /// Asks the partner for each station's prices (`query_equip_business_policy`, which the
    /// standard asks per connector: the station's first connector stands for the station). A
    /// station whose prices cannot be had keeps the prices we already know.
    pub(crate) async fn fetch_tariffs(&self, gateway: &dyn OperatorGateway, partner: &Partner, remote: &[Station]) -> FetchedTariffs {
        // Collected first: a stream over a borrowing iterator would not be `Send` for the
        // workers' spawned tasks.
        let asks: Vec<PriceAsk> =
            remote.iter().filter_map(|s| Some((s.external_id.clone(), s.equipment.iter().flat_map(|e| &e.connectors).next()?.external_id.clone()))).collect();
        self.fetch_prices(gateway, partner, asks).await
    }

    /// Asks for the prices of each (station, connector) pair, [`PRICE_QUERIES_IN_FLIGHT`] at a
    /// time; shared by the catalog sync and the daily price refresh.
    pub(crate) async fn fetch_prices(&self, gateway: &dyn OperatorGateway, partner: &Partner, asks: Vec<PriceAsk>) -> FetchedTariffs {
        let answers: Vec<_> = futures::stream::iter(asks)
            .map(|(station, connector)| async move {
                let answer = gateway.tariff(partner, &connector).await;
                (station, connector, answer)
            })
            .buffer_unordered(PRICE_QUERIES_IN_FLIGHT)
            .collect()
            .await;
        let mut out = FetchedTariffs::default();
        for (station, connector, answer) in answers {
            match answer {
                Ok(Some(tariff)) => {
                    out.fetched += 1;
                    out.by_station.insert(station, tariff);
                }
                Ok(None) | Err(_) => {
                    if let Err(e) = &answer {
                        tracing::warn!(partner = %partner.id, %station, error = %e, "station prices not fetched; keeping the last known");
                    }
                    out.failed += 1;
                    let known = self.connector_by_external(Some(partner.id), &connector).and_then(|(_, s)| self.catalog.read().summary(s)?.tariff.clone());
                    if let Some(tariff) = known {
                        out.by_station.insert(station, tariff);
                    }
                }
            }
        }
        out
    }
}
