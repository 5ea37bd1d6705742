//! Where webhooks may be delivered. A webhook's address is typed by an admin and its name is
//! resolved by whoever runs DNS: without a check, a delivery could reach the cloud's metadata
//! service, a database on this machine or any host of the intranet, and the failure text would
//! tell which exist. Addresses inside the network (loopback, private, link-local, CGNAT,
//! unique-local, …) are refused unless the operator names them (`DATAPUMP_WEBHOOK_ALLOW`).
//! Names are resolved when a delivery is sent, and the connection goes to an address that was
//! checked: the resolver below hands the HTTP client only permitted addresses, so there is no
//! second lookup a DNS server could answer differently.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;

/// Whether `ip` lies inside a network no webhook should reach by default.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_unspecified()
        || o[0] == 0 // "this network" (0.0.0.0/8)
        || ip.is_loopback() // 127.0.0.0/8
        || ip.is_private() // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local() // 169.254/16: cloud metadata services (169.254.169.254)
        || (o[0] == 100 && (o[1] & 0xC0) == 64) // CGNAT, 100.64.0.0/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments, 192.0.0.0/24
        || (o[0] == 198 && (o[1] & 0xFE) == 18) // benchmarking, 198.18.0.0/15
        || ip.is_multicast() // 224/4
        || o[0] >= 240 // reserved and broadcast
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // An IPv4 address in IPv6 clothing counts as that address: mapped (::ffff:0:0/96),
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
    if let Some(v4) = ip.to_ipv4_mapped() {
        return internal_v4(v4);
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return internal_v4(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ));
    }
    if s[0] == 0x2002 {
        return internal_v4(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || (s[0] & 0xfe00) == 0xfc00 // unique local, fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local, fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated), fec0::/10
        || ip.is_multicast()
        || (s[0] == 0 && s[1..6] == [0, 0, 0, 0, 0]) // IPv4-compatible, ::/96
}

/// Which addresses deliveries may go to.
#[derive(Debug, Clone, Default)]
pub struct Destinations {
    /// Internal ranges the operator allows all the same.
    pub allow: Vec<IpNet>,
}

impl Destinations {
    pub fn permits(&self, ip: IpAddr) -> bool {
        !is_internal(ip) || self.allow.iter().any(|n| n.contains(&ip))
    }
}

/// The HTTP client's resolver for webhook deliveries: the system's lookup, then only the
/// permitted addresses; none permitted is an error, and the request is never sent.
pub struct CheckedResolver(pub Arc<Destinations>);

/// A name that resolves only to addresses deliveries may not reach.
#[derive(Debug, thiserror::Error)]
#[error("the address resolves only to addresses inside the network")]
pub struct InsideTheNetwork;

impl CheckedResolver {
    /// Resolves `host` to the addresses deliveries may connect to.
    pub async fn lookup(
        destinations: &Destinations,
        host: &str,
    ) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let found: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
        let permitted: Vec<SocketAddr> = found
            .into_iter()
            .filter(|a| destinations.permits(a.ip()))
            .collect();
        if permitted.is_empty() {
            return Err(Box::new(InsideTheNetwork));
        }
        Ok(permitted)
    }
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let destinations = self.0.clone();
        Box::pin(async move {
            let addrs = Self::lookup(&destinations, name.as_str()).await?;
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn internal_ranges() {
        for inside in [
            "127.0.0.1",
            "127.8.9.10",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "192.0.0.8",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:a00:1::1",
            "::127.0.0.1",
        ] {
            assert!(is_internal(ip(inside)), "{inside} is inside");
        }
        for outside in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "192.169.0.1",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "2002:808:808::1",
        ] {
            assert!(!is_internal(ip(outside)), "{outside} is outside");
        }
    }

    #[test]
    fn the_operator_allows_named_ranges() {
        let d = Destinations {
            allow: vec!["10.20.0.0/16".parse().expect("net")],
        };
        assert!(d.permits(ip("10.20.1.2")));
        assert!(!d.permits(ip("10.21.1.2")));
        assert!(d.permits(ip("8.8.8.8")));
        assert!(!Destinations::default().permits(ip("127.0.0.1")));
    }

    /// A name that resolves inside (here `localhost`) is refused before anything is sent.
    #[tokio::test]
    async fn names_resolving_inside_are_refused() {
        let refused = CheckedResolver::lookup(&Destinations::default(), "localhost").await;
        assert!(refused.is_err());
        let allowed = Destinations {
            allow: vec![
                "127.0.0.0/8".parse().expect("net"),
                "::1/128".parse().expect("net"),
            ],
        };
        let addrs = CheckedResolver::lookup(&allowed, "localhost")
            .await
            .expect("allowed");
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
