//! ACL checks and the auth schemes: world, auth, digest, ip, as ZooKeeper's
//! providers implement them.

use base64::Engine;
use proto::codes::perms;
use proto::{Acl, ErrorCode, Id};
use sha1::{Digest, Sha1};

/// Who a request comes from: the identities its connection has proven.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthContext {
    /// `ip:<address>` of the connection and any `digest:user:hash` added by addauth.
    pub ids: Vec<Id>,
    /// Bypasses every ACL (server-issued txns, the super digest).
    pub is_super: bool,
}

/// `digest:user:base64(sha1("user:password"))`, as `DigestAuthenticationProvider`.
pub fn digest_id(user_colon_password: &str) -> Id {
    let user = user_colon_password.split(':').next().unwrap_or_default();
    let hash = Sha1::digest(user_colon_password.as_bytes());
    let encoded = base64::engine::general_purpose::STANDARD.encode(hash);
    Id::new("digest", format!("{user}:{encoded}"))
}

/// Fails with NoAuth unless `auth` holds `permission` under `acl`.
pub fn check(acl: &[Acl], permission: i32, auth: &AuthContext) -> Result<(), ErrorCode> {
    if auth.is_super || acl.is_empty() {
        return Ok(());
    }
    let granted = acl.iter().any(|entry| {
        entry.perms & permission != 0
            && match entry.id.scheme.as_str() {
                "world" => entry.id.id == "anyone",
                "ip" => {
                    auth.ids.iter().any(|id| id.scheme == "ip" && ip_matches(&entry.id.id, &id.id))
                }
                _ => auth.ids.contains(&entry.id),
            }
    });
    if granted { Ok(()) } else { Err(ErrorCode::NoAuth) }
}

/// Validates the ACL of a create or setACL and expands the `auth` scheme to
/// the caller's own identities, as `PrepRequestProcessor.fixupACL`.
pub fn fix_up(acl: &[Acl], auth: &AuthContext) -> Result<Vec<Acl>, ErrorCode> {
    if acl.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut fixed = Vec::with_capacity(acl.len());
    for entry in acl {
        if entry.perms & !perms::ALL != 0 && entry.perms != 0 {
            return Err(ErrorCode::InvalidAcl);
        }
        match entry.id.scheme.as_str() {
            "world" if entry.id.id == "anyone" => fixed.push(entry.clone()),
            "auth" => {
                let mut any = false;
                for id in auth.ids.iter().filter(|id| id.scheme != "ip" && id.scheme != "world") {
                    fixed.push(Acl { perms: entry.perms, id: id.clone() });
                    any = true;
                }
                if !any {
                    return Err(ErrorCode::InvalidAcl);
                }
            }
            "digest" if entry.id.id.contains(':') => fixed.push(entry.clone()),
            "ip" if parse_ip_pattern(&entry.id.id).is_some() => fixed.push(entry.clone()),
            _ => return Err(ErrorCode::InvalidAcl),
        }
    }
    fixed.sort();
    fixed.dedup();
    Ok(fixed)
}

/// `a.b.c.d` or `a.b.c.d/bits` (IPv4 or IPv6), as `IPAuthenticationProvider`.
fn parse_ip_pattern(pattern: &str) -> Option<(std::net::IpAddr, u32)> {
    let (address, bits) = match pattern.split_once('/') {
        Some((address, bits)) => (address, Some(bits.parse::<u32>().ok()?)),
        None => (pattern, None),
    };
    let address: std::net::IpAddr = address.parse().ok()?;
    let width = if address.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(width);
    (bits <= width).then_some((address, bits))
}

fn ip_matches(pattern: &str, client: &str) -> bool {
    let (Some((network, bits)), Ok(client)) =
        (parse_ip_pattern(pattern), client.parse::<std::net::IpAddr>())
    else {
        return false;
    };
    let to_bits = |address: std::net::IpAddr| -> (u128, u32) {
        match address {
            std::net::IpAddr::V4(v4) => (u32::from(v4) as u128, 32),
            std::net::IpAddr::V6(v6) => (u128::from(v6), 128),
        }
    };
    let ((network, width), (client, client_width)) = (to_bits(network), to_bits(client));
    if width != client_width {
        return false;
    }
    let mask = if bits == 0 { 0 } else { (!0u128) << (width - bits) & (!0u128 >> (128 - width)) };
    network & mask == client & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
        Acl { perms, id: Id::new(scheme, id) }
    }

    fn from_ip(ip: &str) -> AuthContext {
        AuthContext { ids: vec![Id::new("ip", ip)], is_super: false }
    }

    #[test]
    fn digest_matches_zookeeper() {
        // The value ZooKeeper's DigestAuthenticationProvider.generateDigest gives.
        assert_eq!(digest_id("super:test").id, "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
    }

    #[test]
    fn world_ip_and_digest_schemes() {
        let world = [acl(perms::READ, "world", "anyone")];
        assert_eq!(check(&world, perms::READ, &from_ip("10.0.0.1")), Ok(()));
        assert_eq!(check(&world, perms::WRITE, &from_ip("10.0.0.1")), Err(ErrorCode::NoAuth));

        let subnet = [acl(perms::ALL, "ip", "10.1.0.0/16")];
        assert_eq!(check(&subnet, perms::READ, &from_ip("10.1.200.3")), Ok(()));
        assert_eq!(check(&subnet, perms::READ, &from_ip("10.2.0.1")), Err(ErrorCode::NoAuth));
        let exact = [acl(perms::ALL, "ip", "127.0.0.1")];
        assert_eq!(check(&exact, perms::READ, &from_ip("127.0.0.1")), Ok(()));
        assert_eq!(check(&exact, perms::READ, &from_ip("127.0.0.2")), Err(ErrorCode::NoAuth));

        let alice = digest_id("alice:pw");
        let private = [Acl { perms: perms::ALL, id: alice.clone() }];
        let mut authed = from_ip("1.2.3.4");
        assert_eq!(check(&private, perms::READ, &authed), Err(ErrorCode::NoAuth));
        authed.ids.push(alice);
        assert_eq!(check(&private, perms::READ, &authed), Ok(()));
        assert_eq!(
            check(&private, perms::READ, &AuthContext { ids: vec![], is_super: true }),
            Ok(())
        );
    }

    #[test]
    fn auth_scheme_expands_to_the_callers_identities() {
        let auth_acl = [acl(perms::ALL, "auth", "")];
        assert_eq!(fix_up(&auth_acl, &from_ip("1.1.1.1")), Err(ErrorCode::InvalidAcl));
        let mut authed = from_ip("1.1.1.1");
        authed.ids.push(digest_id("bob:pw"));
        assert_eq!(
            fix_up(&auth_acl, &authed),
            Ok(vec![Acl { perms: perms::ALL, id: digest_id("bob:pw") }])
        );
    }

    #[test]
    fn malformed_acls_are_invalid() {
        assert_eq!(fix_up(&[], &AuthContext::default()), Err(ErrorCode::InvalidAcl));
        for bad in [
            acl(1, "world", "someone"),
            acl(1, "ip", "300.1.1.1"),
            acl(1, "digest", "nocolon"),
            acl(1, "x", "y"),
        ] {
            assert_eq!(
                fix_up(std::slice::from_ref(&bad), &AuthContext::default()),
                Err(ErrorCode::InvalidAcl),
                "{bad:?}"
            );
        }
    }
}
