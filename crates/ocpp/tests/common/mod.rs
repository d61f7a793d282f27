//! Shared fixtures: a central system on a loopback port with a recording handler, charge point
//! clients (typed and raw).
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use chrono::Utc;
use futures::{SinkExt, StreamExt};
use ocpp::central_system::{AuthDecision, DisconnectReason};
use ocpp::charge_point::{ChargePoint, ChargePointConfig, ChargePointHandler};
use ocpp::enums::*;
use ocpp::messages::*;
use ocpp::{CallError, CentralSystem, CentralSystemConfig, CentralSystemHandler, ChargePointId};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// What the application saw, in order.
#[derive(Debug, Clone)]
pub enum Event {
    Connected(String),
    Disconnected(String, DisconnectReason),
    Boot(String),
    Status(String, u32, ChargePointStatus),
    Authorize(String, String),
    Start(String, StartTransactionRequest),
    Stop(String, StopTransactionRequest),
    Meter(String, MeterValuesRequest),
}

pub struct Recorder {
    events: mpsc::UnboundedSender<Event>,
    next_tx: AtomicI32,
    heartbeat_interval: u32,
}

#[async_trait]
impl CentralSystemHandler for Recorder {
    async fn connected(&self, cp: &ChargePointId) {
        let _ = self.events.send(Event::Connected(cp.to_string()));
    }

    async fn disconnected(&self, cp: &ChargePointId, reason: DisconnectReason) {
        let _ = self.events.send(Event::Disconnected(cp.to_string(), reason));
    }

    /// Identities starting with `REJ` are refused, everything else accepted.
    async fn boot_notification(&self, cp: &ChargePointId, _req: BootNotificationRequest) -> Result<BootNotificationResponse, CallError> {
        let _ = self.events.send(Event::Boot(cp.to_string()));
        let status = if cp.as_str().starts_with("REJ") { RegistrationStatus::Rejected } else { RegistrationStatus::Accepted };
        Ok(BootNotificationResponse { status, current_time: Utc::now(), interval: self.heartbeat_interval })
    }

    /// Deliberately slow and jittery, so reordering would show if calls ran concurrently.
    async fn status_notification(&self, cp: &ChargePointId, req: StatusNotificationRequest) -> Result<StatusNotificationResponse, CallError> {
        let jitter = 5 * (5 - (req.connector_id as u64 % 5));
        tokio::time::sleep(Duration::from_millis(jitter)).await;
        let _ = self.events.send(Event::Status(cp.to_string(), req.connector_id, req.status));
        Ok(StatusNotificationResponse {})
    }

    async fn authorize(&self, cp: &ChargePointId, req: AuthorizeRequest) -> Result<AuthorizeResponse, CallError> {
        let _ = self.events.send(Event::Authorize(cp.to_string(), req.id_tag.to_string()));
        Ok(AuthorizeResponse { id_tag_info: IdTagInfo::with_status(AuthorizationStatus::Accepted) })
    }

    async fn start_transaction(&self, cp: &ChargePointId, req: StartTransactionRequest) -> Result<StartTransactionResponse, CallError> {
        let _ = self.events.send(Event::Start(cp.to_string(), req));
        let transaction_id = self.next_tx.fetch_add(1, Ordering::SeqCst);
        Ok(StartTransactionResponse { id_tag_info: IdTagInfo::with_status(AuthorizationStatus::Accepted), transaction_id })
    }

    async fn stop_transaction(&self, cp: &ChargePointId, req: StopTransactionRequest) -> Result<StopTransactionResponse, CallError> {
        let _ = self.events.send(Event::Stop(cp.to_string(), req));
        Ok(StopTransactionResponse::default())
    }

    async fn meter_values(&self, cp: &ChargePointId, req: MeterValuesRequest) -> Result<MeterValuesResponse, CallError> {
        let _ = self.events.send(Event::Meter(cp.to_string(), req));
        Ok(MeterValuesResponse {})
    }
}

pub struct Server {
    pub cs: CentralSystem,
    pub endpoint: String,
    pub events: mpsc::UnboundedReceiver<Event>,
}

pub fn password(cp: &str) -> Vec<u8> {
    format!("pw-{cp}").into_bytes()
}

/// Identities starting with `UNKNOWN` are unknown (404); others need `pw-<id>`.
pub async fn start_server(config: CentralSystemConfig, heartbeat_interval: u32) -> Server {
    let (tx, events) = mpsc::unbounded_channel();
    let handler = Arc::new(Recorder { events: tx, next_tx: AtomicI32::new(1000), heartbeat_interval });
    let auth = |cp: &ChargePointId, pw: Option<&[u8]>| {
        if cp.as_str().starts_with("UNKNOWN") {
            AuthDecision::UnknownChargePoint
        } else if pw == Some(password(cp.as_str()).as_slice()) {
            AuthDecision::Accept
        } else {
            AuthDecision::Refuse
        }
    };
    let cs = CentralSystem::new(config, Arc::new(auth), handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = cs.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Server { cs, endpoint: format!("ws://{addr}/ocpp"), events }
}

pub fn fast_config() -> CentralSystemConfig {
    CentralSystemConfig { call_timeout: Duration::from_millis(500), ..Default::default() }
}

impl Server {
    pub async fn next_event(&mut self) -> Event {
        tokio::time::timeout(Duration::from_secs(5), self.events.recv()).await.expect("no event within 5 s").expect("channel closed")
    }

    pub fn config_for(&self, cp: &str) -> ChargePointConfig {
        let mut c = ChargePointConfig::new(&self.endpoint, cp, Some(password(cp)));
        c.call_timeout = Duration::from_secs(2);
        c
    }

    pub async fn connect(&mut self, cp: &str, handler: Arc<dyn ChargePointHandler>) -> ChargePoint {
        let c = ChargePoint::connect(&self.config_for(cp), handler).await.expect("connect");
        match self.next_event().await {
            Event::Connected(id) => assert_eq!(id, cp),
            other => panic!("expected Connected, got {other:?}"),
        }
        c
    }

    /// Waits until the condition is true or fails after 3 s.
    pub async fn wait_until(&self, mut cond: impl FnMut(&CentralSystem) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while !cond(&self.cs) {
            assert!(tokio::time::Instant::now() < deadline, "condition not met within 3 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Charge point side answering with a closure; `None` means never answer.
pub struct Scripted<F>(pub F);

#[async_trait]
impl<F> ChargePointHandler for Scripted<F>
where
    F: Fn(&str, Value) -> Option<Result<Value, CallError>> + Send + Sync + 'static,
{
    async fn handle(&self, action: &str, payload: Value) -> Result<Value, CallError> {
        match (self.0)(action, payload) {
            Some(answer) => answer,
            None => std::future::pending().await,
        }
    }
}

pub fn boot() -> BootNotificationRequest {
    serde_json::from_value(serde_json::json!({"chargePointVendor": "VendorX", "chargePointModel": "SingleSocketCharger"})).unwrap()
}

pub type RawSocket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A bare WebSocket client speaking `ocpp1.6`, for frames our client would never send.
pub async fn raw_connect(endpoint: &str, cp: &str) -> RawSocket {
    let mut request = format!("{endpoint}/{cp}").into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", "ocpp1.6".parse().unwrap());
    let mut userpass = format!("{cp}:").into_bytes();
    userpass.extend(password(cp));
    let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(userpass));
    request.headers_mut().insert("Authorization", auth.parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

pub async fn raw_send(ws: &mut RawSocket, text: &str) {
    ws.send(Message::Text(text.into())).await.unwrap();
}

/// Next text frame as JSON; fails after 3 s.
pub async fn raw_recv(ws: &mut RawSocket) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(3), ws.next()).await.expect("no frame within 3 s");
        match msg {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}
