//! The charge point role (WebSocket client): connects with subprotocol `ocpp1.6` and Basic
//! auth, sends CALLs and awaits their results, answers the central system's CALLs through
//! [`ChargePointHandler`]. Used by the pile simulator; reconnecting is the caller's policy.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::central_system::SUBPROTOCOL;
use crate::error::{CallError, CommandError};
use crate::messages::{Request, decode_response, encode};
use crate::session::{self, InboundFuture, SessionControl, SessionEnd, Transport, WireIn};

/// Answers the CALLs the central system sends to this charge point.
#[async_trait]
pub trait ChargePointHandler: Send + Sync + 'static {
    /// `action` is the CALL's Action; decode the payload with [`crate::messages::decode`].
    /// Unknown actions should answer `NotImplemented`.
    async fn handle(&self, action: &str, payload: Value) -> Result<Value, CallError>;
}

/// How to reach the central system.
#[derive(Debug, Clone)]
pub struct ChargePointConfig {
    /// Endpoint without the identity, e.g. `ws://127.0.0.1:8080/ocpp`.
    pub endpoint: String,
    /// Charge point identity; appended to the endpoint (percent-encoded) and the Basic username.
    pub identity: String,
    /// AuthorizationKey; `None` = no Authorization header.
    pub password: Option<Vec<u8>>,
    /// Subprotocols offered; empty = no `Sec-WebSocket-Protocol` header (for negative tests).
    pub subprotocols: Vec<String>,
    pub call_timeout: Duration,
    pub connect_timeout: Duration,
    /// WebSocket read/write buffers; small because a simulator holds thousands of connections.
    pub io_buffer_size: usize,
}

impl ChargePointConfig {
    pub fn new(endpoint: impl Into<String>, identity: impl Into<String>, password: Option<Vec<u8>>) -> Self {
        Self {
            endpoint: endpoint.into(),
            identity: identity.into(),
            password,
            subprotocols: vec![SUBPROTOCOL.to_owned()],
            call_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            io_buffer_size: 4 * 1024,
        }
    }

    /// The full URL: endpoint + `/` + percent-encoded identity.
    pub fn url(&self) -> String {
        let mut url = self.endpoint.trim_end_matches('/').to_owned();
        url.push('/');
        for b in self.identity.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                url.push(b as char);
            } else {
                url.push_str(&format!("%{b:02X}"));
            }
        }
        url
    }
}

/// Why connecting failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The server refused the upgrade with this HTTP status (401 bad credentials, 404 unknown).
    #[error("upgrade refused with HTTP {0}")]
    Refused(u16),
    /// The server did not agree to `ocpp1.6`.
    #[error("subprotocol not accepted")]
    Subprotocol,
    #[error("connect timed out")]
    Timeout,
    #[error("connect failed: {0}")]
    Failed(String),
}

/// A live connection to the central system. Cloneable; the connection closes when
/// [`ChargePoint::close`] is called or the peer closes it, not when handles are dropped.
#[derive(Clone)]
pub struct ChargePoint {
    commands: mpsc::Sender<OutboundCallSender>,
    control: Arc<SessionControl>,
    ended: watch::Receiver<Option<SessionEnd>>,
    call_timeout: Duration,
}

type OutboundCallSender = session::OutboundCall;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

impl Transport for Socket {
    async fn recv(&mut self) -> WireIn {
        match self.next().await {
            Some(Ok(Message::Text(text))) => WireIn::Text(text.as_str().to_owned()),
            Some(Ok(Message::Close(_))) => {
                // Sends the Close reply tungstenite queued (the close handshake).
                let _ = SinkExt::flush(self).await;
                WireIn::Closed
            }
            Some(Err(_)) | None => WireIn::Closed,
            Some(Ok(_)) => WireIn::Activity,
        }
    }

    async fn send_text(&mut self, text: String) -> bool {
        self.send(Message::Text(text.into())).await.is_ok()
    }

    async fn close(&mut self, code: u16, reason: &'static str) {
        let frame = CloseFrame { code: code.into(), reason: reason.into() };
        let _ = self.send(Message::Close(Some(frame))).await;
    }
}

impl ChargePoint {
    /// Opens the WebSocket and starts the connection task.
    pub async fn connect(config: &ChargePointConfig, handler: Arc<dyn ChargePointHandler>) -> Result<Self, ConnectError> {
        let socket = tokio::time::timeout(config.connect_timeout, open(config)).await.map_err(|_| ConnectError::Timeout)??;
        let (commands_tx, commands_rx) = mpsc::channel(8);
        let control = SessionControl::new(Duration::ZERO);
        let (ended_tx, ended_rx) = watch::channel(None);
        let task_control = control.clone();
        tokio::spawn(async move {
            let inbound = move |action: String, payload: Value| -> InboundFuture {
                let handler = handler.clone();
                Box::pin(async move { handler.handle(&action, payload).await })
            };
            let end = session::run(socket, commands_rx, inbound, &task_control, 4).await;
            let _ = ended_tx.send(Some(end));
        });
        Ok(Self { commands: commands_tx, control, ended: ended_rx, call_timeout: config.call_timeout })
    }

    /// Sends a CALL and waits for its result (one outstanding CALL at a time; others queue).
    pub async fn call<R: Request>(&self, request: R) -> Result<R::Response, CommandError> {
        if !self.is_connected() {
            return Err(CommandError::NotConnected);
        }
        let answer = session::call(&self.commands, R::ACTION, encode(&request), self.call_timeout).await?;
        decode_response::<R>(answer)
    }

    pub fn is_connected(&self) -> bool {
        self.ended.borrow().is_none()
    }

    /// Closes the connection (a close frame is sent).
    pub fn close(&self) {
        self.control.kill.notify_one();
    }

    /// Waits until the connection has ended.
    pub async fn closed(&self) -> SessionEnd {
        let mut ended = self.ended.clone();
        match ended.wait_for(Option::is_some).await {
            Ok(end) => end.unwrap_or(SessionEnd::PeerClosed),
            Err(_) => SessionEnd::PeerClosed,
        }
    }
}

async fn open(config: &ChargePointConfig) -> Result<Socket, ConnectError> {
    let mut request = config.url().into_client_request().map_err(|e| ConnectError::Failed(e.to_string()))?;
    let headers = request.headers_mut();
    if !config.subprotocols.is_empty() {
        let offer = HeaderValue::from_str(&config.subprotocols.join(", ")).map_err(|e| ConnectError::Failed(e.to_string()))?;
        headers.insert("Sec-WebSocket-Protocol", offer);
    }
    if let Some(password) = &config.password {
        let mut userpass = config.identity.clone().into_bytes();
        userpass.push(b':');
        userpass.extend_from_slice(password);
        let value = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(userpass));
        headers.insert("Authorization", HeaderValue::from_str(&value).map_err(|e| ConnectError::Failed(e.to_string()))?);
    }
    let ws_config =
        WebSocketConfig::default().read_buffer_size(config.io_buffer_size).write_buffer_size(config.io_buffer_size).max_message_size(Some(64 * 1024));
    match tokio_tungstenite::connect_async_with_config(request, Some(ws_config), true).await {
        Ok((socket, response)) => {
            let agreed = response.headers().get("Sec-WebSocket-Protocol").and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() == SUBPROTOCOL);
            if !config.subprotocols.is_empty() && !agreed {
                return Err(ConnectError::Subprotocol);
            }
            Ok(socket)
        }
        Err(tungstenite::Error::Http(response)) => Err(ConnectError::Refused(response.status().as_u16())),
        Err(tungstenite::Error::Protocol(tungstenite::error::ProtocolError::SecWebSocketSubProtocolError(_))) => Err(ConnectError::Subprotocol),
        Err(e) => Err(ConnectError::Failed(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_percent_encoded_in_the_url() {
        let c = ChargePointConfig::new("ws://h/ocpp/", "RDAM 123", None);
        assert_eq!(c.url(), "ws://h/ocpp/RDAM%20123");
    }
}
