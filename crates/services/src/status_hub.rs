//! The status hub: the live status of every connector, in memory.
//!
//! Pushes and polls land here first (a slot update and a broadcast to subscribers such as the
//! app's SSE streams), and a background task writes the latest status of changed connectors to
//! the store in batches (write-behind), so a burst of thousands of pushes per second costs one
//! transaction per batch, not one per push. A reading older than its freshness limit shows as
//! unknown, never as free.
//!
//! Each registered connector gets a dense [`ConnectorSlot`]: its reading lives at that index of
//! one `Vec`. The hub is the only place a status is stored; search keeps the slots of a
//! station's connectors beside the station (see [`crate::search_facts`]) and reads them through
//! a [`StatusView`], so "free now" over thousands of candidates is array reads, not a hash
//! probe per connector that misses the cache.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use domain::station::{ConnectorStatus, StatusReading};
use parking_lot::{Mutex, RwLock};
use tokio::sync::broadcast;
use uuid::Uuid;

/// A connector's dense number in the hub, stable while it stays registered. A slot freed by
/// [`StatusHub::forget`] may be given to another connector later, so whoever keeps a slot must
/// drop it when the connector goes (the catalog does both under its write lock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectorSlot(u32);

/// A connector's status changed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StatusChange {
    pub connector_id: Uuid,
    pub station_id: Uuid,
    pub status: ConnectorStatus,
    pub at: DateTime<Utc>,
}

/// What became of a reading offered to the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Kept, and the status differs from the last one.
    Changed,
    /// Kept (its time is the newest), the status is the one we had.
    Unchanged,
    /// We already hold a reading observed later: this one is dropped.
    Stale,
    /// No such connector in the hub (its station is not in the catalog).
    UnknownConnector,
}

/// The slots: readings and stations by slot, and the way from a connector id to its slot.
#[derive(Debug, Default)]
struct Slots {
    by_connector: HashMap<Uuid, ConnectorSlot>,
    readings: Vec<Option<StatusReading>>,
    /// The station of the connector in each slot (named in change events); `None` when freed.
    stations: Vec<Option<Uuid>>,
    free: Vec<ConnectorSlot>,
}

impl Slots {
    fn slot(&self, connector_id: Uuid) -> Option<usize> {
        self.by_connector.get(&connector_id).map(|s| s.0 as usize)
    }

    fn reading(&self, connector_id: Uuid) -> Option<StatusReading> {
        self.slot(connector_id).and_then(|i| self.readings[i])
    }
}

pub struct StatusHub {
    slots: RwLock<Slots>,
    dirty: Mutex<HashSet<Uuid>>,
    changes: broadcast::Sender<StatusChange>,
    /// How long a reading stays believable.
    pub freshness: Duration,
}

/// Statuses as they are to be shown at one moment, read under one lock for a whole query.
pub struct StatusView<'a> {
    slots: &'a Slots,
    now: DateTime<Utc>,
    freshness: Duration,
}

impl StatusView<'_> {
    /// The status of the connector in `slot`: stale or missing readings are `Unknown`.
    pub fn status(&self, slot: ConnectorSlot) -> ConnectorStatus {
        self.slots.readings.get(slot.0 as usize).copied().flatten().map_or(ConnectorStatus::Unknown, |r| r.effective(self.now, self.freshness))
    }

    /// The same, by connector id (a hash probe; for the few connectors of a result page).
    pub fn status_of(&self, connector_id: Uuid) -> ConnectorStatus {
        self.slots.reading(connector_id).map_or(ConnectorStatus::Unknown, |r| r.effective(self.now, self.freshness))
    }
}

impl StatusHub {
    pub fn new(freshness: Duration) -> Self {
        Self { slots: RwLock::default(), dirty: Mutex::default(), changes: broadcast::channel(4096).0, freshness }
    }

    /// Makes a connector known (from the catalog), with its last stored reading if any, and
    /// returns its slot (the same one while it stays registered).
    pub fn register(&self, connector_id: Uuid, station_id: Uuid, reading: Option<StatusReading>) -> ConnectorSlot {
        let mut slots = self.slots.write();
        let slot = match slots.by_connector.get(&connector_id) {
            Some(slot) => *slot,
            None => {
                let slot = match slots.free.pop() {
                    Some(slot) => slot,
                    None => {
                        let next = u32::try_from(slots.readings.len()).expect("fewer than 4 billion connectors");
                        slots.readings.push(None);
                        slots.stations.push(None);
                        ConnectorSlot(next)
                    }
                };
                slots.readings[slot.0 as usize] = None;
                slots.by_connector.insert(connector_id, slot);
                slot
            }
        };
        let i = slot.0 as usize;
        slots.stations[i] = Some(station_id);
        let known = slots.readings[i];
        if known.is_none_or(|r| reading.is_some_and(|new| new.observed_at > r.observed_at)) {
            slots.readings[i] = reading.or(known);
        }
        slot
    }

    /// Forgets a connector (its station left the catalog); its slot may be reused. Returns
    /// whether it was known.
    pub fn forget(&self, connector_id: Uuid) -> bool {
        let mut slots = self.slots.write();
        let Some(slot) = slots.by_connector.remove(&connector_id) else { return false };
        slots.readings[slot.0 as usize] = None;
        slots.stations[slot.0 as usize] = None;
        slots.free.push(slot);
        drop(slots);
        self.dirty.lock().remove(&connector_id);
        true
    }

    /// Records a status; older news than what we have is ignored (pushes can arrive out of
    /// order). Returns whether it changed anything.
    pub fn apply(&self, connector_id: Uuid, status: ConnectorStatus, at: DateTime<Utc>) -> bool {
        self.record(connector_id, status, at) == Recorded::Changed
    }

    /// Like [`StatusHub::apply`], telling apart why nothing changed: a sender that gives its own
    /// observation times (the partner REST API) is told which of its readings came too late.
    pub fn record(&self, connector_id: Uuid, status: ConnectorStatus, at: DateTime<Utc>) -> Recorded {
        let change = {
            let mut slots = self.slots.write();
            let Some(i) = slots.slot(connector_id) else { return Recorded::UnknownConnector };
            let Some(station_id) = slots.stations[i] else { return Recorded::UnknownConnector };
            let reading = &mut slots.readings[i];
            if reading.is_some_and(|r| r.observed_at > at) {
                return Recorded::Stale;
            }
            let changed = reading.is_none_or(|r| r.status != status);
            *reading = Some(StatusReading { status, observed_at: at });
            changed.then_some(StatusChange { connector_id, station_id, status, at })
        };
        self.dirty.lock().insert(connector_id);
        match change {
            Some(change) => {
                let _ = self.changes.send(change);
                Recorded::Changed
            }
            None => Recorded::Unchanged,
        }
    }

    /// What to show now: stale or missing readings are `Unknown`.
    pub fn effective(&self, connector_id: Uuid, now: DateTime<Utc>) -> ConnectorStatus {
        self.with_view(now, |view| view.status_of(connector_id))
    }

    /// Runs `f` with a view of the statuses at `now` that holds the lock once, for queries over
    /// many connectors.
    pub fn with_view<R>(&self, now: DateTime<Utc>, f: impl FnOnce(&StatusView<'_>) -> R) -> R {
        let slots = self.slots.read();
        f(&StatusView { slots: &slots, now, freshness: self.freshness })
    }

    pub fn reading(&self, connector_id: Uuid) -> Option<StatusReading> {
        self.slots.read().reading(connector_id)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<StatusChange> {
        self.changes.subscribe()
    }

    pub fn len(&self) -> usize {
        self.slots.read().by_connector.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Puts connectors back on the write-behind list (their write failed).
    pub fn mark_dirty(&self, ids: impl IntoIterator<Item = Uuid>) {
        self.dirty.lock().extend(ids);
    }

    /// Takes the connectors changed since the last call, with their latest readings.
    pub fn take_dirty(&self) -> Vec<(Uuid, StatusReading)> {
        let ids: Vec<Uuid> = std::mem::take(&mut *self.dirty.lock()).into_iter().collect();
        let slots = self.slots.read();
        ids.into_iter().filter_map(|id| slots.reading(id).map(|r| (id, r))).collect()
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

    /// A slot read gives what the connector's id gives; a forgotten connector's slot is handed
    /// to the next newcomer without its old reading.
    #[test]
    fn slots_follow_their_connectors() {
        let hub = StatusHub::new(Duration::minutes(10));
        let s = Uuid::now_v7();
        let t0 = Utc::now();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let (slot_a, slot_b) = (hub.register(a, s, None), hub.register(b, s, None));
        assert_ne!(slot_a, slot_b);
        assert_eq!(hub.register(a, s, None), slot_a, "registering again keeps the slot");
        hub.apply(a, ConnectorStatus::Available, t0);
        hub.apply(b, ConnectorStatus::Charging, t0);
        hub.with_view(t0, |v| {
            assert_eq!((v.status(slot_a), v.status(slot_b)), (ConnectorStatus::Available, ConnectorStatus::Charging));
            assert_eq!(v.status_of(a), ConnectorStatus::Available);
        });
        assert_eq!(hub.with_view(t0 + Duration::minutes(11), |v| v.status(slot_a)), ConnectorStatus::Unknown, "stale is unknown");
        assert!(hub.forget(a));
        assert!(!hub.apply(a, ConnectorStatus::Available, t0 + Duration::seconds(1)), "a forgotten connector is not invented");
        let c = Uuid::now_v7();
        let slot_c = hub.register(c, s, None);
        assert_eq!(slot_c, slot_a, "the freed slot is reused");
        assert_eq!(hub.with_view(t0, |v| v.status(slot_c)), ConnectorStatus::Unknown, "without the old connector's reading");
        assert_eq!(hub.len(), 2);
    }
}
