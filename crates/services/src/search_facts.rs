//! What nearby search filters by, kept beside each station in its geo cell.
//!
//! With 100,000 stations a 5 km query has a couple of thousand candidates. Looking each one up
//! in a `HashMap<Uuid, _>` (the station, then every connector's status) costs cache misses per
//! candidate and dominated the query; with the facts inline the filter touches the cell it scans
//! and one slot per connector in the status hub's dense array.

use domain::station::ConnectorStatus;
use rust_decimal::Decimal;

use crate::catalog::StationSummary;
use crate::status_hub::{ConnectorSlot, StatusView};

/// One connector as search sees it. Its live status stays in the status hub; only the slot to
/// read it from is kept here.
#[derive(Debug, Clone, Copy)]
pub struct ConnectorFacts {
    pub slot: ConnectorSlot,
    pub power_kw: Decimal,
    /// DC fast charging.
    pub dc: bool,
}

/// A station's connectors, in the order of its summary.
#[derive(Debug, Clone, Default)]
pub struct StationFacts {
    pub connectors: Box<[ConnectorFacts]>,
}

impl StationFacts {
    /// `slots` are the hub slots of `summary`'s connectors, in the same order.
    pub fn new(summary: &StationSummary, slots: &[ConnectorSlot]) -> Self {
        debug_assert_eq!(summary.connectors.len(), slots.len());
        let connectors = summary.connectors.iter().zip(slots).map(|(c, &slot)| ConnectorFacts { slot, power_kw: c.power_kw, dc: c.dc }).collect();
        Self { connectors }
    }

    /// The connectors that `wanted` accepts, with their status now.
    pub fn statuses<'a>(&'a self, view: &'a StatusView<'_>, wanted: impl Fn(&ConnectorFacts) -> bool + 'a) -> impl Iterator<Item = ConnectorStatus> + 'a {
        self.connectors.iter().filter(move |c| wanted(c)).map(|c| view.status(c.slot))
    }
}
