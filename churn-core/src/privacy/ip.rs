//! IP address truncation: IPv4 to its /24 network, IPv6 to its /48 network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Truncate an IP address given as text: IPv4 keeps its first 3 bytes (`/24`), IPv6 its
/// first 6 bytes (`/48`); an IPv4-mapped IPv6 address is treated as the IPv4 address it
/// carries. A trailing port (`1.2.3.4:80`, `[::1]:80`) is ignored. Text that is not an IP
/// address gives `None`, so the caller drops it.
///
/// ```
/// use churn_core::privacy::truncate_ip;
/// assert_eq!(truncate_ip("203.0.113.77").as_deref(), Some("203.0.113.0"));
/// assert_eq!(truncate_ip("2001:db8:abcd:12:1:2:3:4").as_deref(), Some("2001:db8:abcd::"));
/// assert_eq!(truncate_ip("not an ip"), None);
/// ```
pub fn truncate_ip(text: &str) -> Option<String> {
    let text = text.trim();
    let ip = match text.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => text.parse::<SocketAddr>().ok()?.ip(),
    };
    Some(truncate_addr(ip).to_string())
}

/// Truncate a parsed address (see [`truncate_ip`]).
pub(crate) fn truncate_addr(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(truncate_v4(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(truncate_v4(v4)),
            None => {
                let mut o = v6.octets();
                o[6..].fill(0);
                IpAddr::V6(Ipv6Addr::from(o))
            }
        },
    }
}

fn truncate_v4(ip: Ipv4Addr) -> Ipv4Addr {
    let [a, b, c, _] = ip.octets();
    Ipv4Addr::new(a, b, c, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hand_worked_cases() {
        assert_eq!(truncate_ip("192.168.1.255").as_deref(), Some("192.168.1.0"));
        assert_eq!(truncate_ip(" 10.0.0.1 ").as_deref(), Some("10.0.0.0"));
        assert_eq!(truncate_ip("10.1.2.3:8080").as_deref(), Some("10.1.2.0"));
        assert_eq!(truncate_ip("::1").as_deref(), Some("::"));
        assert_eq!(
            truncate_ip("[2001:db8:1:2::5]:443").as_deref(),
            Some("2001:db8:1::")
        );
        assert_eq!(
            truncate_ip("::ffff:198.51.100.7").as_deref(),
            Some("198.51.100.0")
        );
        assert_eq!(truncate_ip("256.1.1.1"), None);
        assert_eq!(truncate_ip(""), None);
        assert_eq!(truncate_ip("example.com"), None);
    }

    proptest! {
        /// Compare with the plain definition: keep the first 24 / 48 bits as integers.
        #[test]
        fn v4_keeps_24_bits(x in any::<u32>()) {
            let out: Ipv4Addr = truncate_ip(&Ipv4Addr::from(x).to_string()).unwrap().parse().unwrap();
            prop_assert_eq!(u32::from(out), x & 0xFFFF_FF00);
        }

        #[test]
        fn v6_keeps_48_bits(x in any::<u128>()) {
            let addr = Ipv6Addr::from(x);
            prop_assume!(addr.to_ipv4_mapped().is_none());
            let out: Ipv6Addr = truncate_ip(&addr.to_string()).unwrap().parse().unwrap();
            prop_assert_eq!(u128::from(out), x & (u128::MAX << 80));
        }
    }
}
