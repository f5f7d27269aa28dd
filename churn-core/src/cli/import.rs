//! `churn import FILE`: load a CSV or NDJSON file of events into the store.

use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::{print, thousands, Ctx, Run};
use crate::error::{Error, Result};
use crate::import::{
    import_file, import_reader, ColumnMapping, FileFormat, ImportOptions, ImportReport,
};

/// Import events from a CSV or NDJSON file.
///
/// CSV columns are detected from the header (the format
/// `customer_id,event_date,amount,event_type` needs no flags); other columns become event
/// properties. Bad rows are reported and skipped; importing the same file again stores
/// nothing twice.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The file to import (`-` reads standard input).
    pub file: PathBuf,
    /// File format [default: from the extension, else from the content].
    #[arg(long, value_name = "csv|ndjson")]
    pub format: Option<FileFormat>,
    /// Column holding the user id.
    #[arg(long, value_name = "COLUMN")]
    pub user_col: Option<String>,
    /// Column holding the anonymous id.
    #[arg(long, value_name = "COLUMN")]
    pub anonymous_col: Option<String>,
    /// Column holding the event time (RFC 3339, YYYY-MM-DD or epoch milliseconds).
    #[arg(long, value_name = "COLUMN")]
    pub time_col: Option<String>,
    /// Column holding the event name.
    #[arg(long, value_name = "COLUMN")]
    pub event_col: Option<String>,
    /// Column holding the amount (stored as the `amount` property).
    #[arg(long, value_name = "COLUMN")]
    pub amount_col: Option<String>,
    /// Column holding the session id.
    #[arg(long, value_name = "COLUMN")]
    pub session_col: Option<String>,
    /// Column holding a unique message id (otherwise one is derived from the row).
    #[arg(long, value_name = "COLUMN")]
    pub message_id_col: Option<String>,
    /// Event name for rows without one (or for files without an event column).
    #[arg(long, value_name = "NAME")]
    pub event: Option<String>,
    /// CSV field delimiter [default: `,`, tab for .tsv files].
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<char>,
    /// Rows written to the store per transaction.
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    pub batch: usize,
    /// Print the full report as JSON instead of the summary.
    #[arg(long)]
    pub json: bool,
}

impl ImportArgs {
    fn options(&self, ctx: &Ctx) -> Result<ImportOptions> {
        let mut columns = ColumnMapping::new();
        columns.user_id = self.user_col.clone();
        columns.anonymous_id = self.anonymous_col.clone();
        columns.timestamp = self.time_col.clone();
        columns.event = self.event_col.clone();
        columns.amount = self.amount_col.clone();
        columns.session_id = self.session_col.clone();
        columns.message_id = self.message_id_col.clone();
        let mut opts = ImportOptions::new()
            .columns(columns)
            .project(ctx.project.clone())
            .batch_size(self.batch);
        opts.format = self.format;
        opts.default_event = self.event.clone();
        if let Some(d) = self.delimiter {
            let byte = u8::try_from(d)
                .ok()
                .filter(u8::is_ascii)
                .ok_or_else(|| Error::invalid("--delimiter", "must be one ASCII character"))?;
            opts = opts.delimiter(byte);
        }
        Ok(opts)
    }
}

impl Run for ImportArgs {
    fn run(self, ctx: &Ctx) -> Result<()> {
        let opts = self.options(ctx)?;
        let stdin = self.file == Path::new("-");
        let total = if stdin {
            None
        } else {
            Some(
                std::fs::metadata(&self.file)
                    .map_err(|source| Error::Io {
                        path: self.file.clone(),
                        source,
                    })?
                    .len(),
            )
        };
        let store = ctx.open_store()?;
        let bar = progress_bar(ctx.interactive, total);
        let mut on_progress = |p: crate::import::ImportProgress| bar.set_position(p.bytes_read);
        let report = if stdin {
            import_reader(&*store, std::io::stdin().lock(), &opts, &mut on_progress)
        } else {
            import_file(&*store, &self.file, &opts, &mut on_progress)
        };
        bar.finish_and_clear();
        let report = report?;
        store.sync()?;
        if self.json {
            let text = serde_json::to_string_pretty(&report)
                .map_err(|e| Error::invalid("report", e.to_string()))?;
            print(&format!("{text}\n"))
        } else {
            print(&summary(&self.file, &report))
        }
    }
}

/// A byte-based bar when stdout is a terminal and the size is known, a spinner for
/// standard input, nothing otherwise.
fn progress_bar(interactive: bool, total: Option<u64>) -> ProgressBar {
    if !interactive {
        return ProgressBar::hidden();
    }
    let (bar, template) = match total {
        Some(len) => (
            ProgressBar::new(len),
            "{spinner} importing [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{spinner} importing {bytes} {bytes_per_sec}",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// The human summary: counts, then each rejection reason with its first line numbers.
pub(crate) fn summary(file: &Path, r: &ImportReport) -> String {
    let secs = r.elapsed_ms as f64 / 1000.0;
    let rate = if r.elapsed_ms > 0 {
        format!(", {} rows/s", thousands((r.rows_read as f64 / secs) as u64))
    } else {
        String::new()
    };
    let mut s = format!(
        "Imported {} ({}): {} rows in {:.2} s{}\n",
        file.display(),
        r.format.map_or("empty", FileFormat::as_str),
        thousands(r.rows_read),
        secs,
        rate
    );
    if !r.columns.is_empty() {
        let cols: Vec<String> = ["user_id", "anonymous_id", "timestamp", "event", "amount"]
            .iter()
            .chain(["message_id", "session_id", "properties", "context"].iter())
            .filter_map(|role| r.columns.get(*role).map(|c| format!("{role} <- {c}")))
            .collect();
        s.push_str(&format!("  columns:    {}\n", cols.join(", ")));
    }
    s.push_str(&format!("  stored:     {}\n", thousands(r.stored)));
    s.push_str(&format!(
        "  duplicates: {} (already stored)\n",
        thousands(r.duplicates)
    ));
    if r.identities > 0 {
        s.push_str(&format!("  identities: {}\n", thousands(r.identities)));
    }
    s.push_str(&format!("  rejected:   {}\n", thousands(r.rejected)));
    let top = r.top_reasons(8);
    let width = top.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (kind, count) in &top {
        let lines = r.lines_of(kind);
        let mut shown: Vec<String> = lines.iter().take(5).map(u64::to_string).collect();
        if (lines.len() as u64) < *count || lines.len() > 5 {
            shown.push("...".into());
        }
        s.push_str(&format!(
            "    {kind:<width$}  {:>6}  line{} {}\n",
            thousands(*count),
            if *count == 1 { "" } else { "s" },
            shown.join(", ")
        ));
    }
    if let Some(first) = r.rejections.first() {
        s.push_str(&format!("  first rejection: line {}: {}\n", first.line, first.reason));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::ImportRejection;

    #[test]
    fn summary_lists_reasons_with_lines() {
        let mut r = ImportReport {
            format: Some(FileFormat::Csv),
            rows_read: 1200,
            stored: 1190,
            rejected: 10,
            elapsed_ms: 100,
            ..ImportReport::default()
        };
        r.columns.insert("user_id".into(), "customer_id".into());
        for line in [5, 9] {
            r.rejections.push(ImportRejection {
                line,
                kind: "bad timestamp".into(),
                reason: "event_date: cannot read \"x\"".into(),
            });
        }
        r.rejected_by_reason.insert("bad timestamp".into(), 2);
        r.rejected_by_reason.insert("invalid UTF-8".into(), 8);
        let s = summary(Path::new("t.csv"), &r);
        assert!(s.contains("1,200 rows"), "{s}");
        assert!(s.contains("12,000 rows/s"), "{s}");
        assert!(s.contains("user_id <- customer_id"), "{s}");
        assert!(s.contains("stored:     1,190"), "{s}");
        assert!(s.contains("bad timestamp       2  lines 5, 9\n"), "{s}");
        // Counted but none kept in full: the lines are elided.
        assert!(s.contains("invalid UTF-8       8  lines ...\n"), "{s}");
        assert!(s.find("invalid UTF-8") < s.find("bad timestamp"), "{s}");
        assert!(s.contains("first rejection: line 5"), "{s}");
    }

    #[test]
    fn flags_become_options() {
        use clap::Parser;
        let cli = super::super::Cli::try_parse_from([
            "churn", "import", "x.csv", "--user-col", "who", "--event", "buy", "--batch", "7",
            "--delimiter", ";", "--project", "p",
        ])
        .unwrap();
        let ctx = Ctx::new(&cli.global);
        let super::super::Command::Import(args) = cli.command else {
            panic!("not import")
        };
        let o = args.options(&ctx).unwrap();
        assert_eq!(o.columns.user_id.as_deref(), Some("who"));
        assert_eq!(o.default_event.as_deref(), Some("buy"));
        assert_eq!((o.batch_size, o.delimiter), (7, b';'));
        assert_eq!(o.project, "p");
    }
}
