//! Schema 1 to 2: move every row of the `events` table into blocks, then drop it.
//!
//! Runs inside the migration transaction, so a crash or error leaves the file at schema
//! 1, untouched. Rows are read per project in `seq` order and cut into blocks of
//! [`BLOCK_EVENTS`]; properties and context are copied as the JSON text they already
//! are (schema 1 stored the same compact JSON), so nothing is parsed.

use rusqlite::Connection;

use super::block::{message_hash, Builder};
use super::codec::{RawEvent, BLOCK_EVENTS};
use crate::error::{Error, Result};

/// Convert the schema-1 `events` table into blocks and drop it.
pub(super) fn events_to_blocks(c: &Connection) -> Result<()> {
    let projects: Vec<i64> = c
        .prepare("SELECT DISTINCT project FROM events ORDER BY project")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt = c.prepare(
        "SELECT seq, message_id, name, user_id, anonymous_id, ts, received_at, session_id, \
         properties, context FROM events WHERE project = ?1 ORDER BY seq",
    )?;
    for pid in projects {
        let mut rows = stmt.query([pid])?;
        let mut block = Builder::default();
        while let Some(r) = rows.next()? {
            let seq: i64 = r.get(0)?;
            let e = RawEvent {
                seq: u64::try_from(seq)
                    .map_err(|_| Error::storage(format!("negative seq {seq}")))?,
                name: r.get(2)?,
                message_id: r.get_ref(1)?.as_str()?,
                user_id: r.get_ref(3)?.as_str_or_null()?,
                anonymous_id: r.get_ref(4)?.as_str_or_null()?,
                timestamp: r.get(5)?,
                received_at: r.get(6)?,
                session_id: r.get_ref(7)?.as_str_or_null()?,
                properties: r.get_ref(8)?.as_str_or_null()?,
                context: r.get_ref(9)?.as_str_or_null()?,
            };
            block.push(&e, message_hash(pid, e.message_id));
            if block.len() >= BLOCK_EVENTS {
                block.insert(c, pid)?;
            }
        }
        block.insert(c, pid)?;
    }
    drop(stmt);
    c.execute_batch("DROP TABLE events")?;
    Ok(())
}
