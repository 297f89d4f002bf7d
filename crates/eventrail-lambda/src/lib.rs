//! Runs an eventrail [`App`](eventrail::App) on AWS Lambda.
//!
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
pub mod response;

pub use detect::{detect, detect_value, Detected, MalformedRecord};
pub use error::InvokeError;
pub use invoke::{invoke, invoke_value, process, Summary};
pub use response::respond;
