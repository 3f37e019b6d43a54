//! Fuzz target: see `hush_fuzz::client_frame`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hush_fuzz::client_frame(data));
