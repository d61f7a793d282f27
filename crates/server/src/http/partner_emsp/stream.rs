//! Status changes as Server-Sent Events, for platform partners that would rather hold one
//! connection open than run a webhook receiver: the same `connector.status_changed` data as the
//! webhook, for the connectors of our stations this partner may see, as they happen. The stream
//! does not replay what was missed while disconnected: after reconnecting, read the current
//! status once (`POST /connectors/status`), as the guide says.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use uuid::Uuid;

use super::SCOPE;
use super::events::ConnectorStatusEvent;
use crate::http::AppState;
use crate::http::error::{ApiResult, ErrorBody};
use crate::http::extract::PartnerToken;

/// How long a station's visibility is trusted before it is read again (grants and revocations
/// reach an open stream within this time).
const VISIBILITY_TTL: Duration = Duration::from_secs(10);

/// Live `connector.status_changed` events (`text/event-stream`); a `lagged` event says how many
/// changes this connection was too slow to take.
#[utoipa::path(get, path = "/connectors/status/stream", tag = "partner", security(("oauth2" = ["emsp"])),
    responses((status = 200, description = "text/event-stream: `event: connector.status_changed`, `data`: ConnectorStatusEvent", content_type = "text/event-stream",
        example = json!("event: connector.status_changed\ndata: {\"connector_id\":\"SZ-NS-001-P1-1\",\"station_id\":\"SZ-NS-001\",\"status\":\"charging\",\"at\":\"2026-12-05T01:30:00Z\"}\n\n")),
              (status = 403, body = ErrorBody, description = "the token lacks the `emsp` scope, or the partner is no approved platform")))]
pub async fn status_stream(
    State(state): State<AppState>,
    PartnerToken(principal): PartnerToken,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    principal.require_scope(SCOPE)?;
    state.services.require_platform(principal.partner_id).await?;
    let (services, shutdown, partner) = (state.services.clone(), state.shutdown.clone(), principal.partner_id);
    let mut changes = services.hub.subscribe();
    let stream = async_stream::stream! {
        let mut visible: HashMap<Uuid, (bool, Instant)> = HashMap::new();
        loop {
            let received = tokio::select! {
                received = changes.recv() => received,
                () = shutdown.cancelled() => break,
            };
            let change = match received {
                Ok(change) => change,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    yield Ok(Event::default().event("lagged").data(missed.to_string()));
                    continue;
                }
                Err(_) => break,
            };
            let seen = match visible.get(&change.station_id) {
                Some((seen, at)) if at.elapsed() < VISIBILITY_TTL => *seen,
                _ => {
                    let seen = services.own_station_visible_to(partner, change.station_id).await.unwrap_or(false);
                    visible.insert(change.station_id, (seen, Instant::now()));
                    seen
                }
            };
            let Some(station) = seen.then(|| services.station_summary(change.station_id)).flatten() else { continue };
            let Some(connector) = station.connectors.iter().find(|c| c.id == change.connector_id) else { continue };
            let event = ConnectorStatusEvent { connector_id: connector.external_id.clone(), station_id: station.external_id.clone(), status: change.status, at: change.at };
            if let Ok(event) = Event::default().event("connector.status_changed").json_data(&event) {
                yield Ok(event);
            }
        }
    };
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
