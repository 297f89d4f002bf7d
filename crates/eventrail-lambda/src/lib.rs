//! Runs an eventrail [`App`](eventrail::App) on AWS Lambda.
//!
//! - [`run`] serves the app under the Lambda Runtime API, and turns every
//!   binary built with it into a local tool too: `BINARY invoke FILE`
//!   processes one event file the same way and prints the response (see
//!   [`local`]).
//! - [`invoke()`] is one invocation without the runtime: [`detect()`] the source
//!   of the raw JSON, process the records, build the response with
//!   [`respond`]. Tests and harnesses drive an app through it.
//!
//! How each source is answered (partial batch responses, stream checkpoints,
//! Step Functions output, invocation errors) is described in [`response`];
//! how the source is recognised, in [`detect`](mod@detect).

pub mod detect;
mod error;
pub mod invoke;
pub mod local;
pub mod response;
mod runtime;

pub use detect::{detect, detect_value, Detected, MalformedRecord};
pub use error::InvokeError;
pub use invoke::{invoke, invoke_value, process, Summary};
pub use response::respond;
pub use runtime::run;

/// Re-exported so that binaries use the same runtime as this crate.
pub use lambda_runtime;
