//! `churn segments`: saved segments (list, create, update, show, delete).

use super::analysis::{num, pct, table};
use super::{open_store, print, Ctx, Run};
use crate::engine::{Engine, SegmentExpr, SegmentRef, Segments};
use crate::error::{Error, Result};

/// Saved segments: `list`, `create NAME EXPR`, `update NAME EXPR`, `show NAME`,
/// `delete NAME`. Expressions use the text form, e.g.
/// `plan = "pro" and did(feature_used, >= 3, 14d)`.
#[derive(Debug, clap::Args)]
pub struct SegmentsArgs {
    #[command(subcommand)]
    #[allow(missing_docs)]
    pub action: SegmentAction,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// What to do with segments.
#[derive(Debug, clap::Subcommand)]
pub enum SegmentAction {
    /// List saved segments.
    List,
    /// Save a new segment.
    Create {
        /// Name (A-Z a-z 0-9 _ -).
        name: String,
        /// The condition (text form).
        expr: String,
        /// A description.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Replace a segment's condition.
    Update {
        /// Name.
        name: String,
        /// The new condition.
        expr: String,
    },
    /// Show a segment with its size, statistics and members.
    Show {
        /// Name.
        name: String,
        /// Members listed.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Delete a segment.
    Delete {
        /// Name.
        name: String,
    },
}

impl SegmentsArgs {
    fn out<T: serde::Serialize>(&self, v: &T, text: impl FnOnce() -> String) -> Result<()> {
        if self.json {
            let s = serde_json::to_string_pretty(v).map_err(|e| Error::invalid("report", e.to_string()))?;
            print(&(s + "\n"))
        } else {
            print(&text())
        }
    }
}

impl Run for SegmentsArgs {
    fn run(self, ctx: &Ctx) -> Result<()> {
        let store = match &self.action {
            SegmentAction::Create { .. } | SegmentAction::Update { .. } | SegmentAction::Delete { .. } => {
                ctx.open_existing_store()?;
                open_store(&ctx.db)?
            }
            _ => ctx.open_existing_store()?,
        };
        let segs = Segments::new(store.as_ref(), &ctx.project);
        match &self.action {
            SegmentAction::List => {
                let list = segs.list()?;
                self.out(&list, || {
                    let rows: Vec<Vec<String>> =
                        list.iter().map(|s| vec![s.name.clone(), s.text.clone()]).collect();
                    table(&["name", "condition"], &rows)
                })
            }
            SegmentAction::Create { name, expr, description } => {
                let s = segs.create(name, SegmentExpr::parse(expr)?, description)?;
                self.out(&s, || format!("created segment {}: {}\n", s.name, s.text))
            }
            SegmentAction::Update { name, expr } => {
                let s = segs.update(name, SegmentExpr::parse(expr)?, None)?;
                self.out(&s, || format!("updated segment {}: {}\n", s.name, s.text))
            }
            SegmentAction::Delete { name } => {
                if !segs.delete(name)? {
                    return Err(Error::NotFound { what: format!("segment {name}") });
                }
                self.out(&serde_json::json!({"deleted": name}), || format!("deleted segment {name}\n"))
            }
            SegmentAction::Show { name, limit } => {
                let s = segs.get(name)?;
                let engine = Engine::load(store.clone(), &ctx.project)?;
                let r = SegmentRef::Name(name.clone());
                let stats = engine.segment_stats(&r)?;
                let mut members = engine.segment_members(&r)?;
                members.truncate(*limit);
                let v = serde_json::json!({"segment": s, "stats": stats, "members": members});
                self.out(&v, || {
                    let rows = vec![
                        vec!["condition".into(), s.text.clone()],
                        vec!["members".into(), stats.count.to_string()],
                        vec!["share".into(), pct(stats.share)],
                        vec!["mean events".into(), num(stats.mean_events)],
                        vec!["revenue".into(), format!("{:.2}", stats.revenue)],
                        vec!["first members".into(), members.join(", ")],
                    ];
                    table(&["segment", name], &rows)
                })
            }
        }
    }
}
