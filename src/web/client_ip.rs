//! The client's address. Forwarded headers are believed only when the TCP peer is one of the
//! configured trusted proxies; otherwise anyone could choose the address that login throttling
//! and the audit log see.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use super::state::AppState;

#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl ClientIp {
    pub fn to_string_opt(self) -> Option<String> {
        self.0.map(|ip| ip.to_string())
    }
}

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    // An IPv4 peer may arrive as an IPv4-mapped IPv6 address on a dual-stack socket.
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    proxies.iter().any(|net| net.contains(&ip))
}

/// Addresses named by the forwarding headers, nearest hop last. `Forwarded` (RFC 7239) wins
/// over `X-Forwarded-For` when both are present.
fn forwarded_chain(headers: &HeaderMap) -> Vec<IpAddr> {
    let forwarded: Vec<IpAddr> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                k.eq_ignore_ascii_case("for").then(|| parse_node(v))?
            })
        })
        .collect();
    if !forwarded.is_empty() {
        return forwarded;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| parse_node(s.trim()))
        .collect()
}

/// Parses `1.2.3.4`, `1.2.3.4:5678`, `"[2001:db8::1]:4711"` or `2001:db8::1`.
fn parse_node(raw: &str) -> Option<IpAddr> {
    let s = raw.trim().trim_matches('"');
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    s.strip_prefix('[')
        .and_then(|r| r.split(']').next())
        .and_then(|h| h.parse().ok())
}

/// The client address: the peer, or, behind trusted proxies, the nearest untrusted hop.
pub fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, proxies: &[IpNet]) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted(peer, proxies) {
        return Some(peer);
    }
    let chain = forwarded_chain(headers);
    chain
        .iter()
        .rev()
        .find(|ip| !trusted(**ip, proxies))
        .or(chain.first())
        .copied()
        .or(Some(peer))
}

pub async fn middleware(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = resolve(peer, request.headers(), &state.config.trusted_proxies);
    request.extensions_mut().insert(ClientIp(ip));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    #[test]
    fn untrusted_peer_cannot_spoof() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("cidr")];
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        let peer: IpAddr = "192.0.2.7".parse().expect("ip");
        assert_eq!(resolve(Some(peer), &h, &proxies), Some(peer));
    }

    #[test]
    fn trusted_proxy_chain_is_walked_from_the_right() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("cidr")];
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.9, 10.0.0.3")]);
        let peer: IpAddr = "10.0.0.2".parse().expect("ip");
        assert_eq!(
            resolve(Some(peer), &h, &proxies),
            Some("198.51.100.9".parse().expect("ip"))
        );
    }

    #[test]
    fn forwarded_header_is_understood() {
        let proxies: Vec<IpNet> = vec!["127.0.0.1/32".parse().expect("cidr")];
        let h = headers(&[("forwarded", "for=\"[2001:db8::5]:4711\";proto=https")]);
        let peer: IpAddr = "127.0.0.1".parse().expect("ip");
        assert_eq!(
            resolve(Some(peer), &h, &proxies),
            Some("2001:db8::5".parse().expect("ip"))
        );
    }
}
