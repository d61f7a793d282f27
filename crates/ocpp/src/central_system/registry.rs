//! The [`CentralSystem`] handle: live connections by identity, and outbound commands.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};

use super::config::CentralSystemConfig;
use super::ports::{CentralSystemHandler, ChargePointAuth};
use crate::enums::RegistrationStatus;
use crate::error::CommandError;
use crate::messages::{Request, decode_response};
use crate::session::{self, OutboundCall, SessionControl};
use crate::types::ChargePointId;

/// Cloneable handle to the central system. Cheap to clone; all clones share the connections.
#[derive(Clone)]
pub struct CentralSystem {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub config: CentralSystemConfig,
    pub auth: Arc<dyn ChargePointAuth>,
    pub handler: Arc<dyn CentralSystemHandler>,
    connections: Mutex<HashMap<ChargePointId, Entry>>,
    next_id: AtomicU64,
}

/// Registration state of one connection, as last answered to its BootNotification.
pub(crate) struct ConnectionState {
    registration: AtomicU8,
    /// A newer connection with the same identity took over (set before it asks us to close).
    replaced: AtomicBool,
    pub control: Arc<SessionControl>,
}

const REG_NONE: u8 = 0;
const REG_ACCEPTED: u8 = 1;
const REG_PENDING: u8 = 2;
const REG_REJECTED: u8 = 3;

impl ConnectionState {
    pub fn new(control: Arc<SessionControl>) -> Arc<Self> {
        Arc::new(Self { registration: AtomicU8::new(REG_NONE), replaced: AtomicBool::new(false), control })
    }

    /// `None` until a BootNotification was answered on this connection. A reconnecting charge
    /// point need not boot again, so `None` is treated as "previously accepted".
    pub fn registration(&self) -> Option<RegistrationStatus> {
        match self.registration.load(Ordering::Relaxed) {
            REG_ACCEPTED => Some(RegistrationStatus::Accepted),
            REG_PENDING => Some(RegistrationStatus::Pending),
            REG_REJECTED => Some(RegistrationStatus::Rejected),
            _ => None,
        }
    }

    pub fn was_replaced(&self) -> bool {
        self.replaced.load(Ordering::Relaxed)
    }

    pub fn set_registration(&self, status: RegistrationStatus) {
        let v = match status {
            RegistrationStatus::Accepted => REG_ACCEPTED,
            RegistrationStatus::Pending => REG_PENDING,
            RegistrationStatus::Rejected => REG_REJECTED,
        };
        self.registration.store(v, Ordering::Relaxed);
    }
}

#[derive(Clone)]
struct Entry {
    id: u64,
    commands: mpsc::Sender<OutboundCall>,
    state: Arc<ConnectionState>,
    /// Closes when the connection task has fully finished (its `disconnected` callback included).
    done: watch::Receiver<()>,
}

/// What a connection task keeps to deregister itself.
pub(crate) struct Registration {
    pub id: u64,
    pub done: watch::Sender<()>,
    /// This connection replaced a live one of the same charge point.
    pub took_over: bool,
}

impl CentralSystem {
    pub fn new(config: CentralSystemConfig, auth: Arc<dyn ChargePointAuth>, handler: Arc<dyn CentralSystemHandler>) -> Self {
        Self { inner: Arc::new(Inner { config, auth, handler, connections: Mutex::new(HashMap::new()), next_id: AtomicU64::new(1) }) }
    }

    pub fn config(&self) -> &CentralSystemConfig {
        &self.inner.config
    }

    /// Sends a command to a connected charge point and waits for its answer.
    ///
    /// Commands to one charge point are sent one at a time in call order; the timeout
    /// (`call_timeout`) counts from this call, queueing included. Remote start/stop are refused
    /// locally while the charge point's registration is Pending or Rejected.
    pub async fn send<R: Request>(&self, cp: &str, request: R) -> Result<R::Response, CommandError> {
        let entry = self.entry(cp).ok_or(CommandError::NotConnected)?;
        let remote = matches!(R::ACTION, "RemoteStartTransaction" | "RemoteStopTransaction");
        if remote && matches!(entry.state.registration(), Some(RegistrationStatus::Pending | RegistrationStatus::Rejected)) {
            return Err(CommandError::NotAccepted);
        }
        let payload = crate::messages::encode(&request);
        let answer = session::call(&entry.commands, R::ACTION, payload, self.inner.config.call_timeout).await?;
        decode_response::<R>(answer)
    }

    pub fn is_connected(&self, cp: &str) -> bool {
        self.entry(cp).is_some_and(|e| !e.commands.is_closed())
    }

    pub fn connected_count(&self) -> usize {
        self.lock().len()
    }

    pub fn connected_ids(&self) -> Vec<ChargePointId> {
        self.lock().keys().cloned().collect()
    }

    /// Closes the connection of a charge point (it will reconnect). Returns whether one existed.
    pub fn disconnect(&self, cp: &str) -> bool {
        match self.entry(cp) {
            Some(e) => {
                e.state.control.kill.notify_one();
                true
            }
            None => false,
        }
    }

    fn entry(&self, cp: &str) -> Option<Entry> {
        self.lock().get(cp).cloned()
    }

    fn lock(&self) -> parking_lot::MutexGuard<'_, HashMap<ChargePointId, Entry>> {
        self.inner.connections.lock()
    }

    /// Makes this connection the one for `cp`, closing any previous one and waiting (bounded)
    /// until it has finished, so the application sees its `disconnected` first.
    pub(crate) async fn register(&self, cp: &ChargePointId, commands: mpsc::Sender<OutboundCall>, state: Arc<ConnectionState>) -> Registration {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (done_tx, done_rx) = watch::channel(());
        let entry = Entry { id, commands, state, done: done_rx };
        let give_up = tokio::time::Instant::now() + self.inner.config.replace_wait;
        let mut took_over = false;
        loop {
            let previous = {
                let mut map = self.lock();
                match map.get(cp) {
                    Some(old) if tokio::time::Instant::now() < give_up => old.clone(),
                    other => {
                        took_over |= other.is_some();
                        map.insert(cp.clone(), entry);
                        return Registration { id, done: done_tx, took_over };
                    }
                }
            };
            took_over = true;
            previous.state.replaced.store(true, Ordering::Relaxed);
            previous.state.control.kill.notify_one();
            let mut done = previous.done;
            let _ = tokio::time::timeout_at(give_up, done.changed()).await;
            // The old task removes its own entry when done; loop to re-check.
            if self.lock().get(cp).is_some_and(|e| e.id == previous.id) && done.has_changed().is_err() {
                self.lock().remove(cp);
            }
        }
    }

    /// Removes the entry if it is still this connection's.
    pub(crate) fn deregister(&self, cp: &ChargePointId, registration: Registration) {
        let mut map = self.lock();
        if map.get(cp).is_some_and(|e| e.id == registration.id) {
            map.remove(cp);
        }
        drop(map);
        drop(registration.done);
    }
}
