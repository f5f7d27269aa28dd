//! `churn revenue`: revenue, paying users, ARPU, ARPPU per period, LTV, conversion.

use super::analysis::{num, pct, table, AnalysisArgs};
use super::{Ctx, Run};
use crate::engine::{Period, RevenueReport, RevenueRequest};
use crate::error::Result;

/// Revenue per period: revenue, payments, paying and active users, ARPU, ARPPU; LTV and
/// signup-to-payment conversion.
#[derive(Debug, clap::Args)]
pub struct RevenueArgs {
    /// Period of the rows.
    #[arg(long, default_value = "month", value_name = "day|week|month")]
    pub period: Period,
    /// Report currency (default: the most frequent).
    #[arg(long, value_name = "CODE")]
    pub currency: Option<String>,
    /// Customer acquisition cost, for LTV/CAC.
    #[arg(long, value_name = "AMOUNT")]
    pub cac: Option<f64>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: AnalysisArgs,
}

impl RevenueArgs {
    /// Run the revenue analysis these flags describe.
    pub(crate) fn report(&self, ctx: &Ctx) -> Result<RevenueReport> {
        let mut req = RevenueRequest::new()
            .range(self.common.range()?)
            .period(self.period);
        req.currency = self.currency.clone();
        req.cac = self.cac;
        req.segment = self.common.segment();
        self.common.engine(ctx)?.revenue(&req)
    }
}

impl Run for RevenueArgs {
    fn run(self, ctx: &Ctx) -> Result<()> {
        let r = self.report(ctx)?;
        self.common.output(&r, || {
            let rows: Vec<Vec<String>> = r
                .periods
                .iter()
                .map(|p| {
                    vec![
                        p.label.clone(),
                        format!("{:.2}", p.revenue),
                        p.payments.to_string(),
                        p.paying_users.to_string(),
                        p.active_users.to_string(),
                        num(p.arpu),
                        num(p.arppu),
                    ]
                })
                .collect();
            let mut out = format!("currency: {}\n\n", r.currency.as_deref().unwrap_or("-"));
            out.push_str(&table(
                &["period", "revenue", "payments", "paying", "active", "arpu", "arppu"],
                &rows,
            ));
            out.push_str(&format!(
                "\ntotal revenue {:.2}  paying users {}  LTV {}  signup→payment {} ({} of {})\n",
                r.totals.revenue,
                r.totals.paying_users,
                num(r.ltv.ltv),
                pct(r.conversion.rate),
                r.conversion.converted,
                r.conversion.signups
            ));
            out
        })
    }
}
