//! Flow B: the live status of many of our connectors at once, for a platform partner that pulls
//! rather than subscribes. Connectors it may not see read exactly like ones that do not exist.

use std::collections::HashMap;

use domain::station::ConnectorStatus;
use uuid::Uuid;

use crate::{Result, Services};

/// One asked-for connector: where it is and how it is, if the partner may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenConnector {
    pub station_external: String,
    pub status: ConnectorStatus,
}

impl Services {
    /// The status of each of `ids` (our public connector ids), in the order asked.
    pub async fn partner_connector_statuses(&self, partner_id: Uuid, ids: &[String]) -> Result<Vec<(String, Option<SeenConnector>)>> {
        self.require_platform(partner_id).await?;
        let now = self.now();
        let mut conn = self.db.acquire().await?;
        // Visibility is a station's: read once per station however many connectors it has.
        let mut stations: HashMap<Uuid, Option<String>> = HashMap::new();
        let mut seen = Vec::with_capacity(ids.len());
        for id in ids {
            let Some((connector_id, station_id)) = self.connector_by_external(None, id) else {
                seen.push((id.clone(), None));
                continue;
            };
            let station = match stations.get(&station_id) {
                Some(known) => known.clone(),
                None => {
                    let row = store::catalog::station(&mut conn, station_id).await?;
                    let visible = match &row {
                        Some(s) if s.partner_id.is_none() => s.public || store::catalog::is_visible(&mut conn, s.id, partner_id).await?,
                        _ => false,
                    };
                    let external = row.filter(|_| visible).map(|s| s.external_id);
                    stations.insert(station_id, external.clone());
                    external
                }
            };
            let status = station.map(|station_external| SeenConnector { station_external, status: self.hub.effective(connector_id, now) });
            seen.push((id.clone(), status));
        }
        Ok(seen)
    }
}
