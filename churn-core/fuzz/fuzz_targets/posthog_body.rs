#![no_main]
//! Fuzz target `posthog_body`: see `churn_core_fuzz::posthog_body`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = churn_core_fuzz::posthog_body(data);
});
