//! The HTTP side: `GET /ocpp/{chargePointId}` upgrade with Basic auth and subprotocol checks.

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;

use super::SUBPROTOCOL;
use super::connection;
use super::ports::AuthDecision;
use super::registry::CentralSystem;
use crate::types::ChargePointId;

impl CentralSystem {
    /// Router serving `/ocpp/{chargePointId}`; merge it into the application's router.
    pub fn router(&self) -> Router {
        Router::new().route("/ocpp/{cp_id}", get(upgrade)).with_state(self.clone())
    }

    /// Serves only the OCPP endpoint on `listener`, for tests, benches and the simulator demo.
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        axum::serve(listener, self.router()).await
    }
}

/// A single frame up to this size is read whole even when the message limit is lower, so a
/// charge point that sends a too-big message in one frame (as OCPP-J clients do) has it consumed
/// and then reads our Close 1009, instead of a connection reset with its data still unread.
const FRAME_READ_LIMIT: usize = 16 * 1024 * 1024;

async fn upgrade(State(cs): State<CentralSystem>, Path(raw_id): Path<String>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    let Some(cp) = ChargePointId::parse(&raw_id) else {
        return StatusCode::NOT_FOUND.into_response();
    };

    // Validate credentials before upgrading (401 on failure), per the security whitepaper.
    let password = match basic_credentials(&headers) {
        Credentials::None => None,
        Credentials::Malformed => return unauthorized(),
        Credentials::Basic { user, password } if user == cp.as_str().as_bytes() => Some(password),
        Credentials::Basic { .. } => return unauthorized(),
    };
    match cs.inner.auth.verify(&cp, password.as_deref()).await {
        AuthDecision::Accept => {}
        AuthDecision::UnknownChargePoint => return StatusCode::NOT_FOUND.into_response(),
        AuthDecision::Refuse => return unauthorized(),
    }

    let config = cs.config();
    let offered = offered_protocols(&headers);
    let ws = ws
        .read_buffer_size(config.io_buffer_size)
        .write_buffer_size(config.io_buffer_size)
        .max_message_size(config.max_message_size)
        .max_frame_size(config.max_message_size.max(FRAME_READ_LIMIT))
        .protocols([SUBPROTOCOL]);
    let speaks_ocpp16 = offered.iter().any(|p| p == SUBPROTOCOL) || (offered.is_empty() && config.lenient_subprotocol);
    if !speaks_ocpp16 {
        // The specification: complete the handshake without the header, then close at once.
        tracing::info!(%cp, ?offered, "refusing connection without subprotocol {SUBPROTOCOL}");
        return ws.on_upgrade(|mut socket| async move {
            let frame = CloseFrame { code: 1002, reason: "subprotocol ocpp1.6 required".into() };
            let _ = socket.send(Message::Close(Some(frame))).await;
        });
    }
    ws.on_upgrade(move |socket| connection::serve(cs, cp, socket))
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic realm=\"ocpp\"")]).into_response()
}

fn offered_protocols(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

enum Credentials {
    None,
    Malformed,
    /// Raw bytes: the password may be the binary AuthorizationKey.
    Basic {
        user: Vec<u8>,
        password: Vec<u8>,
    },
}

fn basic_credentials(headers: &HeaderMap) -> Credentials {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Credentials::None;
    };
    let Some(encoded) =
        value.to_str().ok().and_then(|v| v.split_once(' ')).filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Basic")).map(|(_, rest)| rest.trim())
    else {
        return Credentials::Malformed;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return Credentials::Malformed;
    };
    match decoded.iter().position(|&b| b == b':') {
        Some(colon) => Credentials::Basic { user: decoded[..colon].to_vec(), password: decoded[colon + 1..].to_vec() },
        None => Credentials::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specification_basic_header_yields_raw_key_bytes() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Basic QUwxMDAwOgABAgMEBQYH////////////////".parse().unwrap());
        let Credentials::Basic { user, password } = basic_credentials(&headers) else { panic!("not parsed") };
        assert_eq!(user, b"AL1000");
        assert_eq!(password, [0, 1, 2, 3, 4, 5, 6, 7, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]);
    }

    #[test]
    fn protocol_lists_are_split() {
        let mut headers = HeaderMap::new();
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, "ocpp1.6, ocpp1.5".parse().unwrap());
        assert_eq!(offered_protocols(&headers), vec!["ocpp1.6", "ocpp1.5"]);
    }
}
