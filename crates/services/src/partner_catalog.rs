//! Flow A pushed by the operator itself (the partner REST API): stations uploaded whole, retired,
//! and live connector status with the partner's own observation times.
//!
//! Stations are stored and indexed by the same code as a T/CEC 102 pull
//! ([`crate::catalog::store_station`]); what differs is that an upload *replaces* the station:
//! connectors the new version leaves out are retired, the ones it keeps keep their live status.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use domain::geo::Coordinate;
use domain::partner::{FieldError, Protocol};
use domain::station::{ConnectorStatus, Station};
use domain::tariff::Tariff;
use store::catalog::{ConnectorRow, StationRow};
use store::catalog_retire;
use uuid::Uuid;

use crate::catalog::store_station;
use crate::status_hub::Recorded;
use crate::{Error, Result, Services};

/// How far ahead of our clock a reading's time may be: senders' clocks drift a little, but a
/// reading dated hours ahead would block every honest reading until then (an older reading never
/// replaces a newer one), so it is refused.
pub const MAX_STATUS_CLOCK_SKEW: Duration = Duration::minutes(5);

/// One item of a batch: its value, or every field at fault.
pub type ItemResult<T> = std::result::Result<T, Vec<FieldError>>;

/// A station as uploaded, already parsed: coordinates converted to WGS-84, prices validated.
#[derive(Debug, Clone)]
pub struct StationUpload {
    pub station: Station,
    pub position: Coordinate,
    pub tariff: Option<Tariff>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadOutcome {
    /// The partner had no station in service with this identifier.
    Created,
    /// It had one; the upload replaced it.
    Updated,
}

/// A stored station: our id for it and whether it was new.
#[derive(Debug, Clone, Copy)]
pub struct Uploaded {
    pub id: Uuid,
    pub outcome: UploadOutcome,
}

/// What became of one status reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusOutcome {
    /// Recorded (whether or not the status itself changed).
    Applied,
    /// We hold a reading observed later; this one changed nothing.
    Stale,
    /// The partner has no connector in service with this identifier.
    NotFound,
    /// Dated further ahead of our clock than [`MAX_STATUS_CLOCK_SKEW`].
    InFuture,
}

/// `piles[i].connectors[j].id` for the connector at that place in an upload.
fn connector_field(station: &Station, external_id: &str) -> String {
    for (i, pile) in station.equipment.iter().enumerate() {
        if let Some(j) = pile.connectors.iter().position(|c| c.external_id == external_id) {
            return format!("piles[{i}].connectors[{j}].id");
        }
    }
    "piles".into()
}

/// One upload or retirement of a partner's catalog at a time (per instance): the connector-id
/// check reads the in-memory catalog, which an upload updates only after it is stored, so two
/// uploads checked side by side could both claim one connector id.
#[derive(Default)]
pub(crate) struct UploadLocks(parking_lot::Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>);

impl UploadLocks {
    async fn lock(&self, partner_id: Uuid) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = self.0.lock().entry(partner_id).or_default().clone();
        lock.lock_owned().await
    }
}

impl Services {
    /// The partner, if it is an approved operator integrating over our REST API. An operator whose
    /// catalog we pull over T/CEC 102 may not upload or retire here: the next pull would undo it.
    async fn uploading_operator(&self, partner_id: Uuid) -> Result<domain::partner::Partner> {
        let partner = self.approved_operator(partner_id).await?;
        let protocol = partner.application.protocol;
        if protocol != Protocol::RestApi {
            return Err(Error::forbidden(
                format!("stations are uploaded here by partners integrating over rest_api; this partner's catalog comes over {}", protocol.as_str()),
                format!("仅以 rest_api 对接的合作商可在此上传充电站；该合作商的站点经 {} 同步", protocol.as_str()),
            ));
        }
        Ok(partner)
    }

    /// Stores a partner's uploaded stations in one transaction: each item either stored or
    /// refused with the fields at fault (the others are stored all the same). A connector
    /// identifier names one connector of the partner (status pushes address it alone), so an
    /// upload that reuses one of another station of the partner, or the same one twice, is
    /// refused for that station; so is a station identifier given twice in one call (only the
    /// first is stored).
    pub async fn upload_partner_stations(&self, partner_id: Uuid, uploads: &[StationUpload]) -> Result<Vec<ItemResult<Uploaded>>> {
        let partner = self.uploading_operator(partner_id).await?;
        let _one_at_a_time = self.catalog_uploads.lock(partner_id).await;
        let checked = self.check_identifiers(partner.id, uploads);
        let user_pricing = self.partner_terms(partner_id).await?.user_pricing;
        self.catalog.write().user_pricing.insert(partner_id, user_pricing);
        let at = self.now();
        let accepted: Vec<&StationUpload> = uploads.iter().zip(&checked).filter(|(_, c)| c.is_ok()).map(|(u, _)| u).collect();
        let stored = self.db.retry("partner station upload", || self.write_uploads(partner_id, &accepted, at)).await?;
        let mut stored = stored.into_iter();
        let mut results = Vec::with_capacity(uploads.len());
        for check in checked {
            match check {
                Err(errors) => results.push(Err(errors)),
                Ok(()) => {
                    let (row, connectors, outcome) = stored.next().ok_or_else(|| Error::Internal("an upload went missing".into()))?;
                    self.reindex_station(&row, &connectors);
                    results.push(Ok(Uploaded { id: row.id, outcome }));
                }
            }
        }
        Ok(results)
    }

    /// Identifier rules that need the whole catalog: see [`Services::upload_partner_stations`].
    fn check_identifiers(&self, partner_id: Uuid, uploads: &[StationUpload]) -> Vec<ItemResult<()>> {
        let cache = self.catalog.read();
        let mut stations_seen: HashMap<&str, usize> = HashMap::new();
        let mut connectors_seen: HashMap<&str, &str> = HashMap::new();
        uploads
            .iter()
            .enumerate()
            .map(|(index, upload)| {
                let station = &upload.station;
                if let Some(first) = stations_seen.get(station.external_id.as_str()) {
                    return Err(vec![FieldError::new(
                        "id",
                        format!("station {} is already item {first} of this call", station.external_id),
                        format!("充电站 {} 与本次第 {first} 项重复", station.external_id),
                    )]);
                }
                stations_seen.insert(&station.external_id, index);
                let mut errors = Vec::new();
                for c in station.equipment.iter().flat_map(|e| &e.connectors) {
                    let indexed_elsewhere = self
                        .by_external_in(&cache, partner_id, &c.external_id)
                        .and_then(|s| cache.summary(s))
                        .is_some_and(|s| s.external_id != station.external_id);
                    let earlier_item = connectors_seen.get(c.external_id.as_str()).is_some_and(|s| *s != station.external_id);
                    if indexed_elsewhere || earlier_item {
                        errors.push(FieldError::new(
                            connector_field(station, &c.external_id),
                            format!("connector {} already belongs to another of your stations; connector ids are unique per partner", c.external_id),
                            format!("充电枪编号 {} 已属于贵方另一个充电站；充电枪编号在合作方内须唯一", c.external_id),
                        ));
                    }
                }
                if errors.is_empty() {
                    for c in station.equipment.iter().flat_map(|e| &e.connectors) {
                        connectors_seen.insert(&c.external_id, &station.external_id);
                    }
                    Ok(())
                } else {
                    Err(errors)
                }
            })
            .collect()
    }

    fn by_external_in(&self, cache: &crate::catalog::CatalogCache, partner_id: Uuid, connector: &str) -> Option<Uuid> {
        cache.station_of(self.connector_in(cache, partner_id, connector)?)
    }

    /// The write half of an upload: every accepted station, with its retired connectors.
    async fn write_uploads(
        &self,
        partner_id: Uuid,
        uploads: &[&StationUpload],
        at: DateTime<Utc>,
    ) -> Result<Vec<(StationRow, Vec<ConnectorRow>, UploadOutcome)>> {
        let mut tx = self.db.begin().await?;
        let mut stored = Vec::with_capacity(uploads.len());
        for upload in uploads {
            let existed = catalog_retire::live_station_id(&mut tx, partner_id, &upload.station.external_id).await?.is_some();
            let tariff = upload.tariff.as_ref().map_or(serde_json::Value::Null, |t| serde_json::to_value(t).unwrap_or_default());
            let (row, connectors) = store_station(&mut tx, partner_id, &upload.station, upload.position, tariff, at).await?;
            // A station not in service has no connectors in service either.
            if existed {
                let keep: Vec<Uuid> = connectors.iter().map(|c| c.id).collect();
                catalog_retire::retire_connectors_except(&mut tx, row.id, &keep, at).await?;
            }
            stored.push((row, connectors, if existed { UploadOutcome::Updated } else { UploadOutcome::Created }));
        }
        tx.commit().await.map_err(store::Error::from)?;
        Ok(stored)
    }

    /// Takes a partner's station out of service: gone from search and from the status hub at
    /// once. Not found unless the partner has it in service (another partner's identifier
    /// finds nothing and changes nothing).
    pub async fn retire_partner_station(&self, partner_id: Uuid, external_id: &str) -> Result<()> {
        self.uploading_operator(partner_id).await?;
        let _one_at_a_time = self.catalog_uploads.lock(partner_id).await;
        let at = self.now();
        let station_id = self
            .db
            .retry("partner station retire", || async {
                let mut tx = self.db.begin().await?;
                let Some(id) = catalog_retire::live_station_id(&mut tx, partner_id, external_id).await? else { return Ok(None) };
                catalog_retire::retire_station(&mut tx, id, at).await?;
                tx.commit().await.map_err(store::Error::from)?;
                Ok::<_, Error>(Some(id))
            })
            .await?
            .ok_or(Error::not_found("station"))?;
        self.unindex_station(station_id);
        Ok(())
    }

    /// Applies status readings a partner observed at the times it gives. Only the partner's
    /// own connectors are reachable; a reading older than the one we hold changes nothing
    /// (readings arrive late and out of order), and one dated too far ahead is refused. The
    /// store follows through the hub's write-behind, as for every other status source.
    pub fn report_partner_statuses(&self, partner_id: Uuid, readings: &[(&str, ConnectorStatus, DateTime<Utc>)]) -> Vec<StatusOutcome> {
        let latest = self.now() + MAX_STATUS_CLOCK_SKEW;
        let cache = self.catalog.read();
        readings
            .iter()
            .map(|(connector, status, at)| {
                if *at > latest {
                    return StatusOutcome::InFuture;
                }
                let Some(id) = self.connector_in(&cache, partner_id, connector) else { return StatusOutcome::NotFound };
                match self.hub.record(id, *status, *at) {
                    Recorded::Changed | Recorded::Unchanged => StatusOutcome::Applied,
                    Recorded::Stale => StatusOutcome::Stale,
                    Recorded::UnknownConnector => StatusOutcome::NotFound,
                }
            })
            .collect()
    }

    fn connector_in(&self, cache: &crate::catalog::CatalogCache, partner_id: Uuid, connector: &str) -> Option<Uuid> {
        cache.connector_by_external(Some(partner_id), connector)
    }
}
