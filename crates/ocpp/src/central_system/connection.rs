//! Life of one accepted charge point connection on the server side.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::SinkExt;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite;

use super::dispatch::dispatch;
use super::ports::DisconnectReason;
use super::registry::{CentralSystem, ConnectionState};
use crate::enums::MessageTrigger;
use crate::messages::TriggerMessageRequest;
use crate::session::{self, InboundFuture, SessionControl, Transport, WireIn};
use crate::types::ChargePointId;

impl Transport for WebSocket {
    async fn recv(&mut self) -> WireIn {
        match WebSocket::recv(self).await {
            Some(Ok(Message::Text(text))) => WireIn::Text(text.as_str().to_owned()),
            Some(Ok(Message::Close(_))) => {
                // The close handshake (RFC 6455 §5.5.1): the WebSocket has queued our Close
                // reply; flushing sends it before the socket is dropped, so the charge point
                // sees a closed handshake rather than a bare TCP FIN.
                let _ = SinkExt::flush(self).await;
                WireIn::Closed
            }
            Some(Err(e)) if is_message_too_big(&e) => WireIn::TooBig,
            Some(Err(_)) | None => WireIn::Closed,
            // OCPP-J is text only; binary frames are ignored but prove liveness.
            Some(Ok(_)) => WireIn::Activity,
        }
    }

    async fn send_text(&mut self, text: String) -> bool {
        self.send(Message::Text(text.into())).await.is_ok()
    }

    async fn close(&mut self, code: u16, reason: &'static str) {
        let _ = self.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
    }
}

/// The WebSocket refused a message above `max_message_size` (it has been read and dropped).
fn is_message_too_big(error: &axum::Error) -> bool {
    let inner = std::error::Error::source(error).and_then(|e| e.downcast_ref::<tungstenite::Error>());
    matches!(inner, Some(tungstenite::Error::Capacity(tungstenite::error::CapacityError::MessageTooLong { .. })))
}

/// Runs the connection until it ends, then reports it.
pub(crate) async fn serve(cs: CentralSystem, cp: ChargePointId, socket: WebSocket) {
    let inner = cs.inner.clone();
    let config = &inner.config;
    let (commands_tx, commands_rx) = mpsc::channel(config.command_queue.max(1));
    let control = SessionControl::new(config.idle_limit(config.default_heartbeat_interval));
    let state = ConnectionState::new(control.clone());
    let registration = cs.register(&cp, commands_tx, state.clone()).await;
    tracing::info!(%cp, took_over = registration.took_over, "charge point connected");
    inner.handler.connected(&cp).await;
    if registration.took_over {
        ask_for_statuses(&cs, &cp);
    }

    let inbound = {
        let cs = cs.clone();
        let cp = cp.clone();
        let state: Arc<ConnectionState> = state.clone();
        move |action: String, payload: serde_json::Value| -> InboundFuture {
            let cs = cs.clone();
            let cp = cp.clone();
            let state = state.clone();
            Box::pin(async move { dispatch(&cs, &state, &cp, &action, payload).await })
        }
    };
    let end = session::run(socket, commands_rx, inbound, &control, config.inbound_queue.max(1)).await;

    let reason = if state.was_replaced() { DisconnectReason::Replaced } else { DisconnectReason::from(end) };
    tracing::info!(%cp, ?reason, "charge point disconnected");
    inner.handler.disconnected(&cp, reason).await;
    cs.deregister(&cp, registration);
}

/// A charge point that opens a new connection while its old one still looked alive (a network
/// change, a NAT timeout) need not boot again nor report anything; its old connection may have
/// missed status changes. It is asked for the status of every connector (TriggerMessage), so
/// the application learns the current state from the connection it now uses.
fn ask_for_statuses(cs: &CentralSystem, cp: &ChargePointId) {
    let (cs, cp) = (cs.clone(), cp.clone());
    tokio::spawn(async move {
        let request = TriggerMessageRequest { requested_message: MessageTrigger::StatusNotification, connector_id: None };
        match cs.send(cp.as_str(), request).await {
            Ok(answer) => tracing::debug!(%cp, status = ?answer.status, "asked a taken-over charge point for its statuses"),
            Err(e) => tracing::info!(%cp, error = %e, "a taken-over charge point did not answer the status trigger"),
        }
    });
}
