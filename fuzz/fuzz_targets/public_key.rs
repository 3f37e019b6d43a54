//! Fuzz target: see `hush_fuzz::public_key`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hush_fuzz::public_key(data));
