//! Fuzz target `firehose_batch`: calls `example_hostile_input::fuzz::firehose_batch` (see there
//! for the invariants it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    example_hostile_input::fuzz::firehose_batch(data);
});
