//! What a partner of our REST API needs in every test, written from the guide alone (no server
//! types): joining (register, approval, credentials, token) and checking our signatures.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;

use super::{TestApp, application};

/// A partner of our REST API registered with `roles` and `callback` (its callback base),
/// approved and holding a token: `(access token, webhook secret, partner id)`.
pub async fn join(app: &TestApp, admin: &str, credit_code: &str, roles: &str, callback: &str) -> (String, String, String) {
    let mut form = application(credit_code);
    form["roles"] = json!(roles);
    form["protocol"] = json!("rest_api");
    form["callback_base_url"] = json!(callback);
    let (id, portal) = app.register(&form).await;
    let (status, approved) = app.post(&format!("/api/admin/v1/partners/{id}/approve"), Some(admin), &json!({})).await;
    assert_eq!(status, 200, "{approved}");
    let (_, creds) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    let (client_id, secret) = (creds["api"][0]["client_id"].as_str().unwrap(), creds["api"][0]["client_secret"].as_str().unwrap());
    let (status, token) = app.token(client_id, secret).await;
    assert_eq!(status, 200, "{token}");
    (token["access_token"].as_str().unwrap().to_owned(), creds["webhook_secret"].as_str().unwrap().to_owned(), id)
}

/// Whether `header` (`t=<seconds>,v1=<hex>[,v1=<hex>…]`) signs `body` with `secret`: during a
/// key rotation more than one `v1` may come; one made with the secret we hold is enough.
pub fn signed_with(secret: &str, header: &str, body: &str) -> bool {
    let mut t = None;
    let mut given = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = Some(value.to_owned()),
            Some(("v1", value)) => given.push(value.to_owned()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    given.iter().filter_map(|v1| hex::decode(v1).ok()).any(|v1| mac.clone().verify_slice(&v1).is_ok())
}
