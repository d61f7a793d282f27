//! In-process token store and replay guard, for a server used without a database (tests of
//! this crate, tools). Both are bounded. The application keeps both in its database.

use std::collections::{HashMap, HashSet, VecDeque};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use rand::RngCore;

use super::ports::{ReplayGuard, TokenStore};
use crate::error::HandlerError;

#[derive(Default)]
pub struct MemoryTokenStore {
    tokens: Mutex<HashMap<String, (String, DateTime<Utc>)>>,
}

#[async_trait]
impl TokenStore for MemoryTokenStore {
    async fn issue(&self, operator_id: &str, expires_at: DateTime<Utc>) -> Result<String, HandlerError> {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let mut tokens = self.tokens.lock();
        // Drop expired tokens as new ones are issued, so the map stays bounded.
        let now = Utc::now();
        tokens.retain(|_, (_, until)| *until > now);
        tokens.insert(token.clone(), (operator_id.to_owned(), expires_at));
        Ok(token)
    }

    async fn holder(&self, token: &str, now: DateTime<Utc>) -> Result<Option<String>, HandlerError> {
        let tokens = self.tokens.lock();
        Ok(tokens.get(token).filter(|(_, until)| *until > now).map(|(op, _)| op.clone()))
    }
}

/// Keys are kept until the end of the timestamp window (after that the timestamp check refuses
/// a repeat anyway), with a hard cap on how many are kept.
/// Keys seen, and the same keys in the order they may be forgotten.
type ReplayState = (HashSet<String>, VecDeque<(DateTime<Utc>, String)>);

pub struct MemoryReplayGuard {
    state: Mutex<ReplayState>,
    cap: usize,
}

impl MemoryReplayGuard {
    pub fn new(cap: usize) -> Self {
        Self { state: Mutex::new((HashSet::new(), VecDeque::new())), cap }
    }
}

impl Default for MemoryReplayGuard {
    fn default() -> Self {
        Self::new(1_000_000)
    }
}

#[async_trait]
impl ReplayGuard for MemoryReplayGuard {
    async fn first_time(&self, key: &str, now: DateTime<Utc>, keep_until: DateTime<Utc>) -> Result<bool, HandlerError> {
        Ok(self.first_time_now(key, now, keep_until))
    }
}

impl MemoryReplayGuard {
    fn first_time_now(&self, key: &str, now: DateTime<Utc>, keep_until: DateTime<Utc>) -> bool {
        let mut guard = self.state.lock();
        let (seen, order) = &mut *guard;
        while let Some((until, _)) = order.front() {
            if *until > now && order.len() < self.cap {
                break;
            }
            let (_, old) = order.pop_front().expect("front exists");
            seen.remove(&old);
        }
        if !seen.insert(key.to_owned()) {
            return false;
        }
        order.push_back((keep_until, key.to_owned()));
        true
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn replay_guard_forgets_after_the_window_and_stays_bounded() {
        let guard = MemoryReplayGuard::new(3);
        let now = Utc::now();
        let until = now + Duration::minutes(5);
        assert!(guard.first_time_now("a", now, until));
        assert!(!guard.first_time_now("a", now, until));
        assert!(guard.first_time_now("a", until + Duration::seconds(1), until + Duration::minutes(5)));
        for k in ["b", "c", "d", "e"] {
            assert!(guard.first_time_now(k, now, until));
        }
        assert!(guard.state.lock().0.len() <= 3);
    }
}
