//! Bulk scans of the core columns ([`Store::scan_rows`](crate::store::Store::scan_rows),
//! what [`Engine::load`](crate::engine::Engine::load) and every refresh read):
//! `COPY (SELECT ...) TO STDOUT (FORMAT binary)`, decoded here without allocating per
//! row.
//!
//! The data is received on a fetch thread of its own, which drives the store's runtime
//! (so the socket keeps being read) and hands the caller's thread a megabyte at a time
//! through a short bounded queue: the server produces rows, the fetch thread receives
//! them and the caller decodes and visits them, all at once (before, the socket was
//! read only between the caller's batches, so server and caller took turns).
//!
//! By default every scan is one statement ordered by `seq` (an index scan). With
//! `CHURN_PG_LOAD_CONNS=2` (see [`slicing`]) a large unfiltered scan (a first load) is
//! cut into `seq` ranges of [`SLICE`] values read by that many connections at once,
//! without `ORDER BY` (a bitmap heap scan reads each range's pages in physical order,
//! about a third less server CPU than the ordered index scan); the fetch thread sorts
//! each range by `seq` and the caller visits the ranges in order, so rows still arrive
//! in `seq` order exactly as from one ordered statement. It spends more client CPU than
//! it saves on the server, so it only pays when cores are idle.

use std::ops::ControlFlow;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};

use futures_util::StreamExt;

use super::copy::{be_i64, text, CopyReader, Fields};
use super::read::{lit, lit_array};
use super::{pg_err, pool, PostgresStore};
use crate::error::{Error, Result};
use crate::store::types::*;
use crate::store::Store;
use crate::time::Timestamp;

/// Bytes of `COPY` data gathered per hand-over to the caller's thread.
const GATHER: usize = 1 << 20;
/// Hand-overs queued per fetch thread (memory in flight: about `QUEUE` megabytes each).
const QUEUE: usize = 16;
/// When a scan is cut into `seq` ranges read by several connections, and how.
#[derive(Debug, Clone, Copy)]
pub(super) struct Slicing {
    /// Connections reading ranges at once; 1: never sliced.
    pub conns: usize,
    /// Scans of fewer `seq` values than this run as one ordered statement.
    pub from: u64,
    /// `seq` values per range.
    pub width: u64,
}

/// The slicing of [`Store::scan_rows`]: off unless `CHURN_PG_LOAD_CONNS` (2 to 8, read
/// once) asks for that many connections. Off by default: on the shared 2-core machine
/// one ordered statement received on a fetch thread loaded 10M events as fast or
/// faster for less client CPU (benches/README.md, #9 load).
pub(super) fn slicing() -> Slicing {
    static CONNS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let conns = *CONNS.get_or_init(|| {
        std::env::var("CHURN_PG_LOAD_CONNS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .map_or(1, |n| n.clamp(1, 8))
    });
    Slicing {
        conns,
        from: 400_000,
        width: SLICE,
    }
}

/// `seq` values per range of a sliced scan (the last range is open-ended): about 15 MB
/// of `COPY` data, of which the caller holds one while it sorts and visits it, and each
/// fetch thread at most two.
pub(super) const SLICE: u64 = 200_000;
/// Set on the connections of a sliced scan, for its transaction only: the ranges are
/// read by bitmap heap scans (never one full scan per range), no JIT compilation.
const SLICED_SETUP: &str =
    "BEGIN; SET LOCAL enable_indexscan = off; SET LOCAL enable_seqscan = off; SET LOCAL jit = off";

/// What a fetch thread hands over.
enum Msg {
    /// `COPY` data: whole rows (the server sends one row per message), after the
    /// header in the first one of a statement.
    Data(Vec<u8>),
    /// The statement's stream ended.
    End,
    /// All the data of one statement (sliced scans) and the offsets of its rows in
    /// `seq` order.
    Whole(Vec<u8>, Vec<u32>),
}

/// The `COPY` statement for the rows of `req` with `lo < seq <= hi` (`hi` open when
/// `None`), in `seq` order when `ordered`.
fn copy_sql(project: &str, req: &ScanRequest, lo: u64, hi: Option<u64>, ordered: bool) -> String {
    let lo = i64::try_from(lo).unwrap_or(i64::MAX);
    let mut sql = format!(
        "COPY (SELECT seq, ts, event, user_id, anonymous_id, session_id FROM churn_events
         WHERE project = {} AND seq > {lo}",
        lit(project)
    );
    if let Some(hi) = hi {
        sql.push_str(&format!(
            " AND seq <= {}",
            i64::try_from(hi).unwrap_or(i64::MAX)
        ));
    }
    if let Some(from) = req.range.from {
        sql.push_str(&format!(" AND ts >= {}", from.millis()));
    }
    if let Some(to) = req.range.to {
        sql.push_str(&format!(" AND ts < {}", to.millis()));
    }
    if let Some(names) = &req.events {
        sql.push_str(&format!(" AND event = ANY({})", lit_array(names)));
    }
    if let Some(ids) = &req.users {
        let a = lit_array(ids);
        sql.push_str(&format!(
            " AND (person = ANY({a}) OR (user_id IS NOT NULL AND anonymous_id = ANY({a})))"
        ));
    }
    if ordered {
        sql.push_str(" ORDER BY seq");
    }
    if let Some(n) = req.limit {
        sql.push_str(&format!(" LIMIT {n}"));
    }
    sql.push_str(") TO STDOUT (FORMAT binary)");
    sql
}

/// The `seq` ranges to read: one open range, or for a large unfiltered scan
/// `cut.width`-wide ranges up to the project's current `max_seq` and an open one after it
/// (a writer commits its `seq` values in order, so every `seq` up to `max_seq` is
/// visible to each range's statement, and anything newer is in the last range).
fn slices(
    store: &PostgresStore,
    project: &str,
    req: &ScanRequest,
    cut: Slicing,
) -> Result<Vec<(u64, Option<u64>)>> {
    let after = req.after_seq.unwrap_or(0);
    let plain = cut.conns > 1
        && req.range.from.is_none()
        && req.range.to.is_none()
        && req.events.is_none()
        && req.users.is_none()
        && req.limit.is_none();
    if !plain {
        return Ok(vec![(after, None)]);
    }
    let max = store.stats(project)?.max_seq;
    if max.saturating_sub(after) < cut.from {
        return Ok(vec![(after, None)]);
    }
    let mut out = Vec::new();
    let mut lo = after;
    while lo < max {
        let hi = lo.saturating_add(cut.width.max(1)).min(max);
        out.push((lo, Some(hi)));
        lo = hi;
    }
    out.push((max, None));
    Ok(out)
}

/// A connection for a scan, set up for the literals of [`copy_sql`]; a pooled one found
/// broken (the database restarted) is replaced once.
fn scan_conn(store: &PostgresStore) -> Result<pool::Conn<'_>> {
    const SETUP: &str = "SET standard_conforming_strings = on";
    let mut conn = store.take()?;
    match store.block(conn.batch_execute(SETUP)).map_err(pg_err) {
        Ok(()) => Ok(conn),
        Err(Error::Unavailable { .. }) if conn.reused => {
            conn.discard(true);
            drop(conn);
            store.pool.clear_idle();
            let conn = store.take()?;
            store.block(conn.batch_execute(SETUP))?;
            Ok(conn)
        }
        Err(e) => Err(e),
    }
}

/// Run the statements `sqls` in order on `conn`, sending their data to `tx`: a
/// megabyte at a time and an [`Msg::End`] after each statement, or with `whole` one
/// [`Msg::Whole`] per statement (inside a transaction with [`SLICED_SETUP`]). Returns
/// when done, on an error (sent too) or when the receiver is gone (the caller stopped
/// early).
fn fetch(
    store: &PostgresStore,
    conn: &pool::Conn<'_>,
    sqls: &[String],
    whole: bool,
    tx: &SyncSender<Result<Msg>>,
    spare: &Receiver<Vec<u8>>,
) {
    // A buffer the caller is done with, else a new one.
    let buffer = || match spare.try_recv() {
        Ok(mut b) => {
            b.clear();
            b
        }
        Err(_) => Vec::with_capacity(GATHER + (64 << 10)),
    };
    if whole {
        if let Err(e) = store.block(conn.batch_execute(SLICED_SETUP)) {
            let _ = tx.send(Err(pg_err(e)));
            return;
        }
    }
    for sql in sqls {
        let stream = match store.block(conn.copy_out(sql.as_str())) {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.send(Err(pg_err(e)));
                return;
            }
        };
        let mut stream = std::pin::pin!(stream);
        // The stream must not be polled again once it has ended.
        let mut ended = false;
        if whole {
            let mut buf = buffer();
            let got = store.block(async {
                while let Some(b) = stream.next().await {
                    buf.extend_from_slice(&b.map_err(pg_err)?);
                }
                Ok(buf)
            });
            // Order the rows here, on the fetch thread, so the caller only visits them.
            let got = got.and_then(|buf| {
                let at = order(&buf)?;
                Ok(Msg::Whole(buf, at))
            });
            let failed = got.is_err();
            if tx.send(got).is_err() || failed {
                return;
            }
            continue;
        }
        while !ended {
            let mut buf = buffer();
            let got = store.block(async {
                while buf.len() < GATHER {
                    match stream.next().await {
                        Some(Ok(b)) => buf.extend_from_slice(&b),
                        Some(Err(e)) => return Err(pg_err(e)),
                        None => {
                            ended = true;
                            break;
                        }
                    }
                }
                Ok(buf)
            });
            let msg = match got {
                Ok(buf) if buf.is_empty() => continue,
                Ok(buf) => Ok(Msg::Data(buf)),
                Err(e) => Err(e),
            };
            let failed = msg.is_err();
            if tx.send(msg).is_err() || failed {
                return;
            }
        }
        if tx.send(Ok(Msg::End)).is_err() {
            return;
        }
    }
    if whole {
        if let Err(e) = store.block(conn.batch_execute("COMMIT")) {
            let _ = tx.send(Err(pg_err(e)));
        }
    }
}

/// Decode the data of one statement from `rx`, calling `row` per row, and hand each
/// buffer back to `spare`. `Ok(false)` when `row` asked to stop.
fn consume(
    (rx, spare): &(Receiver<Result<Msg>>, Sender<Vec<u8>>),
    row: &mut dyn FnMut(&Fields<'_>) -> Result<bool>,
) -> Result<bool> {
    let mut reader = CopyReader::default();
    loop {
        match rx.recv() {
            Ok(Ok(Msg::Data(buf))) => {
                let more = reader.feed(&buf, row)?;
                let _ = spare.send(buf);
                if !more {
                    return Ok(false);
                }
            }
            Ok(Ok(Msg::End)) => break,
            Ok(Ok(Msg::Whole(buf, at))) => {
                let more = visit_in_order(&buf, &at, row);
                let _ = spare.send(buf);
                return more;
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(Error::storage("postgres: COPY fetch stopped")),
        }
    }
    if !reader.done {
        return Err(Error::storage("postgres: COPY stream ended early"));
    }
    Ok(true)
}

/// The offsets of the rows of one whole statement's data `buf`, in `seq` order
/// (sorted here when the server sent them otherwise). Checks every row's framing, and
/// that the data ends with the trailer.
fn order(buf: &[u8]) -> Result<Vec<u32>> {
    // (seq, offset of the row) of every row, in the order received.
    let mut at: Vec<(u64, u32)> = Vec::new();
    let offset =
        |p: usize| u32::try_from(p).map_err(|_| Error::storage("postgres: COPY range too large"));
    let mut sorted = true;
    let mut last = 0u64;
    let mut fields = [None; 6];
    let mut p = skip_header(buf)?;
    while let Some(next) = parse_row(buf, p, &mut fields)? {
        let seq = be_i64(fields[0])? as u64;
        sorted &= seq > last || at.is_empty();
        last = seq;
        at.push((seq, offset(p)?));
        p = next;
    }
    if !sorted {
        // A range usually holds a few runs already in order (one per monthly partition
        // it spans): the stable sort merges runs.
        at.sort_by_key(|x| x.0);
    }
    Ok(at.into_iter().map(|x| x.1).collect())
}

/// The rows of `buf` at offsets `at`, in that order, to `row`. `Ok(false)` when `row`
/// asked to stop.
fn visit_in_order(
    buf: &[u8],
    at: &[u32],
    row: &mut dyn FnMut(&Fields<'_>) -> Result<bool>,
) -> Result<bool> {
    let mut fields = [None; 6];
    for &p in at {
        parse_row(buf, p as usize, &mut fields)?;
        if !row(&fields)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The offset of the first row of binary `COPY` data `buf` (after its header).
fn skip_header(buf: &[u8]) -> Result<usize> {
    const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
    if buf.len() < 19 || &buf[..11] != SIGNATURE {
        return Err(Error::storage("postgres: bad COPY header"));
    }
    let ext = u32::from_be_bytes([buf[15], buf[16], buf[17], buf[18]]) as usize;
    Ok(19usize.saturating_add(ext))
}

/// The row of 6 fields at `buf[p..]` into `out`; the offset after it, or `None` at the
/// trailer. Errors on a malformed or truncated row (data ending without a trailer).
fn parse_row<'a>(
    buf: &'a [u8],
    p: usize,
    out: &mut [Option<&'a [u8]>; 6],
) -> Result<Option<usize>> {
    let bad = || Error::storage("postgres: bad COPY row");
    let n = buf.get(p..p + 2).ok_or_else(bad)?;
    match i16::from_be_bytes([n[0], n[1]]) {
        -1 => return Ok(None),
        6 => {}
        _ => return Err(bad()),
    }
    let mut q = p + 2;
    for slot in out.iter_mut() {
        let l = buf.get(q..q + 4).ok_or_else(bad)?;
        let len = i32::from_be_bytes([l[0], l[1], l[2], l[3]]);
        q += 4;
        if len < 0 {
            *slot = None;
            continue;
        }
        let end = q.checked_add(len as usize).ok_or_else(bad)?;
        *slot = Some(buf.get(q..end).ok_or_else(bad)?);
        q = end;
    }
    Ok(Some(q))
}

/// The core columns of the rows matching `req`, in `seq` order (see the module docs).
/// Stopping early cancels the statements and drops their connections.
pub(super) fn scan_rows_copy(
    store: &PostgresStore,
    project: &str,
    req: &ScanRequest,
    cut: Slicing,
    visit: &mut dyn FnMut(&EventRow<'_>) -> ControlFlow<()>,
) -> Result<()> {
    let ranges = slices(store, project, req, cut)?;
    let sliced = ranges.len() > 1;
    let conns = cut.conns.clamp(1, ranges.len().max(1));
    // Fetcher k reads the ranges k, k + conns, k + 2 * conns, ...
    let mut plans: Vec<Vec<String>> = vec![Vec::new(); conns];
    for (i, (lo, hi)) in ranges.iter().enumerate() {
        plans[i % conns].push(copy_sql(project, req, *lo, *hi, !sliced));
    }
    let mut links = Vec::with_capacity(conns);
    for _ in 0..conns {
        links.push(scan_conn(store)?);
    }
    let mut row = |f: &Fields<'_>| -> Result<bool> {
        if f.len() != 6 {
            return Err(Error::storage("postgres: bad COPY row"));
        }
        let event = text(f[2])?.ok_or_else(|| Error::storage("postgres: null event"))?;
        let r = EventRow {
            seq: be_i64(f[0])? as u64,
            timestamp: Timestamp::from_millis(be_i64(f[1])?),
            event,
            user_id: text(f[3])?,
            anonymous_id: text(f[4])?,
            session_id: text(f[5])?,
        };
        Ok(visit(&r).is_continue())
    };
    let outcome = std::thread::scope(|s| -> Result<bool> {
        let mut rxs = Vec::with_capacity(conns);
        for (conn, plan) in links.iter().zip(&plans) {
            // A whole range waits while the next one is fetched: at most two ranges
            // per connection in flight.
            let (tx, rx) = sync_channel(if sliced { 1 } else { QUEUE });
            let (give, spare) = channel();
            rxs.push((rx, give));
            std::thread::Builder::new()
                .name("churn-pg-fetch".into())
                .spawn_scoped(s, move || fetch(store, conn, plan, sliced, &tx, &spare))
                .map_err(|e| Error::storage(format!("postgres: fetch thread: {e}")))?;
        }
        let mut complete = true;
        for i in 0..ranges.len() {
            match consume(&rxs[i % conns], &mut row) {
                Ok(true) => {}
                Ok(false) => {
                    complete = false;
                    break;
                }
                Err(e) => {
                    cancel(store, &links);
                    drop(rxs);
                    return Err(e);
                }
            }
        }
        if !complete {
            // Stop the server streaming the rest; the fetch threads end when their
            // next hand-over finds the receiver gone.
            cancel(store, &links);
        }
        drop(rxs);
        Ok(complete)
    });
    match outcome {
        Ok(true) => Ok(()),
        Ok(false) => {
            for c in &mut links {
                c.discard(true);
            }
            Ok(())
        }
        Err(e) => {
            for c in &mut links {
                c.discard(true);
            }
            Err(e)
        }
    }
}

/// Ask the server to cancel whatever `links` are running.
fn cancel(store: &PostgresStore, links: &[pool::Conn<'_>]) {
    for c in links {
        let token = c.cancel_token();
        store.rt.spawn(async move {
            let _ = token.cancel_query(tokio_postgres::NoTls).await;
        });
    }
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
