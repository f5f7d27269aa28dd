//! The dashboard: a static page at `/` (a login form that keeps the secret key in
//! `sessionStorage` and sends it as `Authorization: Bearer` from JavaScript; never in a
//! URL) and its data at `GET /api/dashboard` (secret key required): charts rendered
//! here as SVG ([`svg`]), the at-risk users table as HTML, every user-provided string
//! escaped. The live counter reads `GET /api/live` with `fetch` streaming.
//!
//! A `#key=<secret>` fragment on the page URL is consumed by the script (stored, then
//! removed from the address bar): handy for scripted logins (the browser test uses it);
//! fragments are never sent to the server.

pub mod svg;

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::churn_jobs::ScoreRun;
use crate::engine::{
    ActiveUsersRequest, Engine, FunnelRequest, Period, RetentionRequest, RevenueRequest,
};
use crate::error::Result;
use crate::time::{TimeRange, Timestamp, DAY_MS};
use svg::{bar_chart, escape, funnel_chart, heatmap, line_chart, num, HeatRow};

/// The page at `/`.
pub const PAGE: &str = include_str!("page.html");

/// The `Content-Security-Policy` of [`PAGE`]: its inline script and style are allowed
/// by their SHA-256 hashes only (no `'unsafe-inline'`), so markup that got into the page
/// some other way cannot run script or add styles; data only from the same origin; no
/// framing, no form posts, no `<base>`.
///
/// ```
/// use churn_core::server::dashboard::content_security_policy;
/// let csp = content_security_policy();
/// assert!(csp.contains("script-src 'sha256-") && !csp.contains("unsafe-inline"));
/// ```
pub fn content_security_policy() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        format!(
            "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; \
             img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
            inline_hashes(PAGE, "script"),
            inline_hashes(PAGE, "style")
        )
    })
}

/// The CSP sources (`'sha256-<base64>'`, space-separated) of the content of every
/// attribute-less inline `<tag>` element of `html`; `'none'` when there is none.
///
/// ```
/// use churn_core::server::dashboard::inline_hashes;
/// // SHA-256 of "abc", base64.
/// assert_eq!(
///     inline_hashes("<p><script>abc</script></p>", "script"),
///     "'sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0='"
/// );
/// assert_eq!(inline_hashes("<p></p>", "style"), "'none'");
/// ```
pub fn inline_hashes(html: &str, tag: &str) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&open) {
        let body = &rest[i + open.len()..];
        let Some(j) = body.find(&close) else { break };
        let digest = Sha256::digest(&body.as_bytes()[..j]);
        out.push(format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        ));
        rest = &body[j + close.len()..];
    }
    if out.is_empty() {
        "'none'".into()
    } else {
        out.join(" ")
    }
}

/// The funnel shown on the dashboard.
pub const FUNNEL_STEPS: &[&str] = &["signup", "onboarding_completed", "add_to_cart", "purchase"];
/// Its conversion window: 30 days.
pub const FUNNEL_WINDOW_MS: i64 = 30 * DAY_MS;
/// Users listed in the at-risk table.
pub const AT_RISK_ROWS: usize = 25;

/// What `GET /api/dashboard` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DashboardData {
    /// Days covered by the time charts.
    pub days: u32,
    /// Chart name -> SVG markup.
    pub charts: HashMap<String, String>,
    /// The at-risk users table (HTML).
    pub at_risk_table: String,
    /// Headline figures.
    pub summary: HashMap<String, f64>,
}

fn pct(a: u64, b: u64) -> String {
    if b == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * a as f64 / b as f64)
    }
}

/// The at-risk table: the highest scores of the latest run with their reasons.
pub fn at_risk_table(run: Option<&ScoreRun>) -> String {
    let Some(run) = run else {
        return r#"<p class="empty">No churn scores yet. Train a model: POST /api/churn/train.</p>"#.into();
    };
    let mut s = String::from(
        r#"<table id="at-risk"><thead><tr><th>User</th><th>Churn probability</th><th>Segment</th><th>Main reasons</th></tr></thead><tbody>"#,
    );
    for u in run.users.iter().take(AT_RISK_ROWS) {
        let reasons: Vec<String> = u
            .reasons
            .iter()
            .map(|r| format!("{} = {}", escape(&r.feature), num(r.value)))
            .collect();
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td>{:.1}%</td><td class="seg-{seg}">{seg}</td><td>{}</td></tr>"#,
            escape(&u.user_id),
            100.0 * u.probability,
            reasons.join(", "),
            seg = u.segment
        );
    }
    s.push_str("</tbody></table>");
    s
}

/// Build the dashboard data (blocking).
pub fn build(
    engine: &Engine,
    run: Option<&ScoreRun>,
    days: u32,
    now: Timestamp,
) -> Result<DashboardData> {
    let range = super::query::last_days(now, days);
    let mut charts = HashMap::new();
    let mut summary = HashMap::new();

    // Complete days only: the current day is still filling up.
    let today = now.millis() - now.millis().rem_euclid(DAY_MS);
    let days_range = TimeRange::new(
        Timestamp::from_millis(today - days as i64 * DAY_MS),
        Timestamp::from_millis(today),
    );
    let au = engine.active_users(
        &ActiveUsersRequest::new()
            .range(days_range)
            .period(Period::Day),
    )?;
    let points: Vec<(String, f64)> = au
        .daily
        .iter()
        .map(|d| (d.date.clone(), d.dau as f64))
        .collect();
    charts.insert(
        "active_users".into(),
        line_chart(
            &format!("Daily active users, last {days} complete days"),
            &points,
        ),
    );
    summary.insert("active_users".into(), au.total_users as f64);

    let funnel = engine.funnel(
        &FunnelRequest::new(FUNNEL_STEPS.iter().copied())
            .range(range)
            .window_ms(FUNNEL_WINDOW_MS),
    )?;
    let reached: Vec<u64> = funnel.steps.iter().map(|s| s.users).collect();
    let steps: Vec<(String, f64, String)> = FUNNEL_STEPS
        .iter()
        .zip(&reached)
        .map(|(s, &n)| (s.to_string(), n as f64, pct(n, reached[0])))
        .collect();
    charts.insert(
        "funnel".into(),
        funnel_chart("Funnel (30-day window, ordered)", &steps),
    );

    let ret_range = super::query::last_days(now, days.max(84));
    let ret = engine.retention(
        &RetentionRequest::new()
            .range(ret_range)
            .period(Period::Week)
            .periods(12)
            .as_of(now),
    )?;
    let rows: Vec<HeatRow> = ret
        .cohorts
        .iter()
        .rev()
        .take(12)
        .rev()
        .map(|c| {
            let cells = c
                .percentages
                .iter()
                .copied()
                .zip(c.complete.iter().copied());
            (c.label.clone(), cells.collect())
        })
        .collect();
    charts.insert(
        "retention".into(),
        heatmap("Weekly retention by cohort (% of cohort)", &rows),
    );

    let rev_range = super::query::last_days(now, days.max(180));
    let rev = engine.revenue(&RevenueRequest::new().range(rev_range).period(Period::Week))?;
    let bars: Vec<(String, f64)> = rev
        .periods
        .iter()
        .map(|p| (p.label.clone(), p.revenue))
        .collect();
    let cur = rev.currency.clone().unwrap_or_default();
    charts.insert(
        "revenue".into(),
        bar_chart(&format!("Weekly revenue {cur}"), &bars),
    );
    summary.insert("revenue".into(), rev.totals.revenue);

    let mut bins = [0u64; 10];
    if let Some(run) = run {
        for u in &run.users {
            let b = ((u.probability * 10.0).floor() as usize).min(9);
            bins[b] += 1;
        }
        for (seg, n) in &run.segments {
            summary.insert(format!("risk_{seg}"), *n as f64);
        }
    }
    let hist: Vec<(String, f64)> = if run.is_some() {
        bins.iter()
            .enumerate()
            .map(|(i, n)| (format!("{}-{}%", i * 10, i * 10 + 10), *n as f64))
            .collect()
    } else {
        Vec::new()
    };
    charts.insert(
        "risk".into(),
        bar_chart("Churn risk distribution (users per probability bin)", &hist),
    );

    Ok(DashboardData {
        days,
        charts,
        at_risk_table: at_risk_table(run),
        summary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_risk_rows_are_escaped() {
        use crate::churn::RiskSegment;
        use crate::server::churn_jobs::{Reason, ScoredUser};
        let run = ScoreRun {
            model: "m".into(),
            version: 1,
            as_of: Timestamp::from_millis(0),
            scored_at: Timestamp::from_millis(0),
            segments: Default::default(),
            users: vec![ScoredUser {
                user_id: "<script>x</script>".into(),
                probability: 0.9,
                segment: RiskSegment::Critical,
                reasons: vec![Reason {
                    feature: "days_since_last_event".into(),
                    value: 40.0,
                    contribution: 1.0,
                }],
            }],
        };
        let t = at_risk_table(Some(&run));
        assert!(t.contains("&lt;script&gt;") && !t.contains("<script>"));
        assert!(t.contains("90.0%") && t.contains("critical"));
        assert!(at_risk_table(None).contains("No churn scores"));
    }

    #[test]
    fn csp_hashes_every_inline_script_and_style_of_the_page() {
        let csp = content_security_policy();
        assert!(!csp.contains("unsafe"), "{csp}");
        // One inline script and one style element, each allowed by its hash only.
        assert_eq!(PAGE.matches("<script").count(), 1);
        assert_eq!(PAGE.matches("<style").count(), 1);
        let script = csp.split("script-src ").nth(1).unwrap();
        assert_eq!(
            script
                .split(';')
                .next()
                .unwrap()
                .matches("'sha256-")
                .count(),
            1
        );
        let style = csp.split("style-src ").nth(1).unwrap();
        assert_eq!(
            style.split(';').next().unwrap().matches("'sha256-").count(),
            1
        );
        // No inline event handlers or style attributes, which hashes do not cover.
        assert!(!regex_like_handler(PAGE));
        assert!(!PAGE.contains(" style="));
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"));
    }

    /// Whether `html` has an attribute like ` onclick=`.
    fn regex_like_handler(html: &str) -> bool {
        html.match_indices(" on").any(|(i, _)| {
            let rest = &html[i + 3..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            !name.is_empty() && rest[name.len()..].starts_with('=')
        })
    }
}
