//! Fuzz target `alarm_subject`: calls `example_hostile_input::fuzz::alarm_subject` (see there
//! for the invariants it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    example_hostile_input::fuzz::alarm_subject(data);
});
