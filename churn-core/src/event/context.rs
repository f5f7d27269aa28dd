//! Where an event came from: page path, referrer, user agent, IP and UTM campaign fields.

use serde::{Deserialize, Serialize};

use super::Properties;

/// UTM campaign fields (`utm_source`, `utm_medium`, ...).
///
/// ```
/// use churn_core::event::Utm;
/// let u = Utm::from_query("utm_source=news&utm_medium=email&x=1");
/// assert_eq!(u.source.as_deref(), Some("news"));
/// assert_eq!(u.medium.as_deref(), Some("email"));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Utm {
    /// `utm_source`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `utm_medium`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub medium: Option<String>,
    /// `utm_campaign`.
    #[serde(skip_serializing_if = "Option::is_none", alias = "name")]
    pub campaign: Option<String>,
    /// `utm_term`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    /// `utm_content`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

impl Utm {
    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self.source.is_none()
            && self.medium.is_none()
            && self.campaign.is_none()
            && self.term.is_none()
            && self.content.is_none()
    }

    /// Read `utm_*` parameters from a URL query string (with or without the leading `?`,
    /// or a whole URL). Values are percent-decoded; `+` reads as a space.
    pub fn from_query(query: &str) -> Utm {
        let q = match query.split_once('?') {
            Some((_, q)) => q,
            None => query,
        };
        let q = q.split('#').next().unwrap_or("");
        let mut u = Utm::default();
        for pair in q.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v);
            let slot = match k {
                "utm_source" => &mut u.source,
                "utm_medium" => &mut u.medium,
                "utm_campaign" => &mut u.campaign,
                "utm_term" => &mut u.term,
                "utm_content" => &mut u.content,
                _ => continue,
            };
            if !v.is_empty() {
                *slot = Some(v);
            }
        }
        u
    }
}

/// Decode `%XX` escapes and `+`; invalid escapes are kept as written, invalid UTF-8 is
/// replaced with U+FFFD.
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The context of an event.
///
/// ```
/// use churn_core::event::Context;
/// let c = Context { path: Some("/pricing".into()), ..Context::default() };
/// assert_eq!(serde_json::to_string(&c).unwrap(), r#"{"path":"/pricing"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Context {
    /// Page path (`/pricing`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Full page URL, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Page title, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Referrer URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    /// User agent string.
    #[serde(skip_serializing_if = "Option::is_none", alias = "userAgent")]
    pub user_agent: Option<String>,
    /// Client IP address (truncated by the privacy policy before storage).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// UTM campaign fields.
    #[serde(skip_serializing_if = "Utm::is_empty", alias = "campaign")]
    pub utm: Utm,
    /// Anything else the sender put in its context (library, locale, screen, ...).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: Properties,
}

impl Context {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        // Field by field (no default `Context` to build and compare): the store asks this
        // for every event it writes. Every field of the struct is listed.
        let Context {
            path,
            url,
            title,
            referrer,
            user_agent,
            ip,
            utm,
            extra,
        } = self;
        [path, url, title, referrer, user_agent, ip]
            .iter()
            .all(|f| f.is_none())
            && utm.is_empty()
            && extra.is_empty()
    }

    /// The traffic source of this context: UTM source if set, else the referrer's host,
    /// else `direct`.
    ///
    /// ```
    /// use churn_core::event::Context;
    /// let c = Context { referrer: Some("https://www.google.com/search?q=x".into()), ..Context::default() };
    /// assert_eq!(c.source(), "www.google.com");
    /// assert_eq!(Context::default().source(), "direct");
    /// ```
    pub fn source(&self) -> String {
        if let Some(s) = self.utm.source.as_deref().filter(|s| !s.is_empty()) {
            return s.to_string();
        }
        match self.referrer.as_deref().map(referrer_host) {
            Some(h) if !h.is_empty() => h.to_string(),
            _ => "direct".to_string(),
        }
    }
}

/// The host part of a URL (`https://a.example.com/x` gives `a.example.com`).
pub(crate) fn referrer_host(url: &str) -> &str {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host);
    if host.starts_with('[') {
        return host.split_once(']').map(|(h, _)| &h[1..]).unwrap_or(host);
    }
    host.split(':').next().unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utm_from_url_and_decoding() {
        let u = Utm::from_query(
            "https://x.io/p?utm_source=a%20b&utm_campaign=spring+sale&utm_term=%zz#frag",
        );
        assert_eq!(u.source.as_deref(), Some("a b"));
        assert_eq!(u.campaign.as_deref(), Some("spring sale"));
        assert_eq!(u.term.as_deref(), Some("%zz"));
        assert!(Utm::from_query("").is_empty());
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%41"), "A");
    }

    #[test]
    fn referrer_hosts() {
        assert_eq!(
            referrer_host("https://user@news.ycombinator.com:443/item?id=1"),
            "news.ycombinator.com"
        );
        assert_eq!(referrer_host("t.co/abc"), "t.co");
        assert_eq!(referrer_host("http://[::1]:8080/"), "::1");
        assert_eq!(referrer_host(""), "");
    }
}
