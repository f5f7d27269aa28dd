//! `churn export`: write stored events as CSV or NDJSON.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use super::{print, thousands, Ctx, Run};
use crate::error::{Error, Result};
use crate::import::{export_events, export_file, FileFormat};
use crate::store::ScanRequest;
use crate::time::{TimeRange, Timestamp};

/// Export events as CSV or NDJSON (to standard output unless --out is given).
///
/// The output imports back with `churn import` to the same events.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Output format [default: from the --out extension, else csv].
    #[arg(long, value_name = "csv|ndjson")]
    pub format: Option<FileFormat>,
    /// Only events at or after this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub from: Option<Timestamp>,
    /// Only events before this time (exclusive).
    #[arg(long, value_name = "DATE")]
    pub to: Option<Timestamp>,
    /// Only events with this name (repeat for several).
    #[arg(long, value_name = "NAME")]
    pub event: Vec<String>,
    /// At most this many events.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

impl ExportArgs {
    fn request(&self) -> Result<ScanRequest> {
        if let (Some(f), Some(t)) = (self.from, self.to) {
            if f >= t {
                return Err(Error::invalid("--to", "must be after --from"));
            }
        }
        let mut req = ScanRequest::new().range(TimeRange {
            from: self.from,
            to: self.to,
        });
        if !self.event.is_empty() {
            req = req.events(self.event.iter().cloned());
        }
        if let Some(n) = self.limit {
            req = req.limit(n);
        }
        Ok(req)
    }

    fn format(&self) -> FileFormat {
        self.format
            .or_else(|| self.out.as_deref().and_then(FileFormat::from_path))
            .unwrap_or(FileFormat::Csv)
    }
}

impl Run for ExportArgs {
    fn run(self, ctx: &Ctx) -> Result<()> {
        let req = self.request()?;
        let format = self.format();
        let store = ctx.open_existing_store()?;
        match &self.out {
            Some(path) => {
                let n = export_file(&*store, &ctx.project, &req, format, path)?;
                print(&format!(
                    "Exported {} events to {} ({format})\n",
                    thousands(n),
                    path.display()
                ))
            }
            None => {
                let stdout = std::io::stdout().lock();
                let n = export_events(
                    &*store,
                    &ctx.project,
                    &req,
                    format,
                    BufWriter::with_capacity(256 * 1024, stdout),
                )?;
                // stdout holds the data: the count goes to stderr.
                let _ = writeln!(std::io::stderr(), "Exported {} events", thousands(n));
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> ExportArgs {
        let mut argv = vec!["churn", "export"];
        argv.extend_from_slice(extra);
        match super::super::Cli::try_parse_from(argv).unwrap().command {
            super::super::Command::Export(a) => a,
            _ => panic!("not export"),
        }
    }

    #[test]
    fn flags_become_a_scan_request() {
        let a = args(&["--from", "2025-01-01", "--to", "2025-02-01", "--event", "buy", "--limit", "3"]);
        let req = a.request().unwrap();
        assert_eq!(req.range.from, Timestamp::from_ymd(2025, 1, 1));
        assert_eq!(req.range.to, Timestamp::from_ymd(2025, 2, 1));
        assert_eq!(req.events, Some(vec!["buy".to_string()]));
        assert_eq!(req.limit, Some(3));
        assert!(args(&["--from", "2025-02-01", "--to", "2025-01-01"]).request().is_err());
    }

    #[test]
    fn format_defaults_from_the_output_name() {
        assert_eq!(args(&[]).format(), FileFormat::Csv);
        assert_eq!(args(&["--out", "x.jsonl"]).format(), FileFormat::Ndjson);
        assert_eq!(args(&["--out", "x.jsonl", "--format", "csv"]).format(), FileFormat::Csv);
    }
}
