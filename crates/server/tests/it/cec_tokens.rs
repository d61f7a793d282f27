//! T/CEC 102 tokens and the replay guard live in the database: after a restart (a new instance
//! on the same database) a partner's token still works and a replayed request is still refused.

use crate::common;

use std::sync::Arc;

use cec::envelope::{RequestEnvelope, ResponseEnvelope};
use cec::{CecClient, ClientConfig, Keys, Ret, Secrets};
use chrono::Utc;
use common::{Backend, CODE_A, TestApp, application};
use serde_json::{Value, json};
use server::startup::Application;
use services::clock::ManualClock;

on_both_backends!(tokens_and_replay_guard_survive_a_restart);

fn secrets(set: &Value) -> Secrets {
    let s = |k: &str| set[k].as_str().unwrap().to_owned();
    Secrets::new(&s("operator_secret"), &s("data_secret"), &s("data_secret_iv"), &s("sig_secret"))
}

/// One signed, encrypted `query_stations_info` request, sent as is (so it can be sent again).
async fn send(http: &reqwest::Client, base: &str, token: &str, envelope: &RequestEnvelope) -> ResponseEnvelope {
    let response = http.post(format!("{base}/evcs/v1.0/query_stations_info")).bearer_auth(token).json(envelope).send().await.unwrap();
    ResponseEnvelope::parse(&response.bytes().await.unwrap()).unwrap()
}

/// 重启后（同一数据库上的新实例）：合作方的令牌仍然有效，重放的请求仍被拒绝。
async fn tokens_and_replay_guard_survive_a_restart(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin_token().await;
    let (id, portal) = app.register(&application(CODE_A)).await;
    app.post(&format!("/api/admin/v1/partners/{id}/approve"), Some(&admin), &json!({})).await;
    let (_, creds) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    let issued = secrets(&creds["cec_issued"][0]);
    let mut config = ClientConfig::new(&app.base, "v1.0", "MA5FCTXX0", issued.clone());
    config.max_attempts = 1;
    let token = CecClient::new(config, reqwest::Client::new()).unwrap().token().await.expect("a token");

    let keys = Keys::new(&issued).unwrap();
    let payload = serde_json::to_vec(&json!({"PageNo": 1, "PageSize": 10})).unwrap();
    let first = RequestEnvelope::seal(&keys, "MA5FCTXX0", &payload, Utc::now(), 1);
    let answer = send(&app.http, &app.base, &token, &first).await;
    assert!(answer.ret != Ret::Token.code() && !answer.msg.contains("replayed"), "the first request passes: {} {}", answer.ret, answer.msg);

    // The same platform restarted: a new instance on the same database (and master key).
    let restarted = Application::build_with_clock(app.config.clone(), Arc::new(ManualClock::new(Utc::now()))).await.expect("the restarted application builds");
    let base = format!("http://{}", restarted.local_addr());
    let restarted_services = restarted.services.clone();
    tokio::spawn(restarted.run(std::future::pending()));

    let replayed = send(&app.http, &base, &token, &first).await;
    assert!(replayed.msg.contains("replayed request"), "a replay after the restart is refused: {} {}", replayed.ret, replayed.msg);
    let fresh = RequestEnvelope::seal(&keys, "MA5FCTXX0", &payload, Utc::now(), 2);
    let answer = send(&app.http, &base, &token, &fresh).await;
    assert!(answer.ret != Ret::Token.code() && !answer.msg.contains("replayed"), "the token still works after the restart: {} {}", answer.ret, answer.msg);
    restarted_services.db.close().await;
    app.cleanup().await;
}
