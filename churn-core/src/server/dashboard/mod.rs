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
}
