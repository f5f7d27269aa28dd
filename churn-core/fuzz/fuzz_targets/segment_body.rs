#![no_main]
//! Fuzz target `segment_body`: see `churn_core_fuzz::segment_body`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = churn_core_fuzz::segment_body(data);
});
