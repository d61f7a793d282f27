//! Status push subscriptions (flow B): every status change of one of our connectors is queued,
//! through the outbox, for each platform partner that may see its station and can receive
//! pushes — keyed by connector, so each partner sees a connector's changes in order.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use domain::partner::{Protocol, ReviewState};
use domain::station::ConnectorStatus;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use store::catalog::{self as repo, ConnectorRow};
use uuid::Uuid;

use crate::{Result, Services};

/// Outbox kind of a connector status push.
pub const CONNECTOR_STATUS: &str = "station.connector_status";

/// How long the subscriber list is reused before it is read again: approvals and new
/// endpoints take effect within this time.
const SUBSCRIBERS_TTL: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorNotice {
    /// Our connector's and station's public ids.
    pub connector: String,
    pub station: String,
    pub status: ConnectorStatus,
    pub at: DateTime<Utc>,
}

/// The cached subscriber list.
#[derive(Default)]
pub struct Subscribers(Mutex<Option<(Instant, Vec<Uuid>)>>);

impl Services {
    /// Approved platform partners that have somewhere to receive pushes: a registered T/CEC 102
    /// endpoint, or (REST API partners) their webhook.
    async fn status_subscribers(&self) -> Result<Vec<Uuid>> {
        if let Some((at, ids)) = self.subscribers.0.lock().as_ref()
            && at.elapsed() < SUBSCRIBERS_TTL
        {
            return Ok(ids.clone());
        }
        let page = store::PageRequest { page: 1, per_page: 10_000 };
        let filter = store::partners::PartnerFilter { state: Some(ReviewState::Approved), ..Default::default() };
        let mut ids = Vec::new();
        for p in self.list_partners(&filter, page).await?.items.into_iter().filter(|p| p.application.roles.is_platform()) {
            let reachable = match p.application.protocol {
                Protocol::Cec102 => self.cec_received_for_partner(p.id).await?.is_some(),
                Protocol::RestApi => true,
                Protocol::Ocpi221 => false,
            };
            if reachable {
                ids.push(p.id);
            }
        }
        *self.subscribers.0.lock() = Some((Instant::now(), ids.clone()));
        Ok(ids)
    }

    /// Queues the change of `connector` for every subscriber that may see its station.
    pub(crate) async fn push_connector_status(&self, connector: &ConnectorRow, status: ConnectorStatus, at: DateTime<Utc>) -> Result<usize> {
        let subscribers = self.status_subscribers().await?;
        if subscribers.is_empty() {
            return Ok(0);
        }
        self.db.retry("status notices", || self.queue_connector_status(connector, status, at, &subscribers)).await
    }

    async fn queue_connector_status(&self, connector: &ConnectorRow, status: ConnectorStatus, at: DateTime<Utc>, subscribers: &[Uuid]) -> Result<usize> {
        let mut tx = self.db.begin().await?;
        let Some(station) = repo::station(&mut tx, connector.station_id).await? else { return Ok(0) };
        let notice = ConnectorNotice { connector: connector.external_id.clone(), station: station.external_id.clone(), status, at };
        let payload = serde_json::to_value(&notice).map_err(|e| crate::Error::Internal(e.to_string()))?;
        let now = self.now();
        let mut queued = 0;
        // One read of who else may see it, not one per subscriber.
        let granted = if station.public { Default::default() } else { repo::granted_partners(&mut tx, station.id).await? };
        for &partner in subscribers {
            if station.public || granted.contains(&partner) {
                store::outbox::enqueue(&mut tx, partner, CONNECTOR_STATUS, &connector.external_id, &payload, now).await?;
                queued += 1;
            }
        }
        tx.commit().await.map_err(store::Error::from)?;
        self.waker.wake();
        Ok(queued)
    }
}
