//! Dataset uploads (`POST /api/datasets`): a CSV or NDJSON file, sent as the raw body or
//! as the `file` part (else the first part) of a `multipart/form-data` body, imported
//! with [`import_reader`] on a blocking thread. The upload answers 202 with the
//! dataset id at once; `GET /api/datasets/{id}` shows the progress while it runs and the
//! [`ImportReport`] when done. Jobs are kept in memory (the last 100 per server).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::import::{import_reader, FileFormat, ImportOptions, ImportProgress, ImportReport};
use crate::store::Store;
use crate::time::Timestamp;

/// Jobs kept.
pub const MAX_JOBS: usize = 100;

/// Where an upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetState {
    /// Importing.
    Running,
    /// Done; see the report.
    Succeeded,
    /// Failed; see the error.
    Failed,
}

/// Status of one upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetStatus {
    /// Dataset id.
    pub id: String,
    /// The project it was imported into.
    pub project: String,
    /// State.
    pub state: DatasetState,
    /// Bytes received.
    pub bytes: u64,
    /// Progress so far.
    pub progress: ImportProgress,
    /// The import report, when done.
    pub report: Option<ImportReport>,
    /// Why it failed.
    pub error: Option<String>,
    /// When the upload arrived.
    pub created_at: Timestamp,
}

/// Upload jobs of the server.
#[derive(Debug, Default)]
pub struct Datasets {
    jobs: Mutex<(BTreeMap<String, DatasetStatus>, VecDeque<String>)>,
}

impl Datasets {
    /// Register a new job; returns its id.
    pub fn start(&self, project: &str, bytes: u64) -> String {
        let id = format!("ds_{}", uuid::Uuid::new_v4().simple());
        let mut j = self.jobs.lock();
        j.0.insert(
            id.clone(),
            DatasetStatus {
                id: id.clone(),
                project: project.to_string(),
                state: DatasetState::Running,
                bytes,
                progress: ImportProgress::default(),
                report: None,
                error: None,
                created_at: Timestamp::now(),
            },
        );
        j.1.push_back(id.clone());
        while j.1.len() > MAX_JOBS {
            if let Some(old) = j.1.pop_front() {
                j.0.remove(&old);
            }
        }
        id
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut DatasetStatus)) {
        if let Some(s) = self.jobs.lock().0.get_mut(id) {
            f(s);
        }
    }

    /// The status of `id` if it belongs to `project`.
    pub fn get(&self, project: &str, id: &str) -> Option<DatasetStatus> {
        self.jobs
            .lock()
            .0
            .get(id)
            .filter(|s| s.project == project)
            .cloned()
    }

    /// Run the import of job `id` (blocking), recording progress and the outcome.
    pub fn run(
        self: &Arc<Self>,
        store: &dyn Store,
        id: &str,
        project: &str,
        data: &[u8],
        format: Option<FileFormat>,
    ) {
        let mut opts = ImportOptions::new().project(project);
        if let Some(f) = format {
            opts = opts.format(f);
        }
        let me = self.clone();
        let result = import_reader(store, data, &opts, &mut |p| {
            me.update(id, |s| s.progress = p);
        });
        self.update(id, |s| match result {
            Ok(r) => {
                s.progress = r.progress();
                s.report = Some(r);
                s.state = DatasetState::Succeeded;
            }
            Err(e) => {
                s.error = Some(e.to_string());
                s.state = DatasetState::Failed;
            }
        });
    }
}

/// The file of a `multipart/form-data` body: the part named `file`, else the first
/// part. Returns the bytes and the part's file name.
pub fn multipart_file<'a>(
    content_type: &str,
    body: &'a [u8],
) -> Result<(&'a [u8], Option<String>)> {
    let boundary = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
        .map(|b| b.trim_matches('"'))
        .filter(|b| !b.is_empty())
        .ok_or_else(|| Error::invalid("body", "multipart body without a boundary"))?;
    let delim = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body;
    let Some(start) = find(rest, delim.as_bytes()) else {
        return Err(Error::invalid("body", "multipart boundary not found"));
    };
    rest = &rest[start + delim.len()..];
    loop {
        if rest.starts_with(b"--") {
            break;
        }
        let rest_after_crlf = rest.strip_prefix(b"\r\n").unwrap_or(rest);
        let Some(hdr_end) = find(rest_after_crlf, b"\r\n\r\n") else {
            return Err(Error::invalid("body", "multipart part without headers end"));
        };
        let headers = String::from_utf8_lossy(&rest_after_crlf[..hdr_end]).to_string();
        let content = &rest_after_crlf[hdr_end + 4..];
        let end_delim = format!("\r\n--{boundary}");
        let Some(end) = find(content, end_delim.as_bytes()) else {
            return Err(Error::invalid("body", "multipart part is not terminated"));
        };
        parts.push((headers, &content[..end]));
        rest = &content[end + end_delim.len()..];
    }
    let attr = |h: &str, name: &str| -> Option<String> {
        let key = format!("{name}=\"");
        let i = h.find(&key)? + key.len();
        let j = h[i..].find('"')?;
        Some(h[i..i + j].to_string())
    };
    let pick = parts
        .iter()
        .find(|(h, _)| attr(h, "name").as_deref() == Some("file"))
        .or_else(|| parts.first())
        .ok_or_else(|| Error::invalid("body", "multipart body without a part"))?;
    Ok((pick.1, attr(&pick.0, "filename")))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_parts() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"e.csv\"\r\nContent-Type: text/csv\r\n\r\na,b\r\n1,2\r\n--XyZ--\r\n";
        let (data, name) = multipart_file("multipart/form-data; boundary=XyZ", body).unwrap();
        assert_eq!(data, b"a,b\r\n1,2");
        assert_eq!(name.as_deref(), Some("e.csv"));
        assert!(multipart_file("multipart/form-data", body).is_err());
        assert!(multipart_file("multipart/form-data; boundary=Q", body).is_err());
        assert!(multipart_file("multipart/form-data; boundary=XyZ", b"--XyZ\r\nno end").is_err());
    }

    #[test]
    fn jobs_are_per_project() {
        let d = Arc::new(Datasets::default());
        let id = d.start("a", 10);
        assert!(d.get("a", &id).is_some());
        assert!(d.get("b", &id).is_none());
        let store = crate::store::MemoryStore::new();
        d.run(
            &store,
            &id,
            "a",
            b"customer_id,event_date,amount,event_type\nc1,2025-01-02,5,purchase\n",
            None,
        );
        let s = d.get("a", &id).unwrap();
        assert_eq!(s.state, DatasetState::Succeeded);
        assert_eq!(s.report.unwrap().stored, 1);
    }
}
