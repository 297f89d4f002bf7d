//! The hostile-input corpus through the in-process path
//! (`eventrail_lambda::detect` + `process` + `respond`, and `invoke`): every
//! case comes to its expectation, record by record.

mod support;

use eventrail::app::Invocation;
use eventrail::source::s3_batch::RESULT_STRING_MAX_BYTES;
use serde_json::{json, Value};
use support::{check_report, corpus, Expect};

#[tokio::test]
async fn every_case_comes_to_its_expectation() {
    let app = example_hostile_input::app();
    let cases = corpus();
    assert!(cases.len() >= 70, "{} cases", cases.len());
    let mut wrong = Vec::new();
    for case in &cases {
        let result = eventrail_lambda::invoke(&app, &case.payload, Invocation::default()).await;
        match (&case.expect, eventrail_lambda::detect(&case.payload)) {
            (Expect::Refused(kind), Err(e)) => {
                assert!(e.is_bad_payload(), "{case:?}: {e}");
                assert_eq!(e.error_type(), *kind, "{case:?}: {e}");
                let err = result.expect_err("refused by invoke too");
                assert_eq!(err.error_type(), *kind, "{case:?}");
            }
            (Expect::Refused(kind), Ok(d)) => {
                panic!(
                    "{case:?}: expected {kind}, detected {} records",
                    d.records()
                )
            }
            (Expect::Records(_), Err(e)) => panic!("{case:?}: refused: {e}"),
            (Expect::Records(_), Ok(detected)) => {
                let report =
                    eventrail_lambda::process(&app, detected, &Invocation::default()).await;
                wrong.extend(check_report(case, &report));
                // `invoke` answers what `respond_to` makes of the report
                // and the payload.
                let again = eventrail_lambda::detect(&case.payload).unwrap();
                let expected = eventrail_lambda::respond_to(&report, again.raw());
                match (&result, &expected) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "{case:?}"),
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{case:?}"),
                    _ => panic!("{case:?}: invoke {result:?}, respond {expected:?}"),
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[tokio::test]
async fn the_batch_response_names_the_failed_records() {
    let app = example_hostile_input::app();
    for case in corpus() {
        let Expect::Records(want) = &case.expect else {
            continue;
        };
        let failed: Vec<&str> = want
            .iter()
            .filter(|(_, w)| !matches!(w, support::Want::Done(_)))
            .map(|(id, _)| id.as_str())
            .collect();
        let result = eventrail_lambda::invoke(&app, &case.payload, Invocation::default()).await;
        let source = eventrail_lambda::detect(&case.payload).unwrap().source();
        use eventrail::Source::*;
        match source {
            Sqs => {
                let r = result.unwrap();
                assert_eq!(
                    example_hostile_input::fuzz::reported(&r),
                    failed,
                    "{case:?}"
                );
            }
            DynamoDb => {
                let r = result.unwrap();
                let first: Vec<&str> = failed.first().copied().into_iter().collect();
                assert_eq!(example_hostile_input::fuzz::reported(&r), first, "{case:?}");
            }
            S3 | Sns => match result {
                Ok(v) => assert!(failed.is_empty() && v.is_null(), "{case:?}: {v}"),
                Err(e) => {
                    assert_eq!(e.error_type(), "Eventrail.RecordsFailed", "{case:?}");
                    assert!(
                        e.to_string()
                            .starts_with(&format!("{} of {}", failed.len(), want.len())),
                        "{case:?}: {e}"
                    );
                }
            },
            StepFunctions => assert_eq!(result.is_err(), !failed.is_empty(), "{case:?}"),
            // Every failed record, by topic-partition and offset (`null`
            // when they cannot be read back from its id).
            Kafka => {
                let items: Vec<Value> = failed
                    .iter()
                    .map(|id| {
                        let id = match eventrail::source::kafka::item_identifier(id) {
                            Some((partition, offset)) => {
                                json!({"partition": partition, "offset": offset})
                            }
                            None => Value::Null,
                        };
                        json!({ "itemIdentifier": id })
                    })
                    .collect();
                assert_eq!(
                    result.unwrap(),
                    json!({ "batchItemFailures": items }),
                    "{case:?}"
                );
            }
            // One result per task, failed ones permanent (no handler here
            // fails retryably), result strings within the cap.
            S3Batch => {
                let r = result.unwrap();
                assert_eq!(r["treatMissingKeysAs"], "PermanentFailure", "{case:?}");
                let results = r["results"].as_array().unwrap();
                assert_eq!(results.len(), want.len(), "{case:?}");
                for (res, (id, w)) in results.iter().zip(want) {
                    assert_eq!(res["taskId"], id.as_str(), "{case:?}");
                    let code = if matches!(w, support::Want::Done(_)) {
                        "Succeeded"
                    } else {
                        "PermanentFailure"
                    };
                    assert_eq!(res["resultCode"], code, "{case:?}");
                    let text = res["resultString"].as_str().unwrap();
                    assert!(text.len() <= RESULT_STRING_MAX_BYTES, "{case:?}");
                }
            }
            // One entry per record; failed ones keep their data.
            Firehose => {
                let r = result.unwrap();
                let records = r["records"].as_array().unwrap();
                assert_eq!(records.len(), want.len(), "{case:?}");
                let failed_entries: Vec<&str> = records
                    .iter()
                    .filter(|e| e["result"] == "ProcessingFailed")
                    .map(|e| e["recordId"].as_str().unwrap())
                    .collect();
                assert_eq!(failed_entries, failed, "{case:?}");
            }
            other => panic!("{case:?}: unexpected source {other}"),
        }
    }
}
