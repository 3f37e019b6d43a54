//! Fuzz target: see `hush_fuzz::envelope`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hush_fuzz::envelope(data));
