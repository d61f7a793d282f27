//! One OCPP-J connection, whichever side we play: frames in and out, CALL correlation,
//! per-direction synchronicity, timeouts.
//!
//! A single task drives a connection; everything it holds is small and bounded, because the
//! simulator runs ten thousand of these in one process:
//! - outgoing CALLs wait in a bounded channel and are sent one at a time (OCPP allows one
//!   outstanding CALL per direction); each has a deadline set when it was queued, so the
//!   caller's wait is bounded no matter how long the queue was;
//! - incoming CALLs are handled one at a time, in arrival order (status notifications must reach
//!   the application in order), from a bounded queue; overflow is answered with a CALLERROR;
//! - a connection without any traffic (frames, pings, pongs) for the idle limit is closed.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

use crate::error::{CallError, CallErrorCode, CommandError};
use crate::rpc::{Frame, FrameError};

/// What the transport delivered.
pub(crate) enum WireIn {
    Text(String),
    /// Ping, pong or a frame we do not use: proves the peer is alive.
    Activity,
    /// A message above the configured size limit; it was read and discarded.
    TooBig,
    Closed,
}

/// The WebSocket seen by the session (axum's on the server, tungstenite's on the client).
pub(crate) trait Transport: Send {
    /// `WireIn::Closed` also for transport errors.
    fn recv(&mut self) -> impl Future<Output = WireIn> + Send;
    /// `false` when the socket is gone.
    fn send_text(&mut self, text: String) -> impl Future<Output = bool> + Send;
    fn close(&mut self, code: u16, reason: &'static str) -> impl Future<Output = ()> + Send;
}

/// Future answering one incoming CALL.
pub(crate) type InboundFuture = Pin<Box<dyn Future<Output = Result<Value, CallError>> + Send>>;

/// A CALL waiting to be sent.
pub(crate) struct OutboundCall {
    pub action: &'static str,
    pub payload: Value,
    pub deadline: Instant,
    pub reply: oneshot::Sender<Result<Value, CommandError>>,
}

/// Shared knobs of a running session, adjustable while it runs.
pub(crate) struct SessionControl {
    /// Idle limit in milliseconds; 0 = never close for idleness.
    pub idle_ms: AtomicU64,
    /// Asks the session to close (connection replaced, operator request, simulated drop).
    pub kill: Notify,
}

impl SessionControl {
    pub fn new(idle: Duration) -> Arc<Self> {
        Arc::new(Self { idle_ms: AtomicU64::new(idle.as_millis() as u64), kill: Notify::new() })
    }

    pub fn set_idle(&self, idle: Duration) {
        self.idle_ms.store(idle.as_millis() as u64, Ordering::Relaxed);
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The peer closed the socket or the transport failed.
    PeerClosed,
    /// No traffic within the idle limit.
    Idle,
    /// Closed on request (replaced by a newer connection, or deliberately).
    Closed,
    /// The peer sent a message above the size limit; closed with 1009 (RFC 6455 §7.4.1).
    TooBig,
}

struct Pending {
    id: String,
    deadline: Instant,
    reply: oneshot::Sender<Result<Value, CommandError>>,
}

/// Drives the connection until it ends. Outstanding and queued CALLs then fail with
/// `ConnectionLost` (their reply channels are dropped).
pub(crate) async fn run<T, F>(
    mut transport: T,
    mut commands: mpsc::Receiver<OutboundCall>,
    inbound: F,
    control: &SessionControl,
    max_inbound_queue: usize,
) -> SessionEnd
where
    T: Transport,
    F: Fn(String, Value) -> InboundFuture,
{
    let mut pending: Option<Pending> = None;
    let mut queue: VecDeque<(String, String, Value)> = VecDeque::new();
    let mut in_flight: Option<(String, InboundFuture)> = None;
    let mut last_activity = Instant::now();

    loop {
        if in_flight.is_none()
            && let Some((id, action, payload)) = queue.pop_front()
        {
            in_flight = Some((id, inbound(action, payload)));
        }
        let idle_ms = control.idle_ms.load(Ordering::Relaxed);
        let idle_deadline = (idle_ms > 0).then(|| last_activity + Duration::from_millis(idle_ms));
        let call_deadline = pending.as_ref().map(|p| p.deadline);

        tokio::select! {
            biased;
            _ = control.kill.notified() => {
                transport.close(1000, "connection closed by the other side's request").await;
                return SessionEnd::Closed;
            }
            // Answers go out before new CALLs so a triggered message never overtakes the
            // `.conf` that announced it.
            result = answer_of(&mut in_flight) => {
                let Some((id, _)) = in_flight.take() else { continue };
                let frame = match result {
                    Ok(payload) => Frame::CallResult { id, payload },
                    Err(error) => Frame::CallError { id, error },
                };
                if !transport.send_text(frame.to_text()).await {
                    return SessionEnd::PeerClosed;
                }
            }
            wire = transport.recv() => {
                let text = match wire {
                    WireIn::Closed => return SessionEnd::PeerClosed,
                    WireIn::TooBig => {
                        transport.close(1009, "message too big for this endpoint").await;
                        return SessionEnd::TooBig;
                    }
                    WireIn::Activity => { last_activity = Instant::now(); continue }
                    WireIn::Text(text) => { last_activity = Instant::now(); text }
                };
                if let Some(reply) = on_text(&text, &mut pending, &mut queue, max_inbound_queue)
                    && !transport.send_text(reply.to_text()).await
                {
                    return SessionEnd::PeerClosed;
                }
            }
            _ = sleep_until(call_deadline) => {
                if let Some(p) = pending.take() {
                    tracing::debug!(id = %p.id, "CALL timed out");
                    let _ = p.reply.send(Err(CommandError::Timeout));
                }
            }
            _ = sleep_until(idle_deadline) => {
                transport.close(1001, "no traffic within the heartbeat limit").await;
                return SessionEnd::Idle;
            }
            Some(call) = commands.recv(), if pending.is_none() => {
                if call.reply.is_closed() {
                    continue;
                }
                if Instant::now() >= call.deadline {
                    let _ = call.reply.send(Err(CommandError::Timeout));
                    continue;
                }
                let id = uuid::Uuid::new_v4().to_string();
                let frame = Frame::Call { id: id.clone(), action: call.action.to_owned(), payload: call.payload };
                if !transport.send_text(frame.to_text()).await {
                    let _ = call.reply.send(Err(CommandError::ConnectionLost));
                    return SessionEnd::PeerClosed;
                }
                pending = Some(Pending { id, deadline: call.deadline, reply: call.reply });
            }
        }
    }
}

/// Handles one text frame; returns a frame to send back, if any.
fn on_text(text: &str, pending: &mut Option<Pending>, queue: &mut VecDeque<(String, String, Value)>, max_inbound_queue: usize) -> Option<Frame> {
    match Frame::parse(text) {
        Ok(Frame::Call { id, action, payload }) => {
            if queue.len() >= max_inbound_queue {
                let error = CallError::new(CallErrorCode::GenericError, "too many CALLs outstanding; send one at a time");
                return Some(Frame::CallError { id, error });
            }
            queue.push_back((id, action, payload));
            None
        }
        Ok(Frame::CallResult { id, payload }) => {
            complete(pending, &id, Ok(payload));
            None
        }
        Ok(Frame::CallError { id, error }) => {
            complete(pending, &id, Err(CommandError::CallError { code: error.code, description: error.description }));
            None
        }
        Err(FrameError::UnknownType(t)) => {
            tracing::debug!(message_type = t, "ignoring frame with unknown MessageTypeId");
            None
        }
        Err(FrameError::BadResponse(why)) => {
            tracing::warn!(%why, "dropping malformed response frame");
            None
        }
        Err(FrameError::BadCall { reply_id, error }) => Some(Frame::CallError { id: reply_id, error }),
    }
}

/// Delivers a response to the outstanding CALL if the id matches; late answers (after a
/// timeout) and unknown ids are dropped.
fn complete(pending: &mut Option<Pending>, id: &str, result: Result<Value, CommandError>) {
    match pending {
        Some(p) if p.id == id => {
            if let Some(p) = pending.take() {
                let _ = p.reply.send(result);
            }
        }
        _ => tracing::debug!(%id, "response for no outstanding CALL"),
    }
}

async fn answer_of(in_flight: &mut Option<(String, InboundFuture)>) -> Result<Value, CallError> {
    match in_flight {
        Some((_, fut)) => fut.await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Queues a CALL on a session and waits for its answer, bounded by `timeout` from now.
pub(crate) async fn call(commands: &mpsc::Sender<OutboundCall>, action: &'static str, payload: Value, timeout: Duration) -> Result<Value, CommandError> {
    let deadline = Instant::now() + timeout;
    let (reply, answer) = oneshot::channel();
    commands.try_send(OutboundCall { action, payload, deadline, reply }).map_err(|e| match e {
        mpsc::error::TrySendError::Full(_) => CommandError::Busy,
        mpsc::error::TrySendError::Closed(_) => CommandError::NotConnected,
    })?;
    // The session answers `Timeout` at the deadline; the grace only covers scheduling delays.
    match tokio::time::timeout_at(deadline + Duration::from_millis(500), answer).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(CommandError::ConnectionLost),
        Err(_) => Err(CommandError::Timeout),
    }
}
