//! Fuzz target `s3_key`: calls `example_hostile_input::fuzz::s3_key` (see there
//! for the invariants it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    example_hostile_input::fuzz::s3_key(data);
});
