#![no_main]
//! Fuzz target `import_rows`: see `churn_core_fuzz::import_rows`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = churn_core_fuzz::import_rows(data);
});
