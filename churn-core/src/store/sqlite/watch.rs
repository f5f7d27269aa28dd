//! [`Store::change_token`](super::Store::change_token) for a SQLite file: SQLite's
//! `PRAGMA data_version` on a connection of its own that never writes, so every commit
//! by any other connection (this store's writer, another handle, another process)
//! changes the value. One read of the WAL index, a few microseconds.

use parking_lot::Mutex;
use rusqlite::Connection;

use super::{Location, SqliteOptions};
use crate::error::Result;

/// The watching connection, opened on first use.
#[derive(Default)]
pub(super) struct Watcher {
    conn: Mutex<Option<Connection>>,
}

impl Watcher {
    /// The file's data version as seen by the watching connection; `None` in memory
    /// (an in-memory database is not watched: callers re-read every time).
    pub(super) fn token(&self, location: &Location, o: &SqliteOptions) -> Result<Option<u64>> {
        if !matches!(location, Location::File(_)) {
            return Ok(None);
        }
        let mut slot = self.conn.lock();
        let conn = match slot.take() {
            Some(c) => c,
            None => location.connect(true, o.busy_timeout)?,
        };
        let v: i64 = conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        *slot = Some(conn);
        Ok(Some(v as u64))
    }
}
