//! `churn user ID`: one person's profile.

use super::analysis::{dur, num, pct, table, AnalysisArgs};
use super::{Ctx, Run};
use crate::engine::ProfileRequest;
use crate::error::Result;

/// A person's profile: activity, logins, sessions, features, billing, tickets, email and
/// notification engagement, onboarding, usage trend. `--to` sets the reference time.
#[derive(Debug, clap::Args)]
pub struct UserArgs {
    /// User id (or an anonymous id).
    pub id: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: AnalysisArgs,
}

impl Run for UserArgs {
    fn run(self, ctx: &Ctx) -> Result<()> {
        let mut req = ProfileRequest::new(&self.id);
        req.as_of = self.common.to;
        let p = self.common.engine(ctx)?.user_profile(&req)?;
        let ts = |t: Option<crate::Timestamp>| t.map_or_else(|| "-".into(), |t| t.to_string());
        self.common.output(&p, || {
            let kv = |k: &str, v: String| vec![k.to_string(), v];
            let rows = vec![
                kv("user", p.user_id.clone()),
                kv("ids", p.ids.join(", ")),
                kv("first seen", ts(p.first_seen)),
                kv("last seen", ts(p.last_seen)),
                kv("events", p.events.to_string()),
                kv("logins", p.logins.to_string()),
                kv("logins per week", num(p.logins_per_week)),
                kv("sessions", p.sessions.to_string()),
                kv("avg session", dur(p.avg_session_duration_ms)),
                kv(
                    "top features",
                    p.features.iter().map(|f| format!("{} ({})", f.feature, f.count)).collect::<Vec<_>>().join(", "),
                ),
                kv("billing", format!("{:?}", p.billing.state).to_lowercase()),
                kv("payments", format!("{} ({:.2})", p.billing.payments, p.billing.revenue)),
                kv("cancel attempts", p.cancellation_attempts.to_string()),
                kv("open tickets", p.tickets.open.to_string()),
                kv("mean resolution", dur(p.tickets.mean_resolution_ms)),
                kv("email open rate", pct(p.email_open_rate)),
                kv("notif click rate", pct(p.notification_click_rate)),
                kv("onboarded", p.onboarding_completed.to_string()),
                kv(
                    "last 30d vs prev",
                    format!("{} vs {} ({})", p.usage.last_30d, p.usage.previous_30d, pct(p.usage.change)),
                ),
            ];
            table(&["field", "value"], &rows)
        })
    }
}
