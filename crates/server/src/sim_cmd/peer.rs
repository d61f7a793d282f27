//! T/CEC 102 secrets of the simulated partner platforms, in the shapes operators already have:
//! what the platform issued comes from the portal's credentials answer, and what the simulator
//! issues is printed as the body of the portal's `PUT /partners/me/cec-peer`, so nothing has to
//! be copied field by field.

use std::path::Path;

use anyhow::{Context, bail};
use cec::Secrets;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct SecretSet {
    operator_secret: String,
    data_secret: String,
    data_secret_iv: String,
    sig_secret: String,
}

impl SecretSet {
    fn checked(self, source: &str) -> anyhow::Result<Secrets> {
        let secrets = Secrets::new(&self.operator_secret, &self.data_secret, &self.data_secret_iv, &self.sig_secret);
        cec::Keys::new(&secrets).with_context(|| format!("secrets in {source}"))?;
        Ok(secrets)
    }
}

/// What the platform issued to a partner for calling it (`Secrets` print redacted).
#[derive(Debug)]
pub struct Issued {
    pub secrets: Secrets,
    /// The OperatorID the platform knows the partner by, when the file says.
    pub operator_id: Option<String>,
    /// The platform's `/evcs/{version}/` segment.
    pub version: String,
}

/// Reads the platform's credentials for a partner: the whole answer of
/// `GET /api/portal/v1/partners/me/credentials`, one of its `cec_issued` entries, or a bare
/// `{operator_secret, data_secret, data_secret_iv, sig_secret}`. With several `cec_issued` sets
/// (during a rotation) the one for `operator_id` is taken, else the first.
pub fn read_issued(path: &Path, operator_id: &str) -> anyhow::Result<Issued> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    issued_from(&value, operator_id).with_context(|| format!("platform credentials in {}", path.display()))
}

fn issued_from(value: &Value, operator_id: &str) -> anyhow::Result<Issued> {
    let entry = match value.get("cec_issued") {
        Some(Value::Array(sets)) => sets
            .iter()
            .find(|s| s["operator_id"].as_str().is_some_and(|id| id.eq_ignore_ascii_case(operator_id)))
            .or_else(|| sets.first())
            .context("`cec_issued` is empty: the partner is not approved for T/CEC 102 yet")?,
        Some(_) => bail!("`cec_issued` must be a list"),
        None => value,
    };
    let set = SecretSet::deserialize(entry).context("expected operator_secret, data_secret, data_secret_iv and sig_secret")?;
    Ok(Issued {
        secrets: set.checked("the credentials")?,
        operator_id: entry["operator_id"].as_str().map(str::to_owned),
        version: entry["version_segment"].as_str().unwrap_or("v1.0").to_owned(),
    })
}

/// The secrets the simulator issues to the platform: from `path` (the JSON an earlier run
/// printed, so a restarted simulator keeps its registration) or fresh random ones.
pub fn own_secrets(path: Option<&Path>) -> anyhow::Result<Secrets> {
    let Some(path) = path else {
        let random = || services::secrets::random_alphanumeric(16);
        return Ok(Secrets::new(&random(), &random(), &random(), &random()));
    };
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let set: SecretSet =
        serde_json::from_str(&text).with_context(|| format!("{}: expected operator_secret, data_secret, data_secret_iv and sig_secret", path.display()))?;
    set.checked(&path.display().to_string())
}

/// The body of `PUT /api/portal/v1/partners/me/cec-peer` (plus the OperatorID, for the
/// operator's eyes): where the platform reaches the simulator and with which secrets.
pub fn peer_registration(operator_id: &str, base_url: &str, version: &str, secrets: &Secrets) -> Value {
    json!({
        "operator_id": operator_id,
        "base_url": base_url,
        "version_segment": version,
        "operator_secret": secrets.operator_secret,
        "data_secret": secrets.data_secret,
        "data_secret_iv": secrets.data_secret_iv,
        "sig_secret": secrets.sig_secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(op: &str) -> Value {
        json!({"operator_id": op, "operator_secret": "o", "data_secret": "0123456789abcdef", "data_secret_iv": "fedcba9876543210", "sig_secret": "s", "version_segment": "v2.0"})
    }

    #[test]
    fn takes_the_whole_credentials_answer_one_entry_or_a_bare_set() {
        let answer = json!({"api": [], "cec_issued": [set("AAAAAAAAA"), set("MA5FCTXX0")]});
        let issued = issued_from(&answer, "ma5fctxx0").unwrap();
        assert_eq!((issued.operator_id.as_deref(), issued.version.as_str()), (Some("MA5FCTXX0"), "v2.0"));
        assert_eq!(issued_from(&answer, "OTHER0000").unwrap().operator_id.as_deref(), Some("AAAAAAAAA"));
        assert!(issued_from(&set("MA5FCTXX0"), "x").is_ok());
        let bare = json!({"operator_secret": "o", "data_secret": "0123456789abcdef", "data_secret_iv": "fedcba9876543210", "sig_secret": "s"});
        assert_eq!(issued_from(&bare, "x").unwrap().version, "v1.0");
    }

    #[test]
    fn refuses_what_cannot_work() {
        assert!(issued_from(&json!({"cec_issued": []}), "x").unwrap_err().to_string().contains("not approved"));
        let mut short = set("MA5FCTXX0");
        short["data_secret"] = json!("short");
        assert!(issued_from(&short, "x").is_err(), "AES needs 16-byte keys");
        assert!(issued_from(&json!({"operator_secret": "o"}), "x").is_err());
    }
}
