//! The floor: the least work that gives the order app's answer to an SQS batch.
//!
//! Run with
//!
//! ```sh
//! cargo run --release -p eventrail-benches --bin floor -- EVENT.json
//! ```
//!
//! It prints what `example-orders invoke EVENT.json` prints for an SQS event
//! of notifications and sync requests, `{"batchItemFailures":[...]}` with the
//! failed message ids in record order, and nothing else: no eventrail, no
//! async runtime, no logs, serde and serde_json only, every string borrowed
//! from the input where it has no escapes. `bench_compare` measures the app
//! against it.
//!
//! A record succeeds when its body is JSON with
//! - `"type": "NOTIFICATION"` and string fields `recipient`, `subject`,
//!   `body` and `channel` `"EMAIL"` (`"SMS"` is a known channel the order
//!   app refuses; any other channel does not deserialize), or
//! - `"type": "SYNC_REQUEST"` and string fields `entity` and `pk`.
//!
//! Anything else (malformed JSON, another or no `type`, a missing field, no
//! body) fails the record. Exit 1 with an `error:` line when the file cannot
//! be read or is not an event with `Records`.

use std::borrow::Cow;
use std::io::Write;
use std::process::ExitCode;

use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<Rec<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rec<'a> {
    #[serde(borrow)]
    message_id: Cow<'a, str>,
    #[serde(borrow)]
    body: Option<Cow<'a, str>>,
}

/// Just the route field; everything else is skipped.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "UPPERCASE")]
enum Channel {
    Email,
    Sms,
}

#[derive(Deserialize)]
struct Notification<'a> {
    channel: Channel,
    #[serde(borrow)]
    recipient: Cow<'a, str>,
    #[serde(borrow)]
    subject: Cow<'a, str>,
    #[serde(borrow)]
    body: Cow<'a, str>,
}

#[derive(Deserialize)]
struct SyncRequest<'a> {
    #[serde(borrow)]
    entity: Cow<'a, str>,
    #[serde(borrow)]
    pk: Cow<'a, str>,
}

#[derive(Serialize)]
struct Response<'a> {
    #[serde(rename = "batchItemFailures")]
    batch_item_failures: Vec<Failure<'a>>,
}

#[derive(Serialize)]
struct Failure<'a> {
    #[serde(rename = "itemIdentifier")]
    item_identifier: &'a str,
}

/// Whether the order app handles this body without failing.
fn succeeds(body: &str) -> bool {
    let Ok(head) = serde_json::from_str::<Head<'_>>(body) else {
        return false;
    };
    match &*head.kind {
        "NOTIFICATION" => serde_json::from_str::<Notification<'_>>(body).is_ok_and(|n| {
            std::hint::black_box((&n.recipient, &n.subject, &n.body));
            matches!(n.channel, Channel::Email)
        }),
        "SYNC_REQUEST" => serde_json::from_str::<SyncRequest<'_>>(body).is_ok_and(|s| {
            std::hint::black_box((&s.entity, &s.pk));
            true
        }),
        _ => false,
    }
}

fn run(path: &str) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let event: Event<'_> =
        serde_json::from_slice(&bytes).map_err(|e| format!("{path}: not an SQS event: {e}"))?;
    let batch_item_failures = event
        .records
        .iter()
        .filter(|r| !r.body.as_deref().is_some_and(succeeds))
        .map(|r| Failure {
            item_identifier: &r.message_id,
        })
        .collect();
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(
        &mut out,
        &Response {
            batch_item_failures,
        },
    )
    .map_err(|e| e.to_string())
    .and_then(|()| writeln!(out).map_err(|e| e.to_string()))
    .map_err(|e| format!("cannot write the response: {e}"))
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(path), None) = (args.next(), args.next()) else {
        eprintln!("usage: floor EVENT.json");
        return ExitCode::FAILURE;
    };
    match run(&path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
