//! `proptest` strategies (feature `proptest`) for the inputs that break
//! event-driven code: big batches with malformed bodies, S3 keys with
//! characters S3 encodes, DynamoDB images of every attribute type, and the
//! time an invocation has left ([`time_left`]). [`cases`] reads a case count
//! that an environment variable can raise for longer runs.
//!
//! ```
//! use eventrail_testkit::strategies;
//! use proptest::prelude::*;
//! use proptest::test_runner::{Config, TestRunner};
//! use serde_json::json;
//!
//! let batches = strategies::sqs_batch(strategies::sqs_body(Just(json!({"type": "PING"}))), 1..=50usize);
//! TestRunner::new(Config::with_cases(8))
//!     .run(&batches, |batch| {
//!         prop_assert_eq!(batch.message_ids().len(), batch.len());
//!         Ok(())
//!     })
//!     .unwrap();
//! ```

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use proptest::collection::{vec, SizeRange};
use proptest::prelude::*;
use serde_dynamo::{AttributeValue, Item};
use serde_json::Value;

use crate::events::sqs;

/// Lambda's largest SQS batch.
pub const MAX_SQS_BATCH: usize = 10_000;

/// The environment variable [`cases`] reads: a case count for longer runs
/// (`EVENTRAIL_PROPTEST_CASES=100000 cargo test ...`).
pub const CASES_VAR: &str = "EVENTRAIL_PROPTEST_CASES";

/// The number of cases a property runs: [`CASES_VAR`] when it is set to a
/// number, `default` otherwise.
///
/// ```
/// use eventrail_testkit::strategies;
/// use proptest::prelude::*;
///
/// let config = ProptestConfig::with_cases(strategies::cases(1_000));
/// assert!(config.cases >= 1);
/// ```
pub fn cases(default: u32) -> u32 {
    std::env::var(CASES_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// The time an invocation has left, for
/// [`Context::time_left`](crate::lambda::Context::time_left): none (no
/// deadline) one time in three; otherwise nothing left, less than a default
/// 500 ms margin, or up to 5 s, so that records are not started, cancelled
/// midway, or finish.
pub fn time_left() -> impl Strategy<Value = Option<Duration>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(Duration::ZERO)),
        1 => (1u64..=500).prop_map(|ms| Some(Duration::from_millis(ms))),
        4 => (501u64..=5_000).prop_map(|ms| Some(Duration::from_millis(ms))),
    ]
}

/// A batch size in `1..=10 000`, skewed toward small batches (most cases
/// have at most 10 records, one in ten has over 1 000) so that suites stay
/// fast while large batches are still exercised.
pub fn batch_size() -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => 1..=10usize,
        3 => 11..=1_000usize,
        1 => 1_001..=MAX_SQS_BATCH,
    ]
}

/// Text that is not valid JSON: truncated and unbalanced objects, bad
/// escapes, bare words, trailing garbage, stray control characters, the empty
/// string.
pub fn malformed_json() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("{".to_owned()),
        Just("{\"type\":".to_owned()),
        Just("{\"type\": \"ORDER\"".to_owned()),
        Just("{'type': 'ORDER'}".to_owned()),
        Just("{\"a\": \"\\x41\"}".to_owned()),
        Just("[1, 2,]".to_owned()),
        Just("{\"type\":\"ORDER\"}}".to_owned()),
        Just("NaN".to_owned()),
        "[a-zA-Z ]{1,40}".prop_filter("not JSON", |s| serde_json::from_str::<Value>(s).is_err()),
        "\\{\"[a-z]{1,8}\": [0-9]{1,5}".prop_map(|s| s),
        any::<String>().prop_filter("not JSON", |s| serde_json::from_str::<Value>(s).is_err()),
    ]
}

/// Any JSON value (nested up to 2 levels), including ones of the wrong shape
/// for the handler.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-zA-Z_]{1,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An SQS body: mostly `valid` serialized (3 in 4), otherwise malformed JSON
/// or JSON of an arbitrary shape.
pub fn sqs_body(valid: impl Strategy<Value = Value>) -> impl Strategy<Value = String> {
    prop_oneof![
        6 => valid.prop_map(|v| v.to_string()),
        1 => malformed_json(),
        1 => json_value().prop_map(|v| v.to_string()),
    ]
}

/// A standard-queue batch of `size` messages with bodies from `body`.
pub fn sqs_batch(
    body: impl Strategy<Value = String>,
    size: impl Into<SizeRange>,
) -> impl Strategy<Value = sqs::Batch> {
    vec(body, size).prop_map(|bodies| sqs::batch(bodies.into_iter().map(sqs::message)))
}

/// A FIFO batch of `size` messages with bodies from `body`, spread over at
/// most `groups` message groups (`g0`, `g1`, ...).
pub fn fifo_batch(
    body: impl Strategy<Value = String>,
    size: impl Into<SizeRange>,
    groups: usize,
) -> impl Strategy<Value = sqs::Batch> {
    let groups = groups.max(1);
    vec((body, 0..groups), size)
        .prop_map(|msgs| sqs::batch(msgs.into_iter().map(|(b, g)| sqs::fifo(b, format!("g{g}")))))
}

/// An S3 object key (1 to 200 characters): path segments of ASCII, spaces,
/// `+`, `%`, reserved punctuation and non-ASCII letters and symbols (é, 日本,
/// emoji), so that every escaping rule of S3's key encoding is exercised.
pub fn s3_key() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        4 => "[a-zA-Z0-9._-]{1,12}",
        2 => "[a-z +%]{1,12}",
        2 => "[ -~]{1,12}",
        1 => "[àéîõü日本語ファイル€😀]{1,6}",
        1 => "\\PC{1,8}",
    ];
    vec(segment, 1..5)
        .prop_map(|segs| segs.join("/"))
        .prop_filter("S3 keys are 1 to 1024 bytes", |k| {
            !k.is_empty() && k.len() <= 1024
        })
}

/// A DynamoDB number: integers, decimals and exponents as DynamoDB returns
/// them in `N`.
pub fn dynamodb_number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (any::<i32>(), 0u32..1_000_000).prop_map(|(i, f)| format!("{i}.{f}")),
        (1u32..10, -30i32..30).prop_map(|(m, e)| format!("{m}E{e}")),
    ]
}

/// One DynamoDB attribute value of any type: `S`, `N`, `B`, `BOOL`, `NULL`,
/// `M`, `L`, `SS`, `NS`, `BS` (sets non-empty and without duplicates, as
/// DynamoDB requires), nested up to 3 levels.
pub fn dynamodb_attribute() -> impl Strategy<Value = AttributeValue> {
    let leaf = prop_oneof![
        ".{0,16}".prop_map(AttributeValue::S),
        dynamodb_number().prop_map(AttributeValue::N),
        vec(any::<u8>(), 0..16).prop_map(AttributeValue::B),
        any::<bool>().prop_map(AttributeValue::Bool),
        Just(AttributeValue::Null(true)),
        proptest::collection::btree_set(".{0,8}", 1..5)
            .prop_map(|s| AttributeValue::Ss(s.into_iter().collect())),
        proptest::collection::btree_set(any::<i32>(), 1..5)
            .prop_map(|s| AttributeValue::Ns(s.into_iter().map(|n| n.to_string()).collect())),
        proptest::collection::btree_set(vec(any::<u8>(), 0..8), 1..4)
            .prop_map(|s| AttributeValue::Bs(s.into_iter().collect())),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(AttributeValue::L),
            proptest::collection::hash_map("[a-zA-Z_]{1,8}", inner, 0..5)
                .prop_map(|m: HashMap<String, AttributeValue>| AttributeValue::M(m)),
        ]
    })
}

/// A DynamoDB image: a string partition key `pk` (`<prefix><id>`) plus up to
/// 10 attributes of every type.
pub fn dynamodb_image(pk_prefix: &'static str) -> impl Strategy<Value = Item> {
    (
        "[A-Za-z0-9-]{1,12}",
        proptest::collection::btree_map("[a-z][a-zA-Z0-9_]{0,8}", dynamodb_attribute(), 0..10),
    )
        .prop_map(
            move |(id, attrs): (String, BTreeMap<String, AttributeValue>)| {
                let mut m: HashMap<String, AttributeValue> = attrs.into_iter().collect();
                m.insert("pk".into(), AttributeValue::S(format!("{pk_prefix}{id}")));
                Item::from(m)
            },
        )
}
