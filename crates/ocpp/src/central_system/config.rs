//! Tunables of the central system.

use std::time::Duration;

/// Defaults follow the specification's advice; tests shorten the times.
#[derive(Debug, Clone)]
pub struct CentralSystemConfig {
    /// How long a command may wait for its answer, queueing included (advice: 30 s).
    pub call_timeout: Duration,
    /// Heartbeat interval assumed until a BootNotification is Accepted with its own interval.
    pub default_heartbeat_interval: Duration,
    /// A connection silent for heartbeat interval × this factor is closed as offline (advice: 2–3).
    pub offline_factor: u32,
    /// Commands that may wait per connection behind the outstanding one; more get `Busy`.
    pub command_queue: usize,
    /// Incoming CALLs buffered per connection; a compliant charge point sends one at a time.
    pub inbound_queue: usize,
    /// Largest accepted WebSocket message; a larger one closes the connection with 1009
    /// (message too big). A StopTransaction with the meter samples of a long session is large:
    /// ten hours of one-minute samples are about 100 kB.
    pub max_message_size: usize,
    /// WebSocket read/write buffer per connection; small, because it is paid per charge point.
    pub io_buffer_size: usize,
    /// Accept an upgrade without any `Sec-WebSocket-Protocol` header as OCPP 1.6 (old firmware).
    /// An offer that lacks `ocpp1.6` is refused either way.
    pub lenient_subprotocol: bool,
    /// How long a reconnect waits for the replaced connection to finish its teardown.
    pub replace_wait: Duration,
}

impl Default for CentralSystemConfig {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(30),
            default_heartbeat_interval: Duration::from_secs(300),
            offline_factor: 3,
            command_queue: 8,
            inbound_queue: 8,
            max_message_size: 1024 * 1024,
            io_buffer_size: 4 * 1024,
            lenient_subprotocol: false,
            replace_wait: Duration::from_secs(5),
        }
    }
}

impl CentralSystemConfig {
    pub(crate) fn idle_limit(&self, heartbeat: Duration) -> Duration {
        heartbeat * self.offline_factor.max(1)
    }
}
