//! Life of one accepted charge point connection on the server side.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use tokio::sync::mpsc;

use super::dispatch::dispatch;
use super::ports::DisconnectReason;
use super::registry::{CentralSystem, ConnectionState};
use crate::session::{self, InboundFuture, SessionControl, Transport, WireIn};
use crate::types::ChargePointId;

impl Transport for WebSocket {
    async fn recv(&mut self) -> WireIn {
        match WebSocket::recv(self).await {
            Some(Ok(Message::Text(text))) => WireIn::Text(text.as_str().to_owned()),
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => WireIn::Closed,
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

/// Runs the connection until it ends, then reports it.
pub(crate) async fn serve(cs: CentralSystem, cp: ChargePointId, socket: WebSocket) {
    let inner = cs.inner.clone();
    let config = &inner.config;
    let (commands_tx, commands_rx) = mpsc::channel(config.command_queue.max(1));
    let control = SessionControl::new(config.idle_limit(config.default_heartbeat_interval));
    let state = ConnectionState::new(control.clone());
    let registration = cs.register(&cp, commands_tx, state.clone()).await;
    tracing::info!(%cp, "charge point connected");
    inner.handler.connected(&cp).await;

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

    let reason = DisconnectReason::from(end);
    tracing::info!(%cp, ?reason, "charge point disconnected");
    inner.handler.disconnected(&cp, reason).await;
    cs.deregister(&cp, registration);
}
