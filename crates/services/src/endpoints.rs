//! A partner's endpoint is checked when it is registered: its host is resolved, and an address
//! that is not public (loopback, private, link-local, …; `domain::endpoint`) is refused unless
//! `allow_private_endpoints` is set. The same rule is applied again on every connection by the
//! HTTP client we call partners with, so a name that later resolves elsewhere (DNS rebinding)
//! is refused then too.

use std::time::Duration;

use domain::endpoint::{host_and_port, non_public_reason};

use crate::{Error, Result, Services};

/// How long registration waits for DNS.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

impl Services {
    /// Refuses `url` (the value of `field`) if its host is or resolves to an address we must not
    /// call. A name that does not resolve now is accepted: calls to it fail until it does, and
    /// each connection is checked again when it is made.
    pub async fn check_partner_endpoint(&self, field: &'static str, url: &str) -> Result<()> {
        if self.settings.allow_private_endpoints {
            return Ok(());
        }
        let Some((host, port)) = host_and_port(url) else {
            return Err(Error::invalid(field, "must be an absolute http:// or https:// URL with a host", "须为 http(s):// 开头的完整地址"));
        };
        let addresses: Vec<std::net::IpAddr> = match host.parse() {
            Ok(ip) => vec![ip],
            Err(_) => match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host.as_str(), port))).await {
                Ok(Ok(found)) => found.map(|a| a.ip()).collect(),
                Ok(Err(e)) => {
                    tracing::info!(%host, error = %e, "a partner endpoint does not resolve now; accepted, checked again at each call");
                    Vec::new()
                }
                Err(_) => {
                    tracing::info!(%host, "resolving a partner endpoint timed out; accepted, checked again at each call");
                    Vec::new()
                }
            },
        };
        if let Some((ip, why)) = addresses.iter().find_map(|ip| non_public_reason(*ip).map(|why| (ip, why))) {
            return Err(Error::invalid(
                field,
                format!("{host} is at {ip}, a {why} address; endpoints must be reachable on the public internet"),
                format!("{host} 指向 {ip}（内网、回环或保留地址），对接地址须为公网可访问的地址"),
            ));
        }
        Ok(())
    }
}

impl Services {
    /// Moves an approved REST (or OCPI) partner's callback base — where our commands and
    /// webhooks go — to `url`, checked as at registration. T/CEC 102 partners register their
    /// endpoint with their secrets instead (`set_cec_peer`).
    pub async fn set_callback_base_url(&self, partner_id: uuid::Uuid, url: &str, actor: &crate::onboarding::Actor) -> Result<domain::partner::Partner> {
        let url = url.trim().trim_end_matches('/').to_owned();
        if let Err(message) = domain::partner::validate_base_url(&url) {
            return Err(Error::invalid("callback_base_url", message, "须为 http(s):// 开头的完整地址"));
        }
        self.check_partner_endpoint("callback_base_url", &url).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut partner = store::partners::get(&mut tx, partner_id).await?.ok_or(Error::not_found("partner"))?;
        if partner.application.protocol == domain::partner::Protocol::Cec102 {
            return Err(Error::Conflict {
                code: "wrong_protocol",
                field: Some("callback_base_url"),
                message: "T/CEC 102 partners register their endpoint with PUT /partners/me/cec-peer".into(),
                message_zh: "T/CEC 102 合作方请通过 PUT /partners/me/cec-peer 登记对接地址".into(),
            });
        }
        Self::require_approved(&partner)?;
        let previous = std::mem::replace(&mut partner.application.callback_base_url, url.clone());
        store::partners::update_application(&mut tx, partner_id, &partner.application, now).await?;
        let change = format!("{previous} -> {url}");
        let entry = crate::onboarding::audit_entry(actor, "set_callback_base_url", partner_id, None, None, Some(&change), now);
        store::audit::record(&mut tx, &entry).await?;
        tx.commit().await.map_err(store::Error::from)?;
        self.partner_changes.changed();
        Ok(partner)
    }
}
