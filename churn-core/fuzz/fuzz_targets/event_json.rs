#![no_main]
//! Fuzz target `event_json`: see `churn_core_fuzz::event_json`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = churn_core_fuzz::event_json(data);
});
