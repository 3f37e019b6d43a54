//! Fuzz target: see `hush_fuzz::envelope_v2`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hush_fuzz::envelope_v2(data));
