//! The operator side of the partner REST API (flow A, scope `cpo`): a charge-point operator
//! uploads its stations and their live status to us. Identifiers in paths and bodies are the
//! operator's own; a partner only ever reaches its own stations and connectors (anyone else's
//! id answers 404 and changes nothing).
//!
//! Batches answer one result per item, in order: good items are stored even when others are
//! refused, so a partner can resend just the refused ones.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use domain::partner::FieldError;
use serde::{Deserialize, Serialize};
use services::Error;
use services::oauth::PartnerPrincipal;
use services::partner_catalog::{ItemResult, StationUpload, StatusOutcome, UploadOutcome};
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiResult, ErrorBody};
use super::extract::{Json, PartnerToken, Path};
use super::json_fields::from_path_error;
use super::partner_cpo_input::{ConnectorStatusInput, StationInput, StatusInput, check_identifier, parse_station};

/// Most items in one batch call (stations or status changes).
pub const MAX_BATCH: usize = 1_000;
/// A full batch of stations with many piles is a few megabytes; the default body limit is
/// sized for single objects.
const BATCH_BODY_LIMIT: usize = 32 * 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(put_station, delete_station))
        .routes(routes!(batch_stations).layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT)))
        .routes(routes!(put_status))
        .routes(routes!(batch_status).layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT)))
}

/// The operator's scope; every endpoint here needs it.
fn require_cpo(principal: &PartnerPrincipal) -> ApiResult<()> {
    principal.require_scope("cpo")?;
    Ok(())
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StationResultStatus {
    Created,
    Updated,
    Invalid,
}

#[derive(Serialize, ToSchema)]
pub struct FieldProblem {
    /// Path of the field within the item, e.g. `piles[0].connectors[1].power_kw`.
    pub field: String,
    pub message: String,
    pub message_zh: String,
}

fn problems(errors: Vec<FieldError>) -> Vec<FieldProblem> {
    errors.into_iter().map(|e| FieldProblem { field: e.field.into_owned(), message: e.message, message_zh: e.message_zh }).collect()
}

/// A stored station.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"station_id": "SZ-NS-001", "id": "0193a5b4-3d44-7b52-a6f7-a8b9c0d1e2f3", "status": "created"}))]
pub struct StationStored {
    /// Your station id.
    pub station_id: String,
    /// Our id for it (what our app and our other partners see).
    pub id: Uuid,
    pub status: StationResultStatus,
}

/// Creates or replaces one of your stations with its piles, connectors and prices. Connectors
/// the new version leaves out are retired; the ones it keeps keep their live status.
#[utoipa::path(put, path = "/stations/{station_id}", tag = "partner-cpo", security(("oauth2" = ["cpo"])),
    params(("station_id" = String, Path, description = "your station id", min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_.-]+$")),
    request_body = StationInput,
    responses(
        (status = 201, body = StationStored, description = "created"),
        (status = 200, body = StationStored, description = "replaced"),
        (status = 403, body = ErrorBody, description = "the token lacks the `cpo` scope"),
        (status = 422, body = ErrorBody, description = "invalid station: every bad field is listed in `fields`")))]
async fn put_station(
    State(state): State<AppState>,
    PartnerToken(principal): PartnerToken,
    Path(station_id): Path<String>,
    Json(input): Json<StationInput>,
) -> ApiResult<(StatusCode, Json<StationStored>)> {
    require_cpo(&principal)?;
    let mut errors = Vec::new();
    if input.id.as_deref().is_some_and(|id| id != station_id) {
        errors.push(FieldError::new("id", "differs from the station id in the path", "与路径中的充电站编号不一致"));
    }
    let upload = match parse_station(&station_id, &input) {
        Ok(upload) if errors.is_empty() => upload,
        Ok(_) => return Err(Error::Invalid(errors).into()),
        Err(more) => return Err(Error::Invalid(errors.into_iter().chain(more).collect()).into()),
    };
    let mut results = state.services.upload_partner_stations(principal.partner_id, std::slice::from_ref(&upload)).await?;
    let stored = results.pop().ok_or_else(|| Error::Internal("no upload result".into()))?.map_err(Error::Invalid)?;
    let (status, word) = match stored.outcome {
        UploadOutcome::Created => (StatusCode::CREATED, StationResultStatus::Created),
        UploadOutcome::Updated => (StatusCode::OK, StationResultStatus::Updated),
    };
    Ok((status, Json(StationStored { station_id, id: stored.id, status: word })))
}

/// Retires one of your stations: it leaves our search and our partners' views at once.
#[utoipa::path(delete, path = "/stations/{station_id}", tag = "partner-cpo", security(("oauth2" = ["cpo"])),
    params(("station_id" = String, Path, description = "your station id", min_length = 1, max_length = 64)),
    responses(
        (status = 204, description = "retired"),
        (status = 403, body = ErrorBody, description = "the token lacks the `cpo` scope"),
        (status = 404, body = ErrorBody, description = "you have no station in service with this id")))]
async fn delete_station(State(state): State<AppState>, PartnerToken(principal): PartnerToken, Path(station_id): Path<String>) -> ApiResult<StatusCode> {
    require_cpo(&principal)?;
    state.services.retire_partner_station(principal.partner_id, &station_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Up to 1,000 stations, each with its own `id`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"stations": [{"id": "SZ-NS-002", "name": "南山西充电站", "address": "广东省深圳市南山区西丽 2 号",
    "area_code": "440305", "lat": 22.5801, "lng": 113.9512, "coordinate_system": "wgs84",
    "tariff": {"periods": [{"start": "00:00", "electricity_price": "0.6500", "service_price": "0.5000"}]},
    "piles": [{"id": "W1", "type": "ac", "power_kw": "7", "connectors": [{"id": "W1-1", "type": "ac_cable", "power_kw": "7"}]}]}]}))]
pub struct StationBatch {
    /// Read one by one, so that a bad item is reported without spoiling the others.
    #[schema(value_type = Vec<StationInput>, min_items = 1, max_items = 1000)]
    pub stations: Vec<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct StationBatchItem {
    /// Position of the item in the request, from 0.
    pub index: usize,
    /// The item's `id`, when it had one.
    pub station_id: Option<String>,
    /// Our id for the stored station.
    pub id: Option<Uuid>,
    pub status: StationResultStatus,
    /// Why the item was refused (empty unless `invalid`).
    pub errors: Vec<FieldProblem>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"created": 1, "updated": 0, "invalid": 1, "results": [{"index": 0, "station_id": "SZ-NS-002", "id": "0193a5b4-3d44-7b52-a6f7-a8b9c0d1e2f4", "status": "created", "errors": []}, {"index": 1, "station_id": "SZ-NS-003", "status": "invalid", "errors": [{"field": "piles[0].connectors[1].power_kw", "message": "must be a positive number of kW", "message_zh": "功率须为正数（kW）"}]}]}))]
pub struct StationBatchResult {
    pub created: usize,
    pub updated: usize,
    pub invalid: usize,
    /// One per item, in request order.
    pub results: Vec<StationBatchItem>,
}

/// The batch size rule, shared by both batch endpoints.
fn check_batch_size(field: &'static str, len: usize) -> ApiResult<()> {
    if len == 0 || len > MAX_BATCH {
        return Err(Error::invalid(
            field,
            format!("a batch holds 1 to {MAX_BATCH} items, this one has {len}; split it"),
            format!("每批 1 到 {MAX_BATCH} 项，本批 {len} 项，请拆分后重试"),
        )
        .into());
    }
    Ok(())
}

/// An item read on its own: its type errors are reported under its own field paths.
fn read_item<T: serde::de::DeserializeOwned>(value: &serde_json::Value) -> Result<T, Vec<FieldError>> {
    serde_path_to_error::deserialize(value).map_err(|e| match from_path_error(&e) {
        Error::Invalid(errors) => errors,
        other => vec![FieldError::new("body", other.to_string(), other.message_zh())],
    })
}

/// Creates or replaces up to 1,000 of your stations in one call. Good items are stored, bad
/// ones are reported by index and field; the answer is 200 either way.
#[utoipa::path(post, path = "/stations:batch", tag = "partner-cpo", security(("oauth2" = ["cpo"])),
    request_body = StationBatch,
    responses(
        (status = 200, body = StationBatchResult, description = "one result per item"),
        (status = 403, body = ErrorBody, description = "the token lacks the `cpo` scope"),
        (status = 422, body = ErrorBody, description = "not a batch, or more than 1,000 items (`stations`)")))]
async fn batch_stations(
    State(state): State<AppState>,
    PartnerToken(principal): PartnerToken,
    Json(batch): Json<StationBatch>,
) -> ApiResult<Json<StationBatchResult>> {
    require_cpo(&principal)?;
    check_batch_size("stations", batch.stations.len())?;
    let mut parsed: Vec<(Option<String>, ItemResult<StationUpload>)> = Vec::with_capacity(batch.stations.len());
    for value in &batch.stations {
        let input: StationInput = match read_item(value) {
            Ok(input) => input,
            Err(errors) => {
                parsed.push((value.get("id").and_then(|v| v.as_str()).map(str::to_owned), Err(errors)));
                continue;
            }
        };
        let Some(id) = input.id.clone() else {
            parsed.push((
                None,
                Err(vec![FieldError::new("id", "is missing; every station of a batch needs its id", "缺少此字段（批量上传的每个充电站都须有编号）")]),
            ));
            continue;
        };
        let upload = parse_station(&id, &input);
        parsed.push((Some(id), upload));
    }
    let uploads: Vec<StationUpload> = parsed.iter().filter_map(|(_, p)| p.as_ref().ok().cloned()).collect();
    let mut stored = state.services.upload_partner_stations(principal.partner_id, &uploads).await?.into_iter();
    let mut result = StationBatchResult { created: 0, updated: 0, invalid: 0, results: Vec::with_capacity(parsed.len()) };
    for (index, (station_id, item)) in parsed.into_iter().enumerate() {
        let outcome = match item {
            Err(errors) => Err(errors),
            Ok(_) => stored.next().ok_or_else(|| Error::Internal("an upload result went missing".into()))?,
        };
        let (id, status, errors) = match outcome {
            Ok(s) if s.outcome == UploadOutcome::Created => (Some(s.id), StationResultStatus::Created, Vec::new()),
            Ok(s) => (Some(s.id), StationResultStatus::Updated, Vec::new()),
            Err(errors) => (None, StationResultStatus::Invalid, problems(errors)),
        };
        match status {
            StationResultStatus::Created => result.created += 1,
            StationResultStatus::Updated => result.updated += 1,
            StationResultStatus::Invalid => result.invalid += 1,
        }
        result.results.push(StationBatchItem { index, station_id, id, status, errors });
    }
    Ok(Json(result))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusResult {
    /// Recorded.
    Applied,
    /// We already hold a reading observed later; this one changed nothing.
    Stale,
    /// You have no connector in service with this id.
    NotFound,
    /// The item is not valid (see `errors`).
    Invalid,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"connector_id": "P1-1", "result": "applied"}))]
pub struct StatusStored {
    pub connector_id: String,
    pub result: StatusResult,
}

/// Reports one connector's status as you observed it at `at`. A reading older than the one we
/// hold is answered `stale` and changes nothing.
#[utoipa::path(put, path = "/connectors/{connector_id}/status", tag = "partner-cpo", security(("oauth2" = ["cpo"])),
    params(("connector_id" = String, Path, description = "your connector id", min_length = 1, max_length = 64)),
    request_body = StatusInput,
    responses(
        (status = 200, body = StatusStored, description = "`applied`, or `stale` when we hold a later reading"),
        (status = 403, body = ErrorBody, description = "the token lacks the `cpo` scope"),
        (status = 404, body = ErrorBody, description = "you have no connector in service with this id"),
        (status = 422, body = ErrorBody, description = "invalid status, or `at` more than 5 minutes ahead of our clock")))]
async fn put_status(
    State(state): State<AppState>,
    PartnerToken(principal): PartnerToken,
    Path(connector_id): Path<String>,
    Json(input): Json<StatusInput>,
) -> ApiResult<Json<StatusStored>> {
    require_cpo(&principal)?;
    let outcome = state.services.report_partner_statuses(principal.partner_id, &[(connector_id.as_str(), input.status, input.at)]);
    let result = match outcome.first() {
        Some(StatusOutcome::Applied) => StatusResult::Applied,
        Some(StatusOutcome::Stale) => StatusResult::Stale,
        Some(StatusOutcome::InFuture) => return Err(Error::Invalid(in_future()).into()),
        Some(StatusOutcome::NotFound) | None => return Err(Error::not_found("connector").into()),
    };
    Ok(Json(StatusStored { connector_id, result }))
}

/// A reading dated too far ahead: see `MAX_STATUS_CLOCK_SKEW` for why it is refused.
fn in_future() -> Vec<FieldError> {
    let minutes = services::partner_catalog::MAX_STATUS_CLOCK_SKEW.num_minutes();
    vec![FieldError::new(
        "at",
        format!("is more than {minutes} minutes ahead of our clock; send the time you observed the status"),
        format!("比我方时钟超前 {minutes} 分钟以上，请填写实际观测时间"),
    )]
}

/// Up to 1,000 status changes.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"changes": [{"connector_id": "P1-1", "status": "charging", "at": "2026-12-05T09:30:00+08:00"},
                                      {"connector_id": "W1-1", "status": "available", "at": "2026-12-05T09:30:02+08:00"}]}))]
pub struct StatusBatch {
    #[schema(value_type = Vec<ConnectorStatusInput>, min_items = 1, max_items = 1000)]
    pub changes: Vec<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct StatusBatchItem {
    pub index: usize,
    pub connector_id: Option<String>,
    pub result: StatusResult,
    pub errors: Vec<FieldProblem>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"applied": 1, "stale": 1, "not_found": 0, "invalid": 1, "results": [{"index": 0, "connector_id": "P1-1", "result": "applied", "errors": []}, {"index": 1, "connector_id": "P1-2", "result": "stale", "errors": []}, {"index": 2, "connector_id": "P2-1", "result": "invalid", "errors": [{"field": "status", "message": "must be one of offline, available, occupied, charging, reserved, faulted", "message_zh": "状态取值无效"}]}]}))]
pub struct StatusBatchResult {
    pub applied: usize,
    pub stale: usize,
    pub not_found: usize,
    pub invalid: usize,
    /// One per item, in request order.
    pub results: Vec<StatusBatchItem>,
}

/// Reports up to 1,000 connector status changes in one call, one result per item. Within a batch
/// as across calls the reading with the latest `at` wins: an earlier one that comes after it is
/// answered `stale`.
#[utoipa::path(post, path = "/connectors/status:batch", tag = "partner-cpo", security(("oauth2" = ["cpo"])),
    request_body = StatusBatch,
    responses(
        (status = 200, body = StatusBatchResult, description = "one result per item"),
        (status = 403, body = ErrorBody, description = "the token lacks the `cpo` scope"),
        (status = 422, body = ErrorBody, description = "not a batch, or more than 1,000 items (`changes`)")))]
async fn batch_status(
    State(state): State<AppState>,
    PartnerToken(principal): PartnerToken,
    Json(batch): Json<StatusBatch>,
) -> ApiResult<Json<StatusBatchResult>> {
    require_cpo(&principal)?;
    check_batch_size("changes", batch.changes.len())?;
    let items: Vec<Result<ConnectorStatusInput, Vec<FieldError>>> = batch
        .changes
        .iter()
        .map(|v| {
            let item: ConnectorStatusInput = read_item(v)?;
            check_identifier(&item.connector_id).map_err(|(en, zh)| vec![FieldError::new("connector_id", en, zh)])?;
            Ok(item)
        })
        .collect();
    let readings: Vec<(&str, _, _)> = items.iter().filter_map(|i| i.as_ref().ok()).map(|i| (i.connector_id.as_str(), i.status, i.at)).collect();
    let mut outcomes = state.services.report_partner_statuses(principal.partner_id, &readings).into_iter();
    let mut result = StatusBatchResult { applied: 0, stale: 0, not_found: 0, invalid: 0, results: Vec::with_capacity(items.len()) };
    for (index, item) in items.into_iter().enumerate() {
        let (connector_id, status, errors) = match item {
            Err(errors) => (batch.changes[index].get("connector_id").and_then(|v| v.as_str()).map(str::to_owned), StatusResult::Invalid, problems(errors)),
            Ok(item) => match outcomes.next() {
                Some(StatusOutcome::Applied) => (Some(item.connector_id), StatusResult::Applied, Vec::new()),
                Some(StatusOutcome::Stale) => (Some(item.connector_id), StatusResult::Stale, Vec::new()),
                Some(StatusOutcome::InFuture) => (Some(item.connector_id), StatusResult::Invalid, problems(in_future())),
                Some(StatusOutcome::NotFound) | None => (Some(item.connector_id), StatusResult::NotFound, Vec::new()),
            },
        };
        match status {
            StatusResult::Applied => result.applied += 1,
            StatusResult::Stale => result.stale += 1,
            StatusResult::NotFound => result.not_found += 1,
            StatusResult::Invalid => result.invalid += 1,
        }
        result.results.push(StatusBatchItem { index, connector_id, result: status, errors });
    }
    Ok(Json(result))
}
