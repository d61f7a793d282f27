//! Flow B over our REST API: a platform partner (scope `emsp`) reads our stations with its
//! prices and the live status of our connectors, starts and stops its users' sessions on our
//! piles, and lists them for reconciliation. What happens on the pile afterwards reaches it as
//! signed webhooks (`events`), rendered from the same outbox messages T/CEC 102 partners get as
//! notifications.
//!
//! Request and response types live here: they are the published contract, not store rows.

mod cursor;
pub(crate) mod events;
mod idempotent;
mod refusal;
mod reservations;
mod sessions;
mod stations;
mod statuses;
mod stream;

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;

/// The scope every route here requires: the partner's role as a platform with users.
const SCOPE: &str = "emsp";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(events::EventCatalogue::openapi())
        .routes(routes!(stations::list_stations))
        .routes(routes!(stations::get_station))
        .routes(routes!(statuses::connector_statuses, statuses::connector_statuses_batch))
        .routes(routes!(stream::status_stream))
        .routes(routes!(sessions::start_session, sessions::list_sessions))
        .routes(routes!(sessions::get_session))
        .routes(routes!(sessions::stop_session))
        .routes(routes!(reservations::reserve))
        .routes(routes!(reservations::cancel_reservation))
}
