//! Source detection from raw payloads.

use eventrail::app::SourceEvent;
use eventrail::Source;
use eventrail_lambda::{detect, InvokeError};

#[test]
fn every_source_is_recognised() {
    let cases: [(&[u8], Source, usize); 7] = [
        (include_bytes!("fixtures/sqs_batch.json"), Source::Sqs, 3),
        (include_bytes!("fixtures/sns.json"), Source::Sns, 1),
        (include_bytes!("fixtures/s3.json"), Source::S3, 2),
        (
            include_bytes!("fixtures/dynamodb.json"),
            Source::DynamoDb,
            3,
        ),
        (include_bytes!("fixtures/kinesis.json"), Source::Kinesis, 3),
        (
            include_bytes!("fixtures/eventbridge.json"),
            Source::EventBridge,
            1,
        ),
        (
            include_bytes!("fixtures/step_function.json"),
            Source::StepFunctions,
            1,
        ),
    ];
    for (payload, source, records) in cases {
        let d = detect(payload).unwrap_or_else(|e| panic!("{source}: {e}"));
        assert_eq!(d.source(), source);
        assert_eq!(d.records(), records, "{source}");
        assert!(d.malformed().is_empty(), "{source}: {:?}", d.malformed());
        assert_eq!(d.to_event().unwrap().source(), source);
    }
}

#[test]
fn fixtures_round_trip_through_the_typed_events() {
    let d = detect(include_bytes!("fixtures/sqs_batch.json")).unwrap();
    let Some(SourceEvent::Sqs(e)) = d.to_event() else {
        panic!("not SQS")
    };
    let again = serde_json::to_value(&e).unwrap();
    let raw: serde_json::Value =
        serde_json::from_slice(include_bytes!("fixtures/sqs_batch.json")).unwrap();
    assert_eq!(
        again["Records"][1]["messageId"],
        raw["Records"][1]["messageId"]
    );
    assert_eq!(again["Records"][0]["body"], raw["Records"][0]["body"]);
}

#[test]
fn shape_is_enough_without_event_source() {
    let d = detect(br#"{"Records":[{"messageId":"m","body":"{}"}]}"#).unwrap();
    assert_eq!(d.source(), Source::Sqs);
    let d = detect(br#"{"taskToken":"tok","anything":1}"#).unwrap();
    assert_eq!(d.source(), Source::StepFunctions);
}

#[test]
fn a_malformed_record_fails_alone_with_its_identity() {
    let payload = br#"{"Records":[
        {"eventSource":"aws:sqs","messageId":"ok","body":"{}"},
        {"eventSource":"aws:sqs","messageId":"bad","body":{"not":"a string"},"attributes":{"MessageGroupId":"g1"}},
        "garbage"
    ]}"#;
    let d = detect(payload).unwrap();
    assert_eq!(d.records(), 3);
    let bad = d.malformed();
    assert_eq!(bad.len(), 2);
    assert_eq!(
        (bad[0].index(), bad[0].record_id(), bad[0].order_key()),
        (1, "bad", Some("g1"))
    );
    assert_eq!((bad[1].index(), bad[1].record_id()), (2, ""));
}

#[test]
fn unusable_payloads_say_what_is_wrong() {
    let msg = |p: &[u8]| detect(p).unwrap_err().to_string();
    assert!(matches!(detect(b"  \n"), Err(InvokeError::Empty)));
    assert_eq!(msg(b""), "the payload is empty");
    assert_eq!(
        msg(b"{\"a\":\"\xff\"}"),
        "the payload is not UTF-8 (invalid byte at offset 6)"
    );
    assert!(msg(b"{nope").starts_with("the payload is not JSON: "));
    assert_eq!(
        msg(b"[1,2]"),
        "no event source detected: the payload is a JSON array"
    );
    assert_eq!(
        msg(b"42"),
        "no event source detected: the payload is a JSON number"
    );
    assert_eq!(
        msg(br#"{"hello":1,"world":2}"#),
        "no event source detected: the payload is a JSON object with keys `hello`, `world`"
    );
    assert_eq!(
        msg(br#"{"Records":[{"eventSource":"aws:ses","ses":{}}]}"#),
        "no event source detected: the payload is `Records` from the unsupported eventSource `aws:ses`"
    );
    assert_eq!(
        msg(br#"{"Records":[]}"#),
        "no event source detected: the payload is an object with an empty `Records` array"
    );
    assert!(detect(b"{}").unwrap_err().is_bad_payload());
}
