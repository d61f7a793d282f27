//! The HTTP client we call partners with (T/CEC 102 peers, webhooks). Unless private endpoints
//! are allowed, every connection's address is checked when it is made, not only when the
//! endpoint was registered: names are resolved by a resolver that drops non-public addresses
//! (so a name re-pointed at an internal address later — DNS rebinding — is refused), literal
//! addresses are checked before the client is used, and redirects are not followed (a partner
//! could redirect us anywhere).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use domain::endpoint::{host_and_port, non_public_reason};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Resolves with the system resolver and keeps only public addresses.
struct PublicAddressesOnly;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Resolve for PublicAddressesOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(public_addresses(name.as_str().to_owned()))
    }
}

async fn public_addresses(host: String) -> Result<Addrs, BoxError> {
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
    let public: Vec<SocketAddr> = found.into_iter().filter(|a| non_public_reason(a.ip()).is_none()).collect();
    if public.is_empty() {
        tracing::warn!(%host, "a partner endpoint resolves to no public address; not called");
        return Err(format!("{host} resolves to no public address; partner endpoints must be public").into());
    }
    Ok(Box::new(public.into_iter()))
}

/// The client for calls to partners.
pub fn partner_client(allow_private: bool) -> anyhow::Result<reqwest::Client> {
    let builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    let builder = if allow_private { builder } else { builder.dns_resolver(Arc::new(PublicAddressesOnly)) };
    builder.build().context("building the HTTP client for partners")
}

/// Refuses a URL whose host is a literal non-public address (names are checked by the
/// resolver of [`partner_client`] at each connection).
pub fn check_literal_address(url: &str, allow_private: bool) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    let Some((host, _)) = host_and_port(url) else { return Err(format!("{url} is not an http(s) URL")) };
    match host.parse::<std::net::IpAddr>().ok().and_then(|ip| non_public_reason(ip).map(|why| (ip, why))) {
        Some((ip, why)) => Err(format!("{ip} is a {why} address; partner endpoints must be public")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name that resolves to loopback when we call it (whatever it resolved to when it was
    /// registered) is not connected to; with private endpoints allowed it is.
    #[tokio::test]
    async fn names_resolving_to_internal_addresses_are_not_called() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let app = axum::Router::new().route("/", axum::routing::get(|| async { "internal" }));
            axum::serve(listener, app).await.unwrap();
        });
        let url = format!("http://localhost:{port}/");
        let refused = partner_client(false).unwrap().get(&url).send().await;
        assert!(refused.is_err(), "called an internal address: {refused:?}");
        let allowed = partner_client(true).unwrap().get(&url).send().await.unwrap();
        assert_eq!(allowed.text().await.unwrap(), "internal");
    }

    #[test]
    fn literal_internal_addresses_are_refused() {
        assert!(check_literal_address("http://127.0.0.1:9001/evcs", false).is_err());
        assert!(check_literal_address("http://[::1]/evcs", false).is_err());
        assert!(check_literal_address("http://10.1.1.1/evcs", true).is_ok());
        assert!(check_literal_address("https://cpo.example.cn/evcs", false).is_ok());
        assert!(check_literal_address("http://8.8.8.8/evcs", false).is_ok());
    }
}
