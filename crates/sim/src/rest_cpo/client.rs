//! The simulator's calls to the platform: an OAuth2 client-credentials token, kept until a call
//! answers 401 and then fetched anew, and every report logged with the platform's answer so
//! tests (and the CLI's narration) can see what was sent and how it was taken.

use std::time::Duration;

use parking_lot::Mutex;
use reqwest::Method;
use serde_json::Value;

/// Where the platform is and the API client it issued to us.
#[derive(Debug, Clone)]
pub struct PlatformLink {
    /// e.g. `http://127.0.0.1:8080` (no trailing slash needed).
    pub base_url: String,
    pub client_id: String,
    pub client_secret: String,
}

/// One call to the platform and how it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// `stations`, `status`, `event`, `charge_record` or `reservation_event`.
    pub kind: &'static str,
    /// The path under `/api/partner/v1`.
    pub path: String,
    pub body: Value,
    /// Status and JSON answer, or the transport error.
    pub outcome: Result<(u16, Value), String>,
}

impl Report {
    /// True when the platform answered 2xx.
    pub fn ok(&self) -> bool {
        matches!(self.outcome, Ok((status, _)) if (200..300).contains(&status))
    }
}

pub(crate) struct PlatformClient {
    link: PlatformLink,
    http: reqwest::Client,
    token: Mutex<Option<String>>,
    /// Tokens fetched so far (a second one means a 401 was answered by refreshing).
    pub(crate) tokens_fetched: Mutex<usize>,
    pub(crate) log: Mutex<Vec<Report>>,
}

impl PlatformClient {
    pub(crate) fn new(link: PlatformLink, timeout: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder().timeout(timeout).build().map_err(|e| e.to_string())?;
        let link = PlatformLink { base_url: link.base_url.trim_end_matches('/').to_owned(), ..link };
        Ok(Self { link, http, token: Mutex::new(None), tokens_fetched: Mutex::new(0), log: Mutex::new(Vec::new()) })
    }

    async fn token(&self) -> Result<String, String> {
        if let Some(token) = self.token.lock().clone() {
            return Ok(token);
        }
        let form = [("grant_type", "client_credentials"), ("client_id", self.link.client_id.as_str()), ("client_secret", self.link.client_secret.as_str())];
        let response = self.http.post(format!("{}/oauth/token", self.link.base_url)).form(&form).send().await.map_err(|e| format!("token: {e}"))?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| format!("token answer ({status}): {e}"))?;
        let token = body["access_token"].as_str().ok_or_else(|| format!("token refused ({status}): {body}"))?.to_owned();
        *self.tokens_fetched.lock() += 1;
        *self.token.lock() = Some(token.clone());
        Ok(token)
    }

    /// Calls `/api/partner/v1{path}` with a JSON body; a 401 drops the token and tries once
    /// more with a fresh one (tokens expire after two hours, or the platform restarted).
    pub(crate) async fn call(&self, method: Method, path: &str, body: &Value) -> Result<(u16, Value), String> {
        for attempt in 0..2 {
            let token = self.token().await?;
            let url = format!("{}/api/partner/v1{path}", self.link.base_url);
            let response = self.http.request(method.clone(), url).bearer_auth(token).json(body).send().await.map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            if status == 401 && attempt == 0 {
                *self.token.lock() = None;
                continue;
            }
            let text = response.text().await.map_err(|e| e.to_string())?;
            let answer = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
            return Ok((status, answer));
        }
        Err("the platform refused a fresh token (401)".into())
    }

    /// A `POST` that is logged as a report of `kind`.
    pub(crate) async fn report(&self, kind: &'static str, path: String, body: Value) -> Report {
        let outcome = self.call(Method::POST, &path, &body).await;
        match &outcome {
            Ok((status, answer)) if !(200..300).contains(status) => tracing::warn!(%path, status, %answer, "the platform did not take a report"),
            Err(error) => tracing::warn!(%path, %error, "a report did not reach the platform"),
            Ok(_) => tracing::debug!(%path, "reported"),
        }
        let report = Report { kind, path, body, outcome };
        self.log.lock().push(report.clone());
        report
    }
}
