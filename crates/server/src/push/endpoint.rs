//! Where pushes may go. A subscription's endpoint comes from the browser, so it is a URL
//! anyone signed in can choose: `hush-server` posts only to `https` URLs whose host is a
//! public address — never loopback, private, link-local, shared, multicast or otherwise
//! special addresses, so a subscription cannot aim the server at the operator's own
//! network (server-side request forgery). The check runs on the URL when it is stored and
//! again on every address the name resolves to when a push connects ([`PublicOnly`]), so a
//! name cannot resolve to a private address later; redirects are not followed. Tests of
//! the push path on loopback turn this off (`HUSH_PUSH_ALLOW_PRIVATE`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use hush_shared::limits::MAX_PUSH_ENDPOINT_CHARS;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why an endpoint is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EndpointError {
    /// Too long, not a URL, or with credentials in it.
    #[error("the endpoint is not a URL of at most {MAX_PUSH_ENDPOINT_CHARS} characters")]
    Malformed,
    /// Not `https`.
    #[error("the endpoint must be an https URL")]
    NotHttps,
    /// Its host is a loopback, private or other non-public address.
    #[error("the endpoint's host is not a public address")]
    NotPublic,
}

/// Checks a subscription's endpoint; `allow_private` (tests only) also takes `http` and
/// non-public addresses.
pub fn check(endpoint: &str, allow_private: bool) -> Result<Url, EndpointError> {
    if endpoint.len() > MAX_PUSH_ENDPOINT_CHARS {
        return Err(EndpointError::Malformed);
    }
    let url = Url::parse(endpoint).map_err(|_| EndpointError::Malformed)?;
    if !url.username().is_empty() || url.password().is_some() || url.host().is_none() {
        return Err(EndpointError::Malformed);
    }
    if allow_private {
        return match url.scheme() {
            "https" | "http" => Ok(url),
            _ => Err(EndpointError::NotHttps),
        };
    }
    if url.scheme() != "https" {
        return Err(EndpointError::NotHttps);
    }
    let host = url.host_str().unwrap_or_default();
    let literal: Option<IpAddr> = host.trim_start_matches('[').trim_end_matches(']').parse().ok();
    let lowercase = host.to_ascii_lowercase();
    let named_locally = lowercase == "localhost" || lowercase.ends_with(".localhost");
    if literal.is_some_and(|ip| !is_public(ip)) || named_locally {
        return Err(EndpointError::NotPublic);
    }
    Ok(url)
}

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier-grade NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b))) // benchmarking
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && ip.segments()[1] == 0xff9b // NAT64: an IPv4 address inside
        || first == 0x0100 && ip.segments()[1..4] == [0, 0, 0]) // discard-only
}

/// A resolver that answers only public addresses: a push never connects to anything else,
/// whatever the name resolves to at that moment.
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{} has no public address", name.as_str()).into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_urls_on_public_hosts_are_taken() {
        assert!(check("https://fcm.googleapis.com/fcm/send/abc:def", false).is_ok());
        assert!(check("https://updates.push.services.mozilla.com/wpush/v2/x", false).is_ok());
        assert!(check("https://203.0.114.7/push", false).is_ok());
        for (endpoint, why) in [
            ("http://push.example/x", EndpointError::NotHttps),
            ("ftp://push.example/x", EndpointError::NotHttps),
            ("https://127.0.0.1/x", EndpointError::NotPublic),
            ("https://localhost:8443/x", EndpointError::NotPublic),
            ("https://10.1.2.3/x", EndpointError::NotPublic),
            ("https://192.168.0.1/x", EndpointError::NotPublic),
            ("https://169.254.169.254/latest/meta-data", EndpointError::NotPublic),
            ("https://100.64.0.1/x", EndpointError::NotPublic),
            ("https://[::1]/x", EndpointError::NotPublic),
            ("https://[fd00::1]/x", EndpointError::NotPublic),
            ("https://[fe80::1]/x", EndpointError::NotPublic),
            ("https://[::ffff:127.0.0.1]/x", EndpointError::NotPublic),
            ("https://[64:ff9b::a00:1]/x", EndpointError::NotPublic),
            ("https://user:pw@push.example/x", EndpointError::Malformed),
            ("not a url", EndpointError::Malformed),
        ] {
            assert_eq!(check(endpoint, false), Err(why), "{endpoint}");
        }
        let long = format!("https://push.example/{}", "x".repeat(MAX_PUSH_ENDPOINT_CHARS));
        assert_eq!(check(&long, false), Err(EndpointError::Malformed));
    }

    #[test]
    fn tests_may_push_to_loopback_over_http() {
        assert!(check("http://127.0.0.1:9000/push/1", true).is_ok());
        assert_eq!(check("ftp://127.0.0.1/x", true), Err(EndpointError::NotHttps));
        assert_eq!(check("file:///etc/passwd", true), Err(EndpointError::Malformed));
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_of_private_addresses() {
        let refused = PublicOnly.resolve("localhost".parse().unwrap()).await;
        assert!(refused.is_err(), "localhost resolves to loopback only");
    }
}
