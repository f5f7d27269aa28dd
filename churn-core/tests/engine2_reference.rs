//! Funnels (three modes, filters, exclusions, breakdown, window edges), paths and
//! segment membership (text and JSON forms) against plain reference implementations on
//! the random event sets of `engine_support`.

mod engine2_ref;
mod engine_support;

use churn_core::engine::Engine;
use churn_core::store::DEFAULT_PROJECT;
use engine2_ref::funnels::{check_funnel, fcase};
use engine2_ref::paths::check_paths;
use engine2_ref::segments::{add_traits, check_segment, expr};
use engine_support::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn funnels_match_the_reference(
        days in 1i64..6,
        spec in spec(1, 60),
        r in range_strategy(),
        c in fcase(),
    ) {
        // Few distinct timestamps make ties (and window edges) common.
        let mut spec = spec;
        for e in &mut spec.events {
            let off = e.ts - base();
            e.ts = base() + (off / (45 * MINUTE)) * (days * 45 * MINUTE) / 2;
        }
        let store = store_of(&spec);
        let engine = Engine::load(store.clone(), DEFAULT_PROJECT).unwrap();
        let evs = naive_events(store.as_ref());
        check_funnel(&engine, &evs, r, &c);
        check_funnel(&engine, &evs, (None, None), &c);
    }

    #[test]
    fn paths_match_the_reference(
        spec in spec(4, 50),
        r in range_strategy(),
        p in (0usize..9, any::<bool>(), 1usize..4, 1usize..4),
    ) {
        let store = store_of(&spec);
        let engine = Engine::load(store.clone(), DEFAULT_PROJECT).unwrap();
        let evs = naive_events(store.as_ref());
        check_paths(&engine, &evs, r, p);
    }

    #[test]
    fn segment_members_match_the_reference(
        spec in spec(40, 50),
        plans in prop::collection::vec(0u8..4, 0..4),
        e in expr(),
    ) {
        let store = store_of(&spec);
        add_traits(store.as_ref(), &plans);
        let engine = Engine::load(store.clone(), DEFAULT_PROJECT).unwrap();
        let evs = naive_events(store.as_ref());
        check_segment(&engine, store.as_ref(), &evs, &e);
    }
}
