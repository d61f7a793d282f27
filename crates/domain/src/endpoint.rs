//! Which addresses a partner's endpoint may point at. We call partners' servers from inside our
//! network, so an endpoint on loopback, a private range or a link-local address would let a
//! partner make us call our own internal services. Those are refused unless the operator allows
//! them (tests, on-premise peers).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why `ip` is not a public address we may call, or `None` when it is.
pub fn non_public_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_reason(v4),
            None => v6_reason(v6),
        },
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if a == 100 && (64..128).contains(&b) {
        Some("carrier-grade NAT")
    } else if ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        Some("multicast, broadcast or reserved")
    } else {
        None
    }
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_unspecified() {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if first & 0xfe00 == 0xfc00 {
        Some("unique local (private)")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else {
        None
    }
}

/// The host and port of an `http(s)://` URL (port defaulted by scheme); IPv6 brackets removed.
pub fn host_and_port(url: &str) -> Option<(String, u16)> {
    let (rest, default_port) = match url.trim() {
        u if u.starts_with("https://") => (&u[8..], 443),
        u if u.starts_with("http://") => (&u[7..], 80),
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default_port,
    };
    (!host.is_empty()).then(|| (host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(ip: &str) -> Option<&'static str> {
        non_public_reason(ip.parse().unwrap())
    }

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(reason(ip).is_some(), "{ip}");
        }
        for ip in ["8.8.8.8", "114.114.114.114", "100.128.0.1", "2400:3200::1"] {
            assert_eq!(reason(ip), None, "{ip}");
        }
    }

    #[test]
    fn hosts_and_ports_are_read() {
        assert_eq!(host_and_port("https://CPO.example.cn/evcs"), Some(("cpo.example.cn".into(), 443)));
        assert_eq!(host_and_port("http://127.0.0.1:9001/evcs"), Some(("127.0.0.1".into(), 9001)));
        assert_eq!(host_and_port("http://[::1]:8080"), Some(("::1".into(), 8080)));
        assert_eq!(host_and_port("http://user:pw@10.0.0.1/x"), Some(("10.0.0.1".into(), 80)));
        assert_eq!(host_and_port("ftp://x"), None);
        assert_eq!(host_and_port("http://:80"), None);
    }
}
