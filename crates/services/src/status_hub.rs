//! The status hub: the live status of every connector, in memory.
//!
//! Pushes and polls land here first (a map update and a broadcast to subscribers such as the
//! app's SSE streams), and a background task writes the latest status of changed connectors to
//! the store in batches (write-behind), so a burst of thousands of pushes per second costs one
//! transaction per batch, not one per push. A reading older than its freshness limit shows as
//! unknown, never as free.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, RwLock};

use chrono::{DateTime, Duration, Utc};
use domain::station::{ConnectorStatus, StatusReading};
use tokio::sync::broadcast;
use uuid::Uuid;

/// A connector's status changed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StatusChange {
    pub connector_id: Uuid,
    pub station_id: Uuid,
    pub status: ConnectorStatus,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    station_id: Uuid,
    reading: Option<StatusReading>,
}

pub struct StatusHub {
    entries: RwLock<HashMap<Uuid, Entry>>,
    dirty: Mutex<HashSet<Uuid>>,
    changes: broadcast::Sender<StatusChange>,
    /// How long a reading stays believable.
    pub freshness: Duration,
}

impl StatusHub {
    pub fn new(freshness: Duration) -> Self {
        Self { entries: RwLock::default(), dirty: Mutex::default(), changes: broadcast::channel(4096).0, freshness }
    }

    /// Makes a connector known (from the catalog), with its last stored reading if any.
    pub fn register(&self, connector_id: Uuid, station_id: Uuid, reading: Option<StatusReading>) {
        let mut entries = self.entries.write().expect("hub lock");
        let entry = entries.entry(connector_id).or_insert(Entry { station_id, reading: None });
        entry.station_id = station_id;
        if entry.reading.is_none_or(|r| reading.is_some_and(|new| new.observed_at > r.observed_at)) {
            entry.reading = reading.or(entry.reading);
        }
    }

    /// Records a status; older news than what we have is ignored (pushes can arrive out of
    /// order). Returns whether it changed anything.
    pub fn apply(&self, connector_id: Uuid, status: ConnectorStatus, at: DateTime<Utc>) -> bool {
        let change = {
            let mut entries = self.entries.write().expect("hub lock");
            let Some(entry) = entries.get_mut(&connector_id) else { return false };
            if entry.reading.is_some_and(|r| r.observed_at > at) {
                return false;
            }
            let changed = entry.reading.is_none_or(|r| r.status != status);
            entry.reading = Some(StatusReading { status, observed_at: at });
            changed.then_some(StatusChange { connector_id, station_id: entry.station_id, status, at })
        };
        self.dirty.lock().expect("dirty lock").insert(connector_id);
        match change {
            Some(change) => {
                let _ = self.changes.send(change);
                true
            }
            None => false,
        }
    }

    /// What to show now: stale or missing readings are `Unknown`.
    pub fn effective(&self, connector_id: Uuid, now: DateTime<Utc>) -> ConnectorStatus {
        let entries = self.entries.read().expect("hub lock");
        entries.get(&connector_id).and_then(|e| e.reading).map_or(ConnectorStatus::Unknown, |r| r.effective(now, self.freshness))
    }

    /// Runs `f` with a status lookup that holds the lock once, for queries over many connectors.
    pub fn with_effective<R>(&self, now: DateTime<Utc>, f: impl FnOnce(&dyn Fn(Uuid) -> ConnectorStatus) -> R) -> R {
        let entries = self.entries.read().expect("hub lock");
        let lookup = |id: Uuid| entries.get(&id).and_then(|e| e.reading).map_or(ConnectorStatus::Unknown, |r| r.effective(now, self.freshness));
        f(&lookup)
    }

    pub fn reading(&self, connector_id: Uuid) -> Option<StatusReading> {
        self.entries.read().expect("hub lock").get(&connector_id).and_then(|e| e.reading)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<StatusChange> {
        self.changes.subscribe()
    }

    pub fn len(&self) -> usize {
        self.entries.read().expect("hub lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Puts connectors back on the write-behind list (their write failed).
    pub fn mark_dirty(&self, ids: impl IntoIterator<Item = Uuid>) {
        self.dirty.lock().expect("dirty lock").extend(ids);
    }

    /// Takes the connectors changed since the last call, with their latest readings.
    pub fn take_dirty(&self) -> Vec<(Uuid, StatusReading)> {
        let ids: Vec<Uuid> = std::mem::take(&mut *self.dirty.lock().expect("dirty lock")).into_iter().collect();
        let entries = self.entries.read().expect("hub lock");
        ids.into_iter().filter_map(|id| entries.get(&id).and_then(|e| e.reading).map(|r| (id, r))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_wins_and_stale_is_unknown() {
        let hub = StatusHub::new(Duration::minutes(10));
        let (c, s) = (Uuid::now_v7(), Uuid::now_v7());
        hub.register(c, s, None);
        let mut rx = hub.subscribe();
        let t0 = Utc::now();
        assert!(hub.apply(c, ConnectorStatus::Available, t0));
        assert!(!hub.apply(c, ConnectorStatus::Charging, t0 - Duration::seconds(5)), "older news is ignored");
        assert_eq!(hub.effective(c, t0), ConnectorStatus::Available);
        assert_eq!(hub.effective(c, t0 + Duration::minutes(11)), ConnectorStatus::Unknown);
        assert!(!hub.apply(c, ConnectorStatus::Available, t0 + Duration::seconds(1)), "same status: no change event");
        assert_eq!(rx.try_recv().unwrap().status, ConnectorStatus::Available);
        assert!(rx.try_recv().is_err());
        assert_eq!(hub.take_dirty().len(), 1);
        assert!(hub.take_dirty().is_empty());
        assert!(!hub.apply(Uuid::now_v7(), ConnectorStatus::Available, t0), "unknown connectors are not invented");
    }
}
