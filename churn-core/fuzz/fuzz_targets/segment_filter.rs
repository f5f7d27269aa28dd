#![no_main]
//! Fuzz target `segment_filter`: see `churn_core_fuzz::segment_filter`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = churn_core_fuzz::segment_filter(data);
});
