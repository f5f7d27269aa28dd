//! Identity merging: which raw ids (user ids, anonymous ids) form one person.
//!
//! Rules (the reference tests restate them plainly):
//! 1. Links come from the store ([`Store::identities`](crate::store::Store::identities):
//!    `identify` with an anonymous id, `alias`), applied first in the store's order
//!    (sorted by anonymous id), then from events that carry both a `user_id` and a
//!    different `anonymous_id`, in `seq` order.
//! 2. A link `a -> u` is applied only when `a` has no link yet (first link wins, as in
//!    the store) and when it would not close a cycle (`u` does not already lead to `a`).
//! 3. The person of an id is found by following links to an id with none (so alias
//!    chains `a -> b -> c` resolve to `c`). The person of an event is the person of its
//!    `user_id`, else of its `anonymous_id`.

use std::collections::HashSet;

/// Links between interned ids and the resulting persons.
#[derive(Debug, Default, Clone)]
pub(crate) struct Identity {
    store_links: Vec<(u32, u32)>,
    event_links: Vec<(u32, u32)>,
    event_seen: HashSet<(u32, u32)>,
}

impl Identity {
    /// Replace the store's links (the whole list, in store order); returns whether
    /// they changed.
    pub(crate) fn set_store_links(&mut self, links: Vec<(u32, u32)>) -> bool {
        if links == self.store_links {
            return false;
        }
        self.store_links = links;
        true
    }

    /// Record a link carried by an event; returns whether it is new.
    pub(crate) fn add_event_link(&mut self, anon: u32, user: u32) -> bool {
        if anon == user || !self.event_seen.insert((anon, user)) {
            return false;
        }
        self.event_links.push((anon, user));
        true
    }

    /// The root (person id) of each of `n` ids.
    pub(crate) fn roots(&self, n: usize) -> Vec<u32> {
        let mut parent: Vec<u32> = (0..n as u32).collect();
        let find = |parent: &[u32], mut x: u32| {
            while parent[x as usize] != x {
                x = parent[x as usize];
            }
            x
        };
        for &(a, u) in self.store_links.iter().chain(&self.event_links) {
            if a as usize >= n || u as usize >= n || parent[a as usize] != a {
                continue;
            }
            if find(&parent, u) == a {
                continue;
            }
            parent[a as usize] = u;
        }
        // Resolve every id, compressing paths so long chains stay linear.
        let mut roots = vec![u32::MAX; n];
        let mut stack = Vec::new();
        for i in 0..n as u32 {
            let mut x = i;
            while roots[x as usize] == u32::MAX && parent[x as usize] != x {
                stack.push(x);
                x = parent[x as usize];
            }
            let r = if roots[x as usize] == u32::MAX {
                x
            } else {
                roots[x as usize]
            };
            roots[x as usize] = r;
            for s in stack.drain(..) {
                roots[s as usize] = r;
            }
        }
        roots
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        (self.store_links.capacity() + self.event_links.capacity()) * 8
            + self.event_seen.capacity() * 9
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_first_link_wins_and_no_cycles() {
        let mut id = Identity::default();
        // 0 -> 1 (store), 1 -> 2 (store): chain resolves to 2.
        assert!(id.set_store_links(vec![(0, 1), (1, 2)]));
        assert!(!id.set_store_links(vec![(0, 1), (1, 2)]));
        // 0 -> 3 from an event: 0 is already linked, ignored.
        assert!(id.add_event_link(0, 3));
        assert!(!id.add_event_link(0, 3));
        // 2 -> 0 would close a cycle: ignored.
        assert!(id.add_event_link(2, 0));
        assert_eq!(id.roots(4), vec![2, 2, 2, 3]);
    }
}
