//! Event properties on demand: the view holds no properties, so analyses that filter or
//! break down by `properties.<key>` fetch the values of just the event names they name
//! from the store, once, and keep them in a cache keyed by (event name, key) that later
//! calls extend with the events stored since.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use serde_json::Value;

use super::view::View;
use crate::error::Result;
use crate::store::{ScanRequest, Store};

type Values = Arc<HashMap<u64, Value>>;

/// The top-level property key of `properties.<key>` (or of a bare `<key>`).
pub(crate) fn property_key(k: &str) -> &str {
    k.strip_prefix("properties.").unwrap_or(k)
}

#[derive(Debug, Default)]
struct Entry {
    /// Events with `seq <= upto` have been read.
    upto: u64,
    values: Values,
}

/// Cached property values, by (event name, key), by event `seq`.
#[derive(Debug, Default)]
pub(crate) struct PropCache {
    entries: HashMap<(String, String), Entry>,
}

/// The values an analysis asked for.
#[derive(Debug, Default)]
pub(crate) struct PropTable {
    map: HashMap<(String, String), Values>,
}

impl PropTable {
    /// The values of `key` on events named `event`.
    pub(crate) fn values(&self, event: &str, key: &str) -> Option<&HashMap<u64, Value>> {
        self.map
            .get(&(event.to_string(), property_key(key).to_string()))
            .map(|v| v.as_ref())
    }
}

impl PropCache {
    /// Bring the (event, key) pairs up to the view's last seq and hand them out.
    pub(crate) fn ensure(
        &mut self,
        store: &dyn Store,
        project: &str,
        view: &View,
        wanted: &[(String, String)],
    ) -> Result<PropTable> {
        let upto = view.last_seq;
        // Stale names and the oldest point each must be read from.
        let mut stale: HashMap<&str, (u64, Vec<String>)> = HashMap::new();
        for (name, key) in wanted {
            let key = property_key(key).to_string();
            let from = self
                .entries
                .get(&(name.clone(), key.clone()))
                .map_or(0, |e| e.upto);
            if from < upto && view.names.get(name).is_some() {
                let s = stale.entry(name.as_str()).or_insert((from, Vec::new()));
                s.0 = s.0.min(from);
                if !s.1.contains(&key) {
                    s.1.push(key);
                }
            }
        }
        for (name, (from, keys)) in stale {
            let mut found: Vec<HashMap<u64, Value>> = vec![HashMap::new(); keys.len()];
            let req = ScanRequest::new().events([name]).after_seq(from);
            store.scan(project, &req, &mut |e| {
                if e.seq > upto {
                    return ControlFlow::Break(());
                }
                for (k, key) in keys.iter().enumerate() {
                    if let Some(v) = e.event.properties.get(key) {
                        found[k].insert(e.seq, v.clone());
                    }
                }
                ControlFlow::Continue(())
            })?;
            for (key, new) in keys.into_iter().zip(found) {
                let entry = self.entries.entry((name.to_string(), key)).or_default();
                let start = entry.upto;
                let map = Arc::make_mut(&mut entry.values);
                map.extend(new.into_iter().filter(|(s, _)| *s > start));
                entry.upto = upto;
            }
        }
        let mut table = PropTable::default();
        for (name, key) in wanted {
            let k = (name.clone(), property_key(key).to_string());
            let v = self.entries.get(&k).map(|e| e.values.clone()).unwrap_or_default();
            table.map.insert(k, v);
        }
        Ok(table)
    }
}
