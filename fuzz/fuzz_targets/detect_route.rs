//! Fuzz target `detect_route`: calls `example_hostile_input::fuzz::detect_and_route` (see there
//! for the invariants it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    example_hostile_input::fuzz::detect_and_route(data);
});
