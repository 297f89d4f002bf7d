//! eventrail-aws's clients against moto's server, an emulator of the real
//! AWS wire protocols. See `harness.rs` for how the server is found or
//! started, and how tests running in parallel stay apart.
//!
//! Where moto cannot show something, the test says so and asserts what moto
//! does instead; nothing is skipped.

mod harness;

mod dynamodb;
mod s3;
mod ses;
mod sfn;
mod sns;
mod stack;
mod transport;
