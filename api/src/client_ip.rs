//! The client's address: the TCP peer, or — when the peer is one of `trusted_proxies` — the
//! rightmost hop of `X-Forwarded-For` (else `Forwarded: for=`) that is not a trusted proxy.
//! Every hop left of it was written by the client itself and proves nothing; every hop right
//! of it by a proxy we trust. Per-address limits and the devices list key on it, so behind a
//! proxy two clients are two addresses, and a header forged by an untrusted peer is ignored.

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, request::Parts},
};
use ipnet::IpNet;

use crate::{error::ApiError, state::AppState};

/// Who is calling, by address.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!(
                    "the server was started without connect info"
                ))
            })?;
        Ok(Self(client_address(
            peer,
            &parts.headers,
            &state.config.trusted_proxies,
        )))
    }
}

/// The client's address as the trusted proxies in front of `peer` saw it.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&canonical(*ip)));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut hops = forwarded_for(headers);
    let mut client = peer;
    while let Some(hop) = hops.pop() {
        match hop {
            Some(ip) if is_trusted(&ip) => client = ip,
            Some(ip) => return canonical(ip),
            // Garbage a trusted proxy passed on: the hop it came from is all we know.
            None => return client,
        }
    }
    client
}

/// IPv4 addresses a dual-stack socket reports as `::ffff:a.b.c.d`, as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The hops, leftmost first (`None` for one that is not an address): from every
/// `X-Forwarded-For` header in order, or else from every `Forwarded` header's `for=`.
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name| {
        headers
            .get_all(name)
            .iter()
            .flat_map(|v| v.to_str().unwrap_or("?").split(','))
            .map(str::trim)
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let xff = values("x-forwarded-for");
    if !xff.is_empty() {
        return xff.iter().map(|hop| parse_hop(hop)).collect();
    }
    values("forwarded")
        .iter()
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                key.eq_ignore_ascii_case("for").then(|| parse_hop(value))
            })
        })
        .collect()
}

/// One hop: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `"[2001:db8::1]:80"` (RFC 7239).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    hop.strip_prefix('[')
        .and_then(|rest| rest.split(']').next())
        .and_then(|ip| ip.parse().ok())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let h = headers(&[("x-forwarded-for", "9.9.9.9")]);
        assert_eq!(
            client_address(ip("203.0.113.7"), &h, &[]),
            ip("203.0.113.7")
        );
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_address(ip("203.0.113.7"), &h, &trusted),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let trusted = nets(&["10.0.0.0/8", "127.0.0.1/32"]);
        // The client forged "1.1.1.1"; its proxy appended its real address, then another proxy.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 198.51.100.4, 10.0.0.2")]);
        assert_eq!(
            client_address(ip("127.0.0.1"), &h, &trusted),
            ip("198.51.100.4")
        );
        // Several headers count as one list, in order.
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "198.51.100.4"),
        ]);
        assert_eq!(
            client_address(ip("10.1.2.3"), &h, &trusted),
            ip("198.51.100.4")
        );
        // No header: the proxy itself.
        assert_eq!(
            client_address(ip("10.1.2.3"), &HeaderMap::new(), &trusted),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn forwarded_is_read_when_there_is_no_x_forwarded_for() {
        let trusted = nets(&["127.0.0.1/32"]);
        let h = headers(&[(
            "forwarded",
            r#"for=192.0.2.60;proto=http, for="[2001:db8:cafe::17]:4711""#,
        )]);
        assert_eq!(
            client_address(ip("127.0.0.1"), &h, &trusted),
            ip("2001:db8:cafe::17")
        );
    }

    #[test]
    fn a_mapped_ipv4_peer_matches_ipv4_networks() {
        let trusted = nets(&["127.0.0.1/32"]);
        let h = headers(&[("x-forwarded-for", "198.51.100.4")]);
        assert_eq!(
            client_address(ip("::ffff:127.0.0.1"), &h, &trusted),
            ip("198.51.100.4")
        );
    }

    #[test]
    fn garbage_from_a_trusted_proxy_leaves_the_proxy_as_the_client() {
        let trusted = nets(&["127.0.0.1/32"]);
        let h = headers(&[("x-forwarded-for", "unknown")]);
        assert_eq!(
            client_address(ip("127.0.0.1"), &h, &trusted),
            ip("127.0.0.1")
        );
    }
}
