#![no_main]
// datachonk::fuzz_targets::catalog: no panic, no hang, memory bounded, whatever the bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| datachonk::fuzz_targets::catalog(data));
