//! The OpenAPI document served at `/openapi.json` tells the truth about the responses: shapes,
//! statuses and content types. (`.ci/contract` fuzzes the whole document against `serve`; these
//! pin what it found.)

use crate::common;

use common::{Backend, CODE_A, TestApp, application};
use serde_json::{Value, json};

on_both_backends!(
    statement_differences_are_the_array_the_document_says,
    an_id_that_is_no_uuid_is_refused_in_json_as_documented,
    health_readiness_and_metrics_are_documented,
    every_operation_documents_what_its_inputs_and_token_can_be_refused_with,
    a_multipart_body_without_boundary_is_refused_in_json,
    rate_limits_and_missing_references_are_documented,
    every_partner_body_and_event_has_an_example,
);

async fn document(app: &TestApp) -> Value {
    let (status, doc) = app.get("/openapi.json", None).await;
    assert_eq!(status, 200);
    doc
}

async fn statement_differences_are_the_array_the_document_says(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin_token().await;
    let (id, _) = app.register(&application(CODE_A)).await;
    let (status, body) = app.post(&format!("/api/admin/v1/partners/{id}/approve"), Some(&admin), &json!({})).await;
    assert_eq!(status, 200, "{body}");
    let period = json!({"start": "2026-11-01T00:00:00+08:00", "end": "2026-12-01T00:00:00+08:00"});
    let (status, statement) = app.post(&format!("/api/admin/v1/partners/{id}/statements"), Some(&admin), &period).await;
    assert_eq!(status, 201, "{statement}");
    assert!(statement["differences"].is_array(), "{statement}");

    let doc = document(&app).await;
    assert_eq!(doc["components"]["schemas"]["StatementRecord"]["properties"]["differences"]["type"], "array");
    app.cleanup().await;
}

async fn an_id_that_is_no_uuid_is_refused_in_json_as_documented(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin_token().await;
    let (status, body) = app.get("/api/admin/v1/orders/not-a-uuid", Some(&admin)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_input", "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "path", "{body}");

    let doc = document(&app).await;
    let responses = &doc["paths"]["/api/admin/v1/orders/{id}"]["get"]["responses"];
    assert_eq!(responses["422"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody", "{responses}");
    app.cleanup().await;
}

async fn health_readiness_and_metrics_are_documented(backend: Backend) {
    let app = TestApp::start(backend).await;
    let doc = document(&app).await;
    for (path, content_type) in [("/healthz", "text/plain"), ("/readyz", "text/plain"), ("/metrics", "application/openmetrics-text")] {
        let ok = &doc["paths"][path]["get"]["responses"]["200"];
        assert!(ok["content"].get(content_type).is_some(), "{path}: {ok}");
        let response = app.http.get(app.url(path)).send().await.expect("request sent");
        assert_eq!(response.status(), 200, "{path}");
        let served = response.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(served.starts_with(content_type), "{path} served as {served}");
    }
    assert!(doc["paths"]["/readyz"]["get"]["responses"].get("503").is_some());
    app.cleanup().await;
}

async fn every_operation_documents_what_its_inputs_and_token_can_be_refused_with(backend: Backend) {
    let app = TestApp::start(backend).await;
    let doc = document(&app).await;
    let (status, _) = app.get("/api/admin/v1/partners", None).await;
    assert_eq!(status, 401);
    let list = &doc["paths"]["/api/admin/v1/partners"]["get"]["responses"];
    for status in ["200", "401", "422"] {
        assert!(list.get(status).is_some(), "GET /api/admin/v1/partners lacks {status}: {list}");
    }
    let (status, body) = app.post("/api/app/v1/charging/start", Some("cbu_nobody"), &json!({"connector_id": 5})).await;
    assert_eq!(status, 401, "{body}");
    let start = &doc["paths"]["/api/app/v1/charging/start"]["post"]["responses"];
    for status in ["201", "400", "401", "413", "422"] {
        assert!(start.get(status).is_some(), "POST /api/app/v1/charging/start lacks {status}: {start}");
    }
    // OAuth2 errors keep RFC 6749's own format, not ours.
    let token = &doc["paths"]["/oauth/token"]["post"]["responses"];
    assert_eq!(token["400"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/OAuthError");
    app.cleanup().await;
}

async fn a_multipart_body_without_boundary_is_refused_in_json(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (_, portal) = app.register(&application(CODE_A)).await;
    let response = app
        .http
        .post(app.url("/api/portal/v1/partners/me/documents"))
        .bearer_auth(&portal)
        .header("content-type", "multipart/form-data")
        .body("not a form")
        .send()
        .await
        .expect("request sent");
    let (status, body) = common::read(response).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "malformed_request", "{body}");
    let doc = document(&app).await;
    assert!(doc["paths"]["/api/portal/v1/partners/me/documents"]["post"]["responses"].get("400").is_some());
    app.cleanup().await;
}

async fn rate_limits_and_missing_references_are_documented(backend: Backend) {
    let app = TestApp::start(backend).await;
    let doc = document(&app).await;
    for path in ["/api/admin/v1/login", "/api/app/v1/users", "/api/app/v1/sessions", "/oauth/token"] {
        let responses = &doc["paths"][path]["post"]["responses"];
        assert_eq!(responses["429"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody", "{path}: {responses}");
    }
    assert!(doc["paths"]["/api/admin/v1/partners"]["get"]["responses"].get("429").is_none(), "only guarded endpoints are limited");
    // A reservation of a connector that does not exist is a 404, as documented.
    let (_, user) = app.post("/api/app/v1/users", None, &json!({"phone": "13900139001", "password": "correct horse battery"})).await;
    let token = user["token"].as_str().expect("driver token");
    let (status, body) = app.post("/api/app/v1/reservations", Some(token), &json!({"connector_id": "e3e70682-c209-1cac-a29f-6fbed82c07cd"})).await;
    assert_eq!(status, 404, "{body}");
    assert!(doc["paths"]["/api/app/v1/reservations"]["post"]["responses"].get("404").is_some());
    app.cleanup().await;
}

/// A partner integrating from `/docs` sees a whole example of every body it sends, every answer
/// it gets and every webhook it receives, and each example has its own schema's required fields.
async fn every_partner_body_and_event_has_an_example(backend: Backend) {
    let app = TestApp::start(backend).await;
    let doc = document(&app).await;
    let schemas = &doc["components"]["schemas"];
    let resolve = |schema: &Value| -> Value {
        match schema["$ref"].as_str() {
            Some(r) => schemas[r.rsplit('/').next().unwrap()].clone(),
            None => schema.clone(),
        }
    };
    let example_of = |media: &Value| -> Option<Value> { media.get("example").cloned().or_else(|| resolve(&media["schema"]).get("example").cloned()) };
    let mut missing = Vec::new();
    let mut bodies = 0;
    for (path, operations) in doc["paths"].as_object().unwrap().iter().filter(|(p, _)| p.starts_with("/api/partner/")) {
        for (method, op) in operations.as_object().unwrap() {
            let answers = op["responses"].as_object().into_iter().flatten().filter(|(code, _)| code.starts_with('2'));
            let media =
                op["requestBody"]["content"].as_object().into_iter().flatten().chain(answers.flat_map(|(_, r)| r["content"].as_object().into_iter().flatten()));
            for (content_type, media) in media {
                bodies += 1;
                match example_of(media) {
                    None => missing.push(format!("{method} {path} ({content_type})")),
                    Some(example) if content_type == "application/json" => {
                        let schema = resolve(&media["schema"]);
                        for field in schema["required"].as_array().into_iter().flatten() {
                            assert!(example.get(field.as_str().unwrap()).is_some(), "{method} {path}: the example lacks required {field}: {example}");
                        }
                    }
                    Some(_) => {}
                }
            }
        }
    }
    for event in ["WebhookEvent", "SessionEvent", "ConnectorStatusEvent", "ReservationEvent", "OrderPaidEvent", "StatementEvent"] {
        if schemas[event].get("example").is_none() {
            missing.push(event.to_owned());
        }
    }
    assert!(bodies >= 35, "the partner API's request and answer bodies: {bodies}");
    assert!(missing.is_empty(), "no example: {missing:#?}");
    app.cleanup().await;
}
