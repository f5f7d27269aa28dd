#![no_main]
//! Fuzz target `model_load`: see `churn_core_fuzz::model_load`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = churn_core_fuzz::model_load(data);
});
