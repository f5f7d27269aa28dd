//! Where parsed rows go: id assignment, batching into the store, counting and progress.

use std::cell::Cell;
use std::rc::Rc;

use super::ids::IdAssigner;
use super::report::{ImportProgress, ImportRejection, ImportReport, RowError};
use super::ImportOptions;
use crate::error::Result;
use crate::event::Message;
use crate::store::Store;
use crate::time::Timestamp;

/// How often (in rows) progress is reported between batches.
const PROGRESS_EVERY: u64 = 4_096;

/// A validated message from one row; `needs_id` when the row had no message id.
pub(crate) struct Parsed {
    pub message: Message,
    pub needs_id: bool,
}

pub(crate) struct Sink<'a> {
    store: &'a dyn Store,
    opts: &'a ImportOptions,
    progress: &'a mut dyn FnMut(ImportProgress),
    bytes: Rc<Cell<u64>>,
    ids: IdAssigner,
    batch: Vec<Message>,
    pub(crate) report: ImportReport,
    /// Receive time given to every imported message.
    pub(crate) now: Timestamp,
}

impl<'a> Sink<'a> {
    pub(crate) fn new(
        store: &'a dyn Store,
        opts: &'a ImportOptions,
        progress: &'a mut dyn FnMut(ImportProgress),
        bytes: Rc<Cell<u64>>,
    ) -> Self {
        Sink {
            store,
            opts,
            progress,
            bytes,
            ids: IdAssigner::new(),
            batch: Vec::with_capacity(opts.batch_size.min(100_000)),
            report: ImportReport::default(),
            now: Timestamp::now(),
        }
    }

    pub(crate) fn options(&self) -> &ImportOptions {
        self.opts
    }

    /// Take one row's outcome.
    pub(crate) fn row(&mut self, line: u64, parsed: Result<Parsed, RowError>) -> Result<()> {
        self.report.rows_read += 1;
        match parsed {
            Ok(Parsed {
                mut message,
                needs_id,
            }) => {
                if needs_id {
                    self.ids.assign(&mut message);
                }
                self.batch.push(message);
                if self.batch.len() >= self.opts.batch_size {
                    self.flush()?;
                }
            }
            Err(e) => self.reject(line, e),
        }
        if self.report.rows_read % PROGRESS_EVERY == 0 {
            self.report_progress();
        }
        Ok(())
    }

    fn reject(&mut self, line: u64, e: RowError) {
        self.report.rejected += 1;
        *self
            .report
            .rejected_by_reason
            .entry(e.kind.clone())
            .or_insert(0) += 1;
        if self.report.rejections.len() < self.opts.max_rejections_kept {
            self.report.rejections.push(ImportRejection {
                line,
                kind: e.kind,
                reason: e.reason,
            });
        }
    }

    /// Write the pending batch in one store call.
    pub(crate) fn flush(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let out = self.store.apply(&self.opts.project, &self.batch)?;
        self.batch.clear();
        self.report.stored += out.inserted as u64;
        self.report.duplicates += out.duplicates as u64;
        self.report.identities += out.identities as u64;
        self.report_progress();
        Ok(())
    }

    fn report_progress(&mut self) {
        self.report.bytes_read = self.bytes.get();
        (self.progress)(self.report.progress());
    }

    /// Flush what is left and return the report.
    pub(crate) fn finish(mut self) -> Result<ImportReport> {
        self.flush()?;
        self.report_progress();
        Ok(self.report)
    }
}
