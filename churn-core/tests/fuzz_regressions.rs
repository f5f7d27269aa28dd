//! Replays every input kept for the cargo-fuzz targets (`churn-core/fuzz`: the seed
//! corpora in `fuzz/seeds/<target>/` and former crashes in `fuzz/regressions/<target>/`)
//! through the same harness (`fuzz/src/harness.rs`), on the stable toolchain, and checks
//! each outcome against `fuzz/expected.txt`. So every crash fixed stays fixed in a plain
//! `cargo test`, without nightly or libFuzzer.
//!
//! - `FUZZ_BLESS=1 cargo test -p churn-core --all-features --test fuzz_regressions`
//!   rewrites `expected.txt` (after an intended change of behaviour: review the diff).
//! - `cargo test -p churn-core --all-features --test fuzz_regressions -- --ignored
//!   write_seeds` regenerates the seed corpora (see `fuzz/README.md`).

#![cfg(all(feature = "server", feature = "churn", feature = "import"))]
#![allow(clippy::unwrap_used)]

#[path = "../fuzz/src/harness.rs"]
mod harness;

#[path = "fuzz_support/seeds.rs"]
mod seeds;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Every kept input: (`<target>/<seeds|regressions>/<file>`, bytes), sorted.
fn kept_inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for kind in ["seeds", "regressions"] {
        let dir = fuzz_dir().join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !e.file_type().unwrap().is_file() {
                continue;
            }
            out.push((
                format!("{kind}/{target}/{name}"),
                std::fs::read(e.path()).unwrap(),
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn every_kept_input_gives_its_pinned_outcome() {
    let expected_path = fuzz_dir().join("expected.txt");
    let expected_text = std::fs::read_to_string(&expected_path).unwrap_or_default();
    let expected: BTreeMap<&str, &str> = expected_text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once('\t'))
        .collect();
    // Quiet the default hook: a panicking input is reported below with its name.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut got = BTreeMap::new();
    let mut panics = Vec::new();
    for (target, run) in harness::TARGETS {
        let inputs = kept_inputs(target);
        assert!(!inputs.is_empty(), "no seeds for {target}");
        for (name, data) in inputs {
            match catch_unwind(AssertUnwindSafe(|| run(&data))) {
                Ok(outcome) => {
                    got.insert(name, outcome);
                }
                Err(p) => {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    panics.push(format!("{name}: {msg}"));
                }
            }
        }
    }
    std::panic::set_hook(hook);
    assert!(
        panics.is_empty(),
        "inputs that panic:\n{}",
        panics.join("\n")
    );

    if std::env::var_os("FUZZ_BLESS").is_some() {
        let mut text = String::from(
            "# Outcome of every kept fuzz input (tests/fuzz_regressions.rs).\n\
             # Regenerate after an intended change: FUZZ_BLESS=1 cargo test -p churn-core \
             --all-features --test fuzz_regressions\n",
        );
        for (name, outcome) in &got {
            text.push_str(&format!("{name}\t{outcome}\n"));
        }
        std::fs::write(&expected_path, text).unwrap();
        return;
    }
    let mut diffs = Vec::new();
    for (name, outcome) in &got {
        match expected.get(name.as_str()) {
            Some(want) if want == outcome => {}
            Some(want) => diffs.push(format!("{name}: expected {want:?}, got {outcome:?}")),
            None => diffs.push(format!("{name}: not in expected.txt (got {outcome:?})")),
        }
    }
    for name in expected.keys() {
        if !got.contains_key(*name) {
            diffs.push(format!("{name}: in expected.txt but the file is gone"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} outcome(s) differ from fuzz/expected.txt (FUZZ_BLESS=1 rewrites it):\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// The harness's properties are real checks: a message whose JSON form does not read
/// back, or a crashing decoder, must fail the replay. Here: an input that validates is
/// `ok`, one that does not is an error, and every target refuses garbage without panic.
#[test]
fn harness_outcomes_tell_inputs_apart() {
    assert_eq!(
        harness::event_json(br#"{"event":"e","userId":"u","timestamp":"2025-06-01T00:00:00Z"}"#),
        "ok track"
    );
    assert_eq!(harness::event_json(b"{\"event\":\"\"}"), "err Empty");
    assert_eq!(harness::segment_filter(b"plan = \"pro\""), "ok");
    assert!(harness::segment_filter(b"plan =").starts_with("err"));
    assert_eq!(
        harness::posthog_body(
            b"query: token=phc_1\n\n{\"event\":\"e\",\"distinct_id\":\"u\",\"timestamp\":\"2025-12-31T00:00:00Z\"}"
        ),
        "ok 1 valid, key"
    );
    for (_, run) in harness::TARGETS {
        assert!(run(b"\xff\x00garbage").starts_with("err"));
    }
}

/// Regenerate the seed corpora (`fuzz/seeds/<target>/`); run by hand, then bless.
#[test]
#[ignore = "writes files: run by hand to regenerate the seeds"]
fn write_seeds() {
    for (target, files) in seeds::all() {
        let dir = fuzz_dir().join("seeds").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, data) in files {
            std::fs::write(dir.join(name), data).unwrap();
        }
    }
}
