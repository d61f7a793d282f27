//! The error answers every operation can give because of what it takes, not what it does:
//! documented here once instead of in each handler, so the OpenAPI document lists every status a
//! client can meet (a contract fuzzer checks that it does).

use utoipa::Modify;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, ResponseBuilder};

pub struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            for operation in [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten() {
                add_common(operation);
            }
            // The per-address limit in front of password and secret checks answers before them.
            if let Some(post) = item.post.as_mut().filter(|_| super::login_limits::GUARDED.contains(&path.as_str())) {
                add_429(post, "too many attempts from this address; retry after `Retry-After` seconds");
            }
            // Every partner API client has a request rate.
            if path.starts_with("/api/partner/") {
                for operation in [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten() {
                    add_429(operation, "over this client's request rate; retry after `Retry-After` seconds");
                }
            }
        }
    }
}

fn add_429(operation: &mut Operation, description: &str) {
    let response = ResponseBuilder::new().description(description).content("application/json", Content::new(Some(Ref::from_schema_name("ErrorBody")))).build();
    operation.responses.responses.entry("429".to_owned()).or_insert(RefOr::T(response));
}

fn add_common(operation: &mut Operation) {
    // The OAuth2 token endpoint answers in RFC 6749's own error format, documented by hand.
    if operation.tags.as_ref().is_some_and(|tags| tags.iter().any(|t| t == "oauth")) {
        return;
    }
    let params: Vec<ParameterIn> = operation
        .parameters
        .iter()
        .flatten()
        .filter_map(|p| match p {
            RefOr::T(p) => Some(p.parameter_in.clone()),
            RefOr::Ref(_) => None,
        })
        .collect();
    let has_path = params.iter().any(|p| matches!(p, ParameterIn::Path));
    let has_body = operation.request_body.is_some();
    let has_input = has_body || !params.is_empty();
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let mut add = |status: &str, description: &str| {
        let response =
            ResponseBuilder::new().description(description).content("application/json", Content::new(Some(Ref::from_schema_name("ErrorBody")))).build();
        operation.responses.responses.entry(status.to_owned()).or_insert(RefOr::T(response));
    };
    if has_body {
        add("400", "the body cannot be read (not JSON, wrong content type)");
        add("413", "the body is larger than this endpoint takes");
    }
    if has_input {
        add("422", "invalid input: every bad field is listed in `fields`");
    }
    if secured {
        add("401", "no token, an unknown or an expired one");
    }
    if has_path {
        add("404", "no such resource");
    }
}
