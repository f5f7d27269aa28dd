//! The per-event columns of the view and the small side tables they point into.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// "No value" in a `u32` column.
pub(crate) const NONE: u32 = u32::MAX;

/// Per-event columns, all the same length. In the view they are grouped by person and
/// sorted by `(timestamp, seq)` inside each person's run.
#[derive(Debug, Default, Clone)]
pub(crate) struct Columns {
    /// Epoch milliseconds.
    pub ts: Vec<i64>,
    /// Store sequence number (tie-break for equal timestamps).
    pub seq: Vec<u64>,
    /// Interned event name.
    pub name: Vec<u32>,
    /// Interned raw id: `user_id`, else `anonymous_id`.
    pub id: Vec<u32>,
    /// Interned explicit session id, [`NONE`] when absent.
    pub session: Vec<u32>,
    /// `page_view`: interned path; revenue events: index into the amounts table;
    /// otherwise [`NONE`].
    pub aux: Vec<u32>,
    /// Index into the attribution table; 0 = no referrer / UTM known (`direct`).
    pub attr: Vec<u32>,
}

/// Bytes per event the columns take.
#[cfg(test)]
pub(crate) const BYTES_PER_EVENT: usize = 8 + 8 + 4 * 5;

impl Columns {
    pub(crate) fn len(&self) -> usize {
        self.ts.len()
    }

    pub(crate) fn push(&mut self, ts: i64, seq: u64, name: u32, id: u32, session: u32) {
        self.ts.push(ts);
        self.seq.push(seq);
        self.name.push(name);
        self.id.push(id);
        self.session.push(session);
        self.aux.push(NONE);
        self.attr.push(0);
    }

    pub(crate) fn append(&mut self, mut other: Columns) {
        self.ts.append(&mut other.ts);
        self.seq.append(&mut other.seq);
        self.name.append(&mut other.name);
        self.id.append(&mut other.id);
        self.session.append(&mut other.session);
        self.aux.append(&mut other.aux);
        self.attr.append(&mut other.attr);
    }

    /// The columns reordered so that position `k` holds old position `perm[k]`.
    pub(crate) fn gather(&self, perm: &[u32]) -> Columns {
        fn g<T: Copy>(v: &[T], perm: &[u32]) -> Vec<T> {
            perm.iter().map(|&i| v[i as usize]).collect()
        }
        Columns {
            ts: g(&self.ts, perm),
            seq: g(&self.seq, perm),
            name: g(&self.name, perm),
            id: g(&self.id, perm),
            session: g(&self.session, perm),
            aux: g(&self.aux, perm),
            attr: g(&self.attr, perm),
        }
    }

    /// Heap bytes held (capacity, not length).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.ts.capacity() * 8
            + self.seq.capacity() * 8
            + (self.name.capacity()
                + self.id.capacity()
                + self.session.capacity()
                + self.aux.capacity()
                + self.attr.capacity())
                * 4
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.ts.shrink_to_fit();
        self.seq.shrink_to_fit();
        self.name.shrink_to_fit();
        self.id.shrink_to_fit();
        self.session.shrink_to_fit();
        self.aux.shrink_to_fit();
        self.attr.shrink_to_fit();
    }
}

/// Where a session or event came from: the referrer / UTM part of its context.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Attribution {
    /// UTM source, else referrer host, else `direct`.
    pub source: String,
    /// Referrer host.
    pub referrer: Option<String>,
    /// `utm_source`.
    pub utm_source: Option<String>,
    /// `utm_medium`.
    pub utm_medium: Option<String>,
    /// `utm_campaign`.
    pub utm_campaign: Option<String>,
}

/// Interned attributions; id 0 is `direct` (nothing known).
#[derive(Debug, Clone)]
pub(crate) struct Attributions {
    pub list: Vec<Attribution>,
    index: HashMap<Attribution, u32>,
}

impl Default for Attributions {
    fn default() -> Self {
        let direct = Attribution {
            source: "direct".into(),
            ..Attribution::default()
        };
        Attributions {
            index: HashMap::from([(direct.clone(), 0)]),
            list: vec![direct],
        }
    }
}

impl Attributions {
    pub(crate) fn intern(&mut self, a: Attribution) -> u32 {
        if let Some(&i) = self.index.get(&a) {
            return i;
        }
        let i = self.list.len() as u32;
        self.index.insert(a.clone(), i);
        self.list.push(a);
        i
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.list.capacity() * std::mem::size_of::<Attribution>() * 2
    }
}

/// The cached `amount` / `currency` of a revenue event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Amount {
    /// `properties.amount`, when a number.
    pub value: Option<f64>,
    /// Interned upper-case `properties.currency`, [`NONE`] when absent.
    pub currency: u32,
}
