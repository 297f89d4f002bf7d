//! Fuzz target `dynamodb_image`: calls `example_hostile_input::fuzz::dynamodb_image` (see there
//! for the invariants it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    example_hostile_input::fuzz::dynamodb_image(data);
});
