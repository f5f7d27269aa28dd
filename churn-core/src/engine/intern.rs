//! String interning: each distinct string gets a dense `u32` id, so per-event columns
//! hold small integers and the strings live once.

use std::collections::HashMap;

use crate::error::{Error, Result};

/// A table of distinct strings numbered `0..len` in first-seen order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Interner {
    strings: Vec<Box<str>>,
    index: HashMap<Box<str>, u32>,
}

impl Interner {
    /// The id of `s`, adding it when new.
    pub(crate) fn intern(&mut self, s: &str) -> Result<u32> {
        if let Some(&i) = self.index.get(s) {
            return Ok(i);
        }
        let i = u32::try_from(self.strings.len())
            .ok()
            .filter(|i| *i < u32::MAX)
            .ok_or_else(|| Error::invalid("view", "more than 4 billion distinct strings"))?;
        self.strings.push(s.into());
        self.index.insert(s.into(), i);
        Ok(i)
    }

    /// The id of `s` when known.
    pub(crate) fn get(&self, s: &str) -> Option<u32> {
        self.index.get(s).copied()
    }

    /// The string of id `i` (empty for an unknown id).
    pub(crate) fn resolve(&self, i: u32) -> &str {
        self.strings.get(i as usize).map_or("", |s| s)
    }

    /// Number of distinct strings.
    pub(crate) fn len(&self) -> usize {
        self.strings.len()
    }

    /// Approximate heap bytes (strings twice, table slots).
    pub(crate) fn heap_bytes(&self) -> usize {
        let text: usize = self.strings.iter().map(|s| s.len()).sum();
        2 * text
            + self.strings.capacity() * std::mem::size_of::<Box<str>>()
            + self.index.capacity() * (std::mem::size_of::<(Box<str>, u32)>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dense_and_stable() {
        let mut i = Interner::default();
        assert_eq!(i.intern("a").unwrap(), 0);
        assert_eq!(i.intern("b").unwrap(), 1);
        assert_eq!(i.intern("a").unwrap(), 0);
        assert_eq!(i.get("b"), Some(1));
        assert_eq!(i.get("c"), None);
        assert_eq!(i.resolve(1), "b");
        assert_eq!(i.resolve(9), "");
        assert_eq!(i.len(), 2);
    }
}
