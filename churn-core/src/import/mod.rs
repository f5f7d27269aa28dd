//! Import events from CSV and NDJSON files, and export them again.
//!
//! Every row is validated exactly like a tracked event; a bad row (bad date, empty id,
//! non-numeric amount, invalid UTF-8, wrong column count, bad JSON) is counted and
//! reported with its line number and reason, and never stops the import. Good rows are
//! written in batches through [`Store::apply`].
//!
//! Rows without a message id get a deterministic one (a hash of the row's content and
//! its occurrence count among identical rows), so importing the same file twice stores
//! it once, while two identical rows of one file are both kept.
//!
//! CSV columns are detected from the header: the seed format
//! `customer_id,event_date,amount,event_type` needs no options (see
//! [`ColumnRole::auto_names`]); other columns become properties. NDJSON lines are read
//! like the server reads a request body ([`MessageInput`](crate::event::MessageInput)),
//! so Segment-shaped lines work.
//!
//! CSV needs the `import` cargo feature (on by default); NDJSON always works.
//!
//! ```
//! use churn_core::import::{import_reader, export_events, FileFormat, ImportOptions};
//! use churn_core::store::{MemoryStore, ScanRequest, DEFAULT_PROJECT};
//!
//! let csv = "customer_id,event_date,amount,event_type\n\
//!            c1,2025-03-01,49.00,purchase\n\
//!            c1,2025-03-02,,login\n\
//!            ,2025-03-02,,login\n";
//! let store = MemoryStore::new();
//! let report = import_reader(&store, csv.as_bytes(), &ImportOptions::new(), &mut |_| {})?;
//! assert_eq!((report.stored, report.rejected), (2, 1));
//! assert_eq!(report.rejections[0].line, 4);
//!
//! // The same data again is stored once.
//! let again = import_reader(&store, csv.as_bytes(), &ImportOptions::new(), &mut |_| {})?;
//! assert_eq!((again.stored, again.duplicates), (0, 2));
//!
//! let mut out = Vec::new();
//! export_events(&store, DEFAULT_PROJECT, &ScanRequest::new(), FileFormat::Ndjson, &mut out)?;
//! assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 2);
//! # Ok::<(), churn_core::Error>(())
//! ```

#[cfg(feature = "import")]
mod csv_rows;
mod export;
mod ids;
mod ndjson;
mod options;
mod report;
mod sink;
#[cfg(feature = "import")]
mod values;

#[cfg(all(test, feature = "import"))]
mod roundtrip_tests;

pub use export::{export_events, export_file};
pub use options::{ColumnMapping, ColumnRole, FileFormat, ImportOptions};
pub use report::{ImportProgress, ImportRejection, ImportReport};

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::store::Store;
use sink::Sink;

/// Import events from `reader` into `store`.
///
/// The format is `opts.format`, or detected from the first non-blank byte (`{` means
/// NDJSON, anything else CSV). `progress` is called after every batch and every few
/// thousand rows. Bad rows are counted in the report; the call fails only when the
/// input cannot be read, the options or CSV header are unusable, or the store fails
/// (rows written by earlier batches then stay stored: importing again is safe).
///
/// See the [module docs](self) for an example.
pub fn import_reader<R: Read>(
    store: &dyn Store,
    reader: R,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<ImportReport> {
    import_impl(store, reader, opts, progress, Path::new("<input>"))
}

/// Import a file; the format comes from `opts.format`, else the extension (`.csv`,
/// `.tsv`, `.ndjson`, `.jsonl`, `.json`), else the content. A `.tsv` file is read with
/// tabs as delimiter unless `opts.delimiter` was changed.
///
/// ```no_run
/// use churn_core::import::{import_file, ImportOptions};
/// use churn_core::store::MemoryStore;
/// let report = import_file(&MemoryStore::new(), "events.csv", &ImportOptions::new(), &mut |p| {
///     eprintln!("{} rows", p.rows_read);
/// })?;
/// println!("{} stored, {} rejected", report.stored, report.rejected);
/// # Ok::<(), churn_core::Error>(())
/// ```
pub fn import_file(
    store: &dyn Store,
    path: impl AsRef<Path>,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<ImportReport> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut opts = opts.clone();
    if opts.format.is_none() {
        opts.format = FileFormat::from_path(path);
    }
    let is_tsv = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"));
    if is_tsv && opts.delimiter == b',' {
        opts.delimiter = b'\t';
    }
    import_impl(store, file, &opts, progress, path)
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

fn import_impl<R: Read>(
    store: &dyn Store,
    reader: R,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(ImportProgress),
    source: &Path,
) -> Result<ImportReport> {
    opts.check()?;
    let started = Instant::now();
    let bytes = Rc::new(Cell::new(0));
    let mut input = BufReader::with_capacity(
        256 * 1024,
        Counting {
            inner: reader,
            count: bytes.clone(),
        },
    );
    let format = match opts.format {
        Some(f) => f,
        None => sniff(&mut input).map_err(|e| Error::Io {
            path: source.to_path_buf(),
            source: e,
        })?,
    };
    let mut sink = Sink::new(store, opts, progress, bytes);
    sink.report.format = Some(format);
    match format {
        FileFormat::Ndjson => ndjson::read_ndjson(input, &mut sink, source)?,
        #[cfg(feature = "import")]
        FileFormat::Csv => csv_rows::read_csv(input, &mut sink, source)?,
        #[cfg(not(feature = "import"))]
        FileFormat::Csv => return Err(csv_unavailable()),
    }
    let mut report = sink.finish()?;
    report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(report)
}

/// The error CSV calls give when churn-core is built without the `import` feature.
#[cfg(not(feature = "import"))]
pub(crate) fn csv_unavailable() -> Error {
    Error::invalid(
        "format",
        "CSV support needs the `import` feature of churn-core",
    )
}

/// NDJSON when the first non-blank byte of the input is `{`, CSV otherwise. Looks at
/// the first buffer only and consumes nothing, so line numbers stay right.
fn sniff<R: BufRead>(input: &mut R) -> io::Result<FileFormat> {
    let buf = input.fill_buf()?;
    let buf = buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(buf);
    Ok(match buf.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => FileFormat::Ndjson,
        _ => FileFormat::Csv,
    })
}

#[cfg(test)]
mod tests;
