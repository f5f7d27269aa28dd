//! What the analysis subcommands share: `--from/--to`, `--segment`, `--json`, loading
//! the engine, and printing a table or the report's JSON.

use serde::Serialize;

use super::{print, Ctx};
use crate::engine::{parse_duration_ms, Engine, SegmentRef};
use crate::error::{Error, Result};
use crate::time::{TimeRange, Timestamp};

/// Flags of every analysis subcommand.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AnalysisArgs {
    /// From this time (RFC 3339 or YYYY-MM-DD, inclusive).
    #[arg(long, value_name = "DATE")]
    pub from: Option<Timestamp>,
    /// Until this time (exclusive).
    #[arg(long, value_name = "DATE")]
    pub to: Option<Timestamp>,
    /// Only persons of this saved segment.
    #[arg(long, value_name = "NAME")]
    pub segment: Option<String>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl AnalysisArgs {
    /// The range.
    pub fn range(&self) -> Result<TimeRange> {
        if let (Some(f), Some(t)) = (self.from, self.to) {
            if f >= t {
                return Err(Error::invalid("--to", "must be after --from"));
            }
        }
        Ok(TimeRange {
            from: self.from,
            to: self.to,
        })
    }

    /// The segment.
    pub fn segment(&self) -> Option<SegmentRef> {
        self.segment.clone().map(SegmentRef::Name)
    }

    /// Load the engine over the existing store.
    pub fn engine(&self, ctx: &Ctx) -> Result<Engine> {
        Engine::load(ctx.open_existing_store()?, &ctx.project)
    }

    /// Print `report` as JSON with `--json`, else the table `table` builds.
    pub fn output<T: Serialize>(&self, report: &T, table: impl FnOnce() -> String) -> Result<()> {
        if self.json {
            let mut text = serde_json::to_string_pretty(report)
                .map_err(|e| Error::invalid("report", e.to_string()))?;
            text.push('\n');
            print(&text)
        } else {
            print(&table())
        }
    }
}

/// A duration flag (`7d`, `12h`, `30m`) in milliseconds.
pub fn duration(s: &str) -> std::result::Result<i64, String> {
    parse_duration_ms(s).map_err(|e| e.to_string())
}

/// Columns aligned: text left, numbers right.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (k, c) in r.iter().enumerate() {
            if k < w.len() {
                w[k] = w[k].max(c.chars().count());
            }
        }
    }
    let numeric = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_ascii_digit() || c == '-') || s == "-"
    };
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (k, c) in cells.iter().enumerate() {
            let pad = w[k].saturating_sub(c.chars().count());
            if k > 0 {
                out.push_str("  ");
            }
            if k > 0 && numeric(c) {
                out.push_str(&" ".repeat(pad));
                out.push_str(c);
            } else {
                out.push_str(c);
                out.push_str(&" ".repeat(pad));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    let total: usize = w.iter().sum::<usize>() + 2 * w.len().saturating_sub(1);
    out.push_str(&"-".repeat(total));
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// `0.1234` as `12.3%`, `-` when absent.
pub fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |x| format!("{:.1}%", x * 100.0))
}

/// A number with two decimals, `-` when absent.
pub fn num(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |x| format!("{x:.2}"))
}

/// Milliseconds as `3d 4h`, `5h 2m`, `12m 5s`, `800ms`; `-` when absent.
pub fn dur(ms: Option<f64>) -> String {
    let Some(ms) = ms else { return "-".into() };
    let ms = ms.round() as i64;
    let (s, m, h, d) = (ms / 1000, ms / 60_000, ms / 3_600_000, ms / 86_400_000);
    if d > 0 {
        format!("{d}d {}h", h % 24)
    } else if h > 0 {
        format!("{h}h {}m", m % 60)
    } else if m > 0 {
        format!("{m}m {}s", s % 60)
    } else if s > 0 {
        format!("{s}s")
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting() {
        let t = table(&["a", "n"], &[vec!["x".into(), "10".into()], vec!["yy".into(), "7".into()]]);
        assert_eq!(t, "a   n\n------\nx   10\nyy   7\n");
        assert_eq!(pct(Some(0.5)), "50.0%");
        assert_eq!(dur(Some(90_000.0)), "1m 30s");
        assert_eq!(dur(Some(3.0 * 86_400_000.0 + 7_200_000.0)), "3d 2h");
        assert_eq!(duration("7d"), Ok(604_800_000));
        assert!(duration("7").is_err());
    }
}
