//! Test hook (only with `test_hooks = true`): credit a driver's wallet without a payment, so
//! tests and demos that are about something else can fund a wallet in one call. Production has
//! no such door: there a wallet is credited only by a settled gateway payment.

use axum::extract::State;
use domain::money::Money;
use serde::{Deserialize, Serialize};
use services::Error;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;
use crate::http::error::{ApiResult, ErrorBody};
use crate::http::extract::Json;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(credit))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreditRequest {
    /// The driver's phone number.
    pub phone: String,
    /// Yuan, e.g. "200.00".
    #[schema(value_type = String)]
    pub amount: Money,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreditAnswer {
    #[schema(value_type = String)]
    pub balance: Money,
}

/// Credit a driver's wallet without paying (test hook).
#[utoipa::path(post, path = "/sandbox/pay/test/wallet-credit", tag = "sandbox", request_body = CreditRequest,
    responses((status = 200, body = CreditAnswer), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn credit(State(state): State<AppState>, Json(request): Json<CreditRequest>) -> ApiResult<Json<CreditAnswer>> {
    let user = {
        let mut conn = state.services.db.acquire().await.map_err(Error::from)?;
        store::users::by_phone(&mut conn, request.phone.trim()).await.map_err(Error::from)?.ok_or(Error::not_found("user"))?
    };
    let balance = state.services.sandbox_credit_wallet(user.id, request.amount).await?;
    Ok(Json(CreditAnswer { balance }))
}
