//! What to import and how: [`ImportOptions`], [`ColumnMapping`] and [`FileFormat`].

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::event::Limits;
use crate::store::DEFAULT_PROJECT;

/// A file format for import and export.
///
/// ```
/// use churn_core::import::FileFormat;
/// use std::path::Path;
/// assert_eq!("ndjson".parse::<FileFormat>().unwrap(), FileFormat::Ndjson);
/// assert_eq!(FileFormat::from_path(Path::new("events.jsonl")), Some(FileFormat::Ndjson));
/// assert_eq!(FileFormat::from_path(Path::new("seed.CSV")), Some(FileFormat::Csv));
/// assert_eq!(FileFormat::from_path(Path::new("notes.txt")), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line (newline-delimited JSON, JSON Lines).
    Ndjson,
}

impl FileFormat {
    /// The format a file name's extension implies: `.csv`, `.tsv` (CSV), `.ndjson`,
    /// `.jsonl`, `.json` (NDJSON); `None` for anything else.
    pub fn from_path(path: &Path) -> Option<FileFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "tsv" => Some(FileFormat::Csv),
            "ndjson" | "jsonl" | "json" => Some(FileFormat::Ndjson),
            _ => None,
        }
    }

    /// The lowercase name (`csv`, `ndjson`).
    pub fn as_str(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Ndjson => "ndjson",
        }
    }
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FileFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(FileFormat::Csv),
            "ndjson" | "jsonl" | "json" => Ok(FileFormat::Ndjson),
            other => Err(Error::invalid(
                "format",
                format!("unknown format {other:?} (expected csv or ndjson)"),
            )),
        }
    }
}

/// The role a CSV column plays. Columns without a role become event properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnRole {
    /// The user id.
    UserId,
    /// The anonymous id.
    AnonymousId,
    /// The event time.
    Timestamp,
    /// The event name.
    Event,
    /// The amount, stored as `properties.amount`.
    Amount,
    /// The message id (deduplication key).
    MessageId,
    /// The explicit session id.
    SessionId,
    /// A JSON object merged into the properties (the `properties` column of an export).
    Properties,
    /// A JSON object read as the event context (the `context` column of an export).
    Context,
}

impl ColumnRole {
    /// Every role, in the order they are resolved.
    pub const ALL: [ColumnRole; 9] = [
        ColumnRole::MessageId,
        ColumnRole::Timestamp,
        ColumnRole::Event,
        ColumnRole::UserId,
        ColumnRole::AnonymousId,
        ColumnRole::SessionId,
        ColumnRole::Amount,
        ColumnRole::Properties,
        ColumnRole::Context,
    ];

    /// The snake_case name of the role (`user_id`, `timestamp`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnRole::UserId => "user_id",
            ColumnRole::AnonymousId => "anonymous_id",
            ColumnRole::Timestamp => "timestamp",
            ColumnRole::Event => "event",
            ColumnRole::Amount => "amount",
            ColumnRole::MessageId => "message_id",
            ColumnRole::SessionId => "session_id",
            ColumnRole::Properties => "properties",
            ColumnRole::Context => "context",
        }
    }

    /// Header names recognised for this role when no column is named for it, in order
    /// of preference (compared ignoring ASCII case and surrounding spaces).
    pub fn auto_names(self) -> &'static [&'static str] {
        match self {
            ColumnRole::UserId => &["customer_id", "user_id", "userId", "distinct_id"],
            ColumnRole::AnonymousId => &["anonymous_id", "anonymousId"],
            ColumnRole::Timestamp => &["event_date", "timestamp", "date", "time", "created_at"],
            ColumnRole::Event => &["event_type", "event", "name"],
            ColumnRole::Amount => &["amount", "revenue", "value", "price"],
            ColumnRole::MessageId => &["message_id", "messageId"],
            ColumnRole::SessionId => &["session_id", "sessionId"],
            ColumnRole::Properties => &["properties"],
            ColumnRole::Context => &["context"],
        }
    }
}

impl fmt::Display for ColumnRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which CSV column holds what. A role left `None` is detected from the header
/// ([`ColumnRole::auto_names`]); every other column becomes an event property (numbers
/// stored as numbers).
///
/// ```
/// use churn_core::import::{ColumnMapping, ColumnRole};
/// let m = ColumnMapping::new().user_id("account").event("kind");
/// assert_eq!(m.get(ColumnRole::UserId), Some("account"));
/// assert_eq!(m.get(ColumnRole::Timestamp), None); // detected from the header
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ColumnMapping {
    /// Column holding the user id.
    pub user_id: Option<String>,
    /// Column holding the anonymous id.
    pub anonymous_id: Option<String>,
    /// Column holding the event time.
    pub timestamp: Option<String>,
    /// Column holding the event name.
    pub event: Option<String>,
    /// Column holding the amount.
    pub amount: Option<String>,
    /// Column holding the message id.
    pub message_id: Option<String>,
    /// Column holding the session id.
    pub session_id: Option<String>,
}

impl ColumnMapping {
    /// Detect every column from the header.
    pub fn new() -> Self {
        Self::default()
    }

    /// The column named for `role`, if any.
    pub fn get(&self, role: ColumnRole) -> Option<&str> {
        let slot = match role {
            ColumnRole::UserId => &self.user_id,
            ColumnRole::AnonymousId => &self.anonymous_id,
            ColumnRole::Timestamp => &self.timestamp,
            ColumnRole::Event => &self.event,
            ColumnRole::Amount => &self.amount,
            ColumnRole::MessageId => &self.message_id,
            ColumnRole::SessionId => &self.session_id,
            ColumnRole::Properties | ColumnRole::Context => return None,
        };
        slot.as_deref()
    }

    /// Name the user id column.
    pub fn user_id(mut self, column: impl Into<String>) -> Self {
        self.user_id = Some(column.into());
        self
    }

    /// Name the anonymous id column.
    pub fn anonymous_id(mut self, column: impl Into<String>) -> Self {
        self.anonymous_id = Some(column.into());
        self
    }

    /// Name the timestamp column.
    pub fn timestamp(mut self, column: impl Into<String>) -> Self {
        self.timestamp = Some(column.into());
        self
    }

    /// Name the event name column.
    pub fn event(mut self, column: impl Into<String>) -> Self {
        self.event = Some(column.into());
        self
    }

    /// Name the amount column.
    pub fn amount(mut self, column: impl Into<String>) -> Self {
        self.amount = Some(column.into());
        self
    }

    /// Name the message id column.
    pub fn message_id(mut self, column: impl Into<String>) -> Self {
        self.message_id = Some(column.into());
        self
    }

    /// Name the session id column.
    pub fn session_id(mut self, column: impl Into<String>) -> Self {
        self.session_id = Some(column.into());
        self
    }
}

/// How to import a file.
///
/// ```
/// use churn_core::import::{ImportOptions, FileFormat, ColumnMapping};
/// let opts = ImportOptions::new()
///     .format(FileFormat::Csv)
///     .columns(ColumnMapping::new().user_id("account"))
///     .default_event("purchase")
///     .batch_size(5_000);
/// assert_eq!(opts.project, "default");
/// assert_eq!(opts.default_event.as_deref(), Some("purchase"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ImportOptions {
    /// The format; `None` picks it from the file extension, or from the first byte of
    /// the input (`{` means NDJSON) when there is no telling extension.
    pub format: Option<FileFormat>,
    /// CSV column roles.
    pub columns: ColumnMapping,
    /// Event name for CSV rows without an event column or with an empty cell.
    pub default_event: Option<String>,
    /// The project (tenant) to import into.
    pub project: String,
    /// Messages written per [`Store::apply`](crate::store::Store::apply) call (one
    /// transaction each). Larger batches mean fewer commits: on a SQLite file 20,000
    /// imported about twice as fast as 5,000.
    pub batch_size: usize,
    /// CSV field delimiter (`b','`; a `.tsv` file uses tab unless this is changed).
    pub delimiter: u8,
    /// How many rejections the report keeps in full (all are counted).
    pub max_rejections_kept: usize,
    /// Validation limits, the same ones tracked events get.
    pub limits: Limits,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            format: None,
            columns: ColumnMapping::default(),
            default_event: None,
            project: DEFAULT_PROJECT.to_string(),
            batch_size: 20_000,
            delimiter: b',',
            max_rejections_kept: 100,
            limits: Limits::default(),
        }
    }
}

impl ImportOptions {
    /// The defaults: format and columns detected, project `default`, batches of 20,000.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fix the format.
    pub fn format(mut self, format: FileFormat) -> Self {
        self.format = Some(format);
        self
    }

    /// Set the CSV column roles.
    pub fn columns(mut self, columns: ColumnMapping) -> Self {
        self.columns = columns;
        self
    }

    /// Event name for rows that have none.
    pub fn default_event(mut self, name: impl Into<String>) -> Self {
        self.default_event = Some(name.into());
        self
    }

    /// The project to import into.
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = project.into();
        self
    }

    /// Messages per store write (at least 1).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }

    /// CSV field delimiter.
    pub fn delimiter(mut self, d: u8) -> Self {
        self.delimiter = d;
        self
    }

    /// How many rejections the report lists in full.
    pub fn max_rejections_kept(mut self, n: usize) -> Self {
        self.max_rejections_kept = n;
        self
    }

    /// Validation limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Check the options themselves (not the data).
    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.batch_size == 0 {
            return Err(Error::invalid("batch_size", "must be at least 1"));
        }
        if self.project.is_empty() {
            return Err(Error::invalid("project", "must not be empty"));
        }
        if matches!(self.delimiter, b'"' | b'\n' | b'\r') {
            return Err(Error::invalid(
                "delimiter",
                "must not be a quote or a line break",
            ));
        }
        if let Some(e) = &self.default_event {
            crate::event::check_text("default_event", e, self.limits.max_name_chars)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_and_errors() {
        assert_eq!(" CSV ".parse::<FileFormat>().unwrap(), FileFormat::Csv);
        assert_eq!("jsonl".parse::<FileFormat>().unwrap(), FileFormat::Ndjson);
        assert_eq!(
            "xml".parse::<FileFormat>().unwrap_err().code(),
            "ERR_INVALID_ARGUMENT"
        );
        assert_eq!(FileFormat::Ndjson.to_string(), "ndjson");
        assert_eq!(FileFormat::from_path(Path::new("noext")), None);
    }

    #[test]
    fn options_are_checked() {
        assert!(ImportOptions::new().check().is_ok());
        assert!(ImportOptions::new().batch_size(0).check().is_err());
        assert!(ImportOptions::new().project("").check().is_err());
        assert!(ImportOptions::new().delimiter(b'"').check().is_err());
        assert!(ImportOptions::new().default_event("").check().is_err());
        let json = serde_json::to_value(ImportOptions::new()).unwrap();
        let back: ImportOptions = serde_json::from_value(json).unwrap();
        assert_eq!(back, ImportOptions::new());
    }
}
