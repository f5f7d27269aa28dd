//! What an import did: [`ImportReport`], [`ImportRejection`], [`ImportProgress`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::options::FileFormat;
use crate::error::ValidationError;

/// One refused row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRejection {
    /// 1-based line number in the file where the row starts (the CSV header is line 1).
    pub line: u64,
    /// A short category, the key of [`ImportReport::rejected_by_reason`]
    /// (`bad timestamp`, `amount is not a finite number`, ...).
    pub kind: String,
    /// The full reason, naming the column and the value.
    pub reason: String,
}

/// Progress reported while importing, after every batch and every few thousand rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportProgress {
    /// Bytes consumed from the input so far.
    pub bytes_read: u64,
    /// Data rows (or non-blank lines) read so far.
    pub rows_read: u64,
    /// Events newly stored so far.
    pub stored: u64,
    /// Rows refused so far.
    pub rejected: u64,
}

/// The outcome of an import. `rows_read == stored + duplicates + identities + rejected`
/// once the import has finished.
///
/// ```
/// use churn_core::import::{import_reader, ImportOptions};
/// use churn_core::store::MemoryStore;
/// let csv = "customer_id,event_date,amount,event_type\nc1,2025-01-02,9.5,purchase\nc2,someday,,login\n";
/// let report = import_reader(&MemoryStore::new(), csv.as_bytes(), &ImportOptions::new(), &mut |_| {})?;
/// assert_eq!((report.rows_read, report.stored, report.rejected), (2, 1, 1));
/// assert_eq!(report.rejections[0].line, 3);
/// assert_eq!(report.rejected_by_reason["bad timestamp"], 1);
/// # Ok::<(), churn_core::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// The format read.
    pub format: Option<FileFormat>,
    /// CSV only: which header column was used for each role (`user_id` -> `customer_id`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, String>,
    /// Data rows (CSV records after the header, non-blank NDJSON lines) read.
    pub rows_read: u64,
    /// Events newly stored.
    pub stored: u64,
    /// Valid events already in the store (same message id), stored once.
    pub duplicates: u64,
    /// NDJSON identify and alias calls applied.
    pub identities: u64,
    /// Rows refused.
    pub rejected: u64,
    /// The first rejections, in file order (at most
    /// [`ImportOptions::max_rejections_kept`](super::ImportOptions::max_rejections_kept)).
    pub rejections: Vec<ImportRejection>,
    /// Every rejection counted by [`ImportRejection::kind`].
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Bytes read from the input.
    pub bytes_read: u64,
    /// Wall time of the import in milliseconds.
    pub elapsed_ms: u64,
}

impl ImportReport {
    /// Rejection kinds with their counts, most frequent first (ties by name).
    ///
    /// ```
    /// use churn_core::import::ImportReport;
    /// let mut r = ImportReport::default();
    /// r.rejected_by_reason.insert("b".into(), 1);
    /// r.rejected_by_reason.insert("a".into(), 3);
    /// assert_eq!(r.top_reasons(1), vec![("a".to_string(), 3)]);
    /// ```
    pub fn top_reasons(&self, n: usize) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self
            .rejected_by_reason
            .iter()
            .map(|(k, c)| (k.clone(), *c))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }

    /// Line numbers of the kept rejections of one kind, in file order.
    pub fn lines_of(&self, kind: &str) -> Vec<u64> {
        self.rejections
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.line)
            .collect()
    }

    /// The progress figures of this report.
    pub fn progress(&self) -> ImportProgress {
        ImportProgress {
            bytes_read: self.bytes_read,
            rows_read: self.rows_read,
            stored: self.stored,
            rejected: self.rejected,
        }
    }
}

/// Why a row was refused: a category and the full text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowError {
    pub kind: String,
    pub reason: String,
}

impl RowError {
    pub(crate) fn new(kind: impl Into<String>, reason: impl Into<String>) -> Self {
        RowError {
            kind: kind.into(),
            reason: reason.into(),
        }
    }
}

impl From<ValidationError> for RowError {
    fn from(e: ValidationError) -> Self {
        let kind = match &e {
            ValidationError::Empty { field } => format!("empty {field}"),
            ValidationError::TooLong { field, .. } => format!("{field} too long"),
            ValidationError::ControlCharacter { field, .. } => {
                format!("control character in {field}")
            }
            ValidationError::MissingIdentity => "no user or anonymous id".to_string(),
            ValidationError::NotAnObject { field, .. } => format!("{field} is not an object"),
            ValidationError::TooDeep { field, .. } => format!("{field} nested too deep"),
            ValidationError::TooLarge { .. } => "message too large".to_string(),
            ValidationError::InFuture { .. } => "timestamp in the future".to_string(),
            ValidationError::TooOld { .. } => "timestamp before 2000".to_string(),
            ValidationError::NotFinite { field, .. } => {
                let f = field.strip_prefix("properties.").unwrap_or(field);
                format!("{f} is not a finite number")
            }
            ValidationError::InvalidUtf8 { .. } => "invalid UTF-8".to_string(),
            ValidationError::InvalidJson { .. } => "invalid JSON".to_string(),
            ValidationError::BadTimestamp { .. } => "bad timestamp".to_string(),
            ValidationError::Invalid { field, .. } => format!("invalid {field}"),
        };
        RowError {
            kind,
            reason: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_short_and_stable() {
        let k = |e: ValidationError| RowError::from(e).kind;
        assert_eq!(
            k(ValidationError::Empty {
                field: "user_id".into()
            }),
            "empty user_id"
        );
        assert_eq!(
            k(ValidationError::NotFinite {
                field: "properties.amount".into(),
                found: Some("\"NaN\"".into())
            }),
            "amount is not a finite number"
        );
        assert_eq!(
            k(ValidationError::MissingIdentity),
            "no user or anonymous id"
        );
        let e = RowError::from(ValidationError::BadTimestamp {
            field: "event_date".into(),
            value: "2025-13-01".into(),
        });
        assert_eq!(e.kind, "bad timestamp");
        assert!(e.reason.contains("event_date") && e.reason.contains("2025-13-01"));
    }

    #[test]
    fn top_reasons_and_lines() {
        let mut r = ImportReport::default();
        for (line, kind) in [(3, "x"), (5, "y"), (9, "x")] {
            r.rejections.push(ImportRejection {
                line,
                kind: kind.into(),
                reason: String::new(),
            });
            *r.rejected_by_reason.entry(kind.into()).or_default() += 1;
        }
        assert_eq!(
            r.top_reasons(5),
            vec![("x".to_string(), 2), ("y".to_string(), 1)]
        );
        assert_eq!(r.lines_of("x"), vec![3, 9]);
        assert!(r.lines_of("z").is_empty());
    }
}
