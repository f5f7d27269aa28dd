//! `churn churn-rate`: activity and subscription churn per period.

use super::analysis::{pct, table};
use super::revenue::RevenueArgs;
use super::{Ctx, Run};
use crate::error::Result;

/// Churn rate per period: the share of active users with no activity in the next
/// period, and subscription churn when subscription events exist. `--json` prints the
/// revenue report (its periods carry the churn figures).
#[derive(Debug, clap::Args)]
pub struct ChurnRateArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub inner: RevenueArgs,
}

impl Run for ChurnRateArgs {
    fn run(self, ctx: &Ctx) -> Result<()> {
        let r = self.inner.report(ctx)?;
        let opt = |x: Option<u64>| x.map_or_else(|| "-".into(), |x| x.to_string());
        self.inner.common.output(&r, || {
            let rows: Vec<Vec<String>> = r
                .periods
                .iter()
                .map(|p| {
                    vec![
                        p.label.clone(),
                        p.active_users.to_string(),
                        opt(p.churned_users),
                        pct(p.churn_rate),
                        opt(p.subscriptions_at_start),
                        opt(p.cancellations),
                        pct(p.subscription_churn_rate),
                    ]
                })
                .collect();
            table(
                &["period", "active", "churned", "churn rate", "subs at start", "cancelled", "sub churn"],
                &rows,
            )
        })
    }
}
