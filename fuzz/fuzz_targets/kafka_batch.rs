//! Fuzz target `kafka_batch`: calls `example_hostile_input::fuzz::kafka_batch` (see there
//! for the invariants it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    example_hostile_input::fuzz::kafka_batch(data);
});
