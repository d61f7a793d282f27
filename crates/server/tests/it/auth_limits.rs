//! Guessing passwords and secrets, over real HTTP: per-address rate limits, per-account
//! lockouts (the right password is refused while locked), unknown accounts verified against a
//! dummy hash, and OAuth2 tokens that die with the credential that minted them.

use crate::common;

use chrono::Duration;
use common::{Backend, CODE_A, TestApp, application};
use serde_json::{Value, json};

on_both_backends!(
    repeated_wrong_passwords_lock_the_account,
    over_the_per_address_limit_is_429_with_retry_after,
    unknown_accounts_are_verified_against_a_dummy_hash,
    tokens_stop_when_the_minting_credential_ends,
);

const PASSWORD: &str = "correct horse battery";

fn assert_too_many(status: u16, body: &Value, retry_after: Option<&str>) {
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "too_many_attempts", "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("try again")), "{body}");
    assert!(body["error"]["message_zh"].as_str().is_some_and(|m| m.contains("秒后再试")), "{body}");
    assert!(retry_after.and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| s >= 1), "Retry-After: {retry_after:?}");
}

async fn post_raw(app: &TestApp, path: &str, body: &Value) -> (u16, Value, Option<String>) {
    let response = app.http.post(app.url(path)).json(body).send().await.unwrap();
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (status, body) = common::read(response).await;
    (status, body, retry_after)
}

async fn token_raw(app: &TestApp, client_id: &str, secret: &str) -> (u16, Value, Option<String>) {
    let response = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", client_id), ("client_secret", secret)])
        .send()
        .await
        .unwrap();
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (status, body) = common::read(response).await;
    (status, body, retry_after)
}

/// Registers and approves a partner; returns (id, portal token, client id, client secret).
async fn approved_partner(app: &TestApp, admin: &str) -> (String, String, String, String) {
    let (id, portal) = app.register(&application(CODE_A)).await;
    let (status, _) = app.post(&format!("/api/admin/v1/partners/{id}/approve"), Some(admin), &json!({})).await;
    assert_eq!(status, 200);
    let (_, creds) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    let client_id = creds["api"][0]["client_id"].as_str().unwrap().to_owned();
    let secret = creds["api"][0]["client_secret"].as_str().unwrap().to_owned();
    (id, portal, client_id, secret)
}

/// 连续输错密码 5 次 → 账户锁定，正确密码也被拒（429 + Retry-After）；锁定期过后恢复。
async fn repeated_wrong_passwords_lock_the_account(backend: Backend) {
    let app = TestApp::start_with(backend, |c| {
        c.auth.lockout_after_failures = 5;
        c.auth.lockout_seconds = 900;
        // Only the per-account lockout is under test here.
        c.auth.login_per_address_burst = 1000;
    })
    .await;
    let admin = app.admin_token().await;
    app.services.create_admin("alice", PASSWORD).await.unwrap();
    for _ in 0..5 {
        let (status, body, _) = post_raw(&app, "/api/admin/v1/login", &json!({"username": "alice", "password": "wrong password!"})).await;
        assert_eq!(status, 401, "{body}");
    }
    let (status, body, retry_after) = post_raw(&app, "/api/admin/v1/login", &json!({"username": "alice", "password": PASSWORD})).await;
    assert_too_many(status, &body, retry_after.as_deref());
    app.advance(Duration::seconds(901));
    let (status, body, _) = post_raw(&app, "/api/admin/v1/login", &json!({"username": "alice", "password": PASSWORD})).await;
    assert_eq!(status, 200, "the lock ends: {body}");

    // Drivers: the same.
    let (status, _) = app.post("/api/app/v1/users", None, &json!({"phone": "13912345678", "password": "drive-safely"})).await;
    assert_eq!(status, 201);
    for _ in 0..5 {
        let (status, _, _) = post_raw(&app, "/api/app/v1/sessions", &json!({"phone": "13912345678", "password": "not-my-password"})).await;
        assert_eq!(status, 401);
    }
    let (status, body, retry_after) = post_raw(&app, "/api/app/v1/sessions", &json!({"phone": "13912345678", "password": "drive-safely"})).await;
    assert_too_many(status, &body, retry_after.as_deref());

    // OAuth2 clients: the same, answered in the project's error format.
    let (_id, _portal, client_id, secret) = approved_partner(&app, &admin).await;
    for _ in 0..5 {
        let (status, body, _) = token_raw(&app, &client_id, "not-the-secret").await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
    }
    let (status, body, retry_after) = token_raw(&app, &client_id, &secret).await;
    assert_too_many(status, &body, retry_after.as_deref());
    app.cleanup().await;
}

/// 同一地址超出频率限制 → 429（JSON 错误格式，中英双语，带 Retry-After）。
async fn over_the_per_address_limit_is_429_with_retry_after(backend: Backend) {
    let app = TestApp::start_with(backend, |c| {
        c.auth.login_per_address_burst = 3;
        c.auth.login_per_address_per_minute = 1;
    })
    .await;
    app.services.create_admin("alice", PASSWORD).await.unwrap();
    for _ in 0..3 {
        let (status, body, _) = post_raw(&app, "/api/admin/v1/login", &json!({"username": "alice", "password": "wrong password!"})).await;
        assert_eq!(status, 401, "{body}");
    }
    let (status, body, retry_after) = post_raw(&app, "/api/admin/v1/login", &json!({"username": "alice", "password": PASSWORD})).await;
    assert_too_many(status, &body, retry_after.as_deref());
    let (status, body, retry_after) = post_raw(&app, "/api/app/v1/users", &json!({"phone": "13912345678", "password": "drive-safely"})).await;
    assert_too_many(status, &body, retry_after.as_deref());
    let (status, body, retry_after) = token_raw(&app, "cb_unknown", "whatever").await;
    assert_too_many(status, &body, retry_after.as_deref());
    // Other endpoints are not limited.
    let (status, _) = app.get("/healthz", None).await;
    assert_eq!(status, 200);
    app.cleanup().await;
}

/// 不存在的账户也要执行一次哈希校验（与真实账户耗时相同，无法据此探测用户名）。
async fn unknown_accounts_are_verified_against_a_dummy_hash(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.services.create_admin("alice", PASSWORD).await.unwrap();
    let guard = app.services.login_guard.clone();
    let before = guard.unknown_account_verifications();
    let (status, _, _) = post_raw(&app, "/api/admin/v1/login", &json!({"username": "alice", "password": "wrong password!"})).await;
    assert_eq!(status, 401);
    assert_eq!(guard.unknown_account_verifications(), before, "a known account is verified against its own hash");
    let (status, _, _) = post_raw(&app, "/api/admin/v1/login", &json!({"username": "nobody", "password": "wrong password!"})).await;
    assert_eq!(status, 401);
    let (status, _, _) = post_raw(&app, "/api/app/v1/sessions", &json!({"phone": "13800000000", "password": "whatever1"})).await;
    assert_eq!(status, 401);
    let (status, _, _) = token_raw(&app, "cb_unknown", "whatever").await;
    assert_eq!(status, 401);
    assert_eq!(guard.unknown_account_verifications(), before + 3, "each unknown account ran the dummy hash");
    app.cleanup().await;
}

/// 凭证轮换：旧凭证重叠期结束时，它签发的访问令牌一并失效（即使令牌本身尚未过期）。
async fn tokens_stop_when_the_minting_credential_ends(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin_token().await;
    let (_id, portal, old_id, old_secret) = approved_partner(&app, &admin).await;
    let (status, rotated) = app.post("/api/portal/v1/partners/me/credentials/rotate", Some(&portal), &json!({"kind": "api"})).await;
    assert_eq!(status, 200, "{rotated}");
    let new = rotated["api"].as_array().unwrap().iter().find(|c| c["client_id"] != old_id.as_str()).expect("new credential").clone();
    let (new_id, new_secret) = (new["client_id"].as_str().unwrap().to_owned(), new["client_secret"].as_str().unwrap().to_owned());

    // Half an hour before the overlap ends, the old credential mints a 2-hour token.
    app.advance(Duration::hours(23) + Duration::minutes(30));
    let (status, old_token) = app.token(&old_id, &old_secret).await;
    assert_eq!(status, 200, "{old_token}");
    let old_access = old_token["access_token"].as_str().unwrap().to_owned();
    let (_, new_token) = app.token(&new_id, &new_secret).await;
    let new_access = new_token["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/api/partner/v1/me", Some(&old_access)).await.0, 200);

    // The overlap ends: the old credential's token stops with it, the new one's works on.
    app.advance(Duration::minutes(31));
    let (status, body) = app.get("/api/partner/v1/me", Some(&old_access)).await;
    assert_eq!(status, 401, "a token outlives the credential that minted it: {body}");
    assert_eq!(app.get("/api/partner/v1/me", Some(&new_access)).await.0, 200);
    app.cleanup().await;
}
