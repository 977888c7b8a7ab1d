#![no_main]
// datachonk::fuzz_targets::request_body: no panic, no hang, memory bounded, whatever the bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| datachonk::fuzz_targets::request_body(data));
