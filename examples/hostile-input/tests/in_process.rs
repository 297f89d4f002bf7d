//! The hostile-input corpus through the in-process path
//! (`eventrail_lambda::detect` + `process` + `respond`, and `invoke`): every
//! case comes to its expectation, record by record.

mod support;

use eventrail::app::Invocation;
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
                // `invoke` answers what `respond` makes of the report.
                let expected = eventrail_lambda::respond(&report);
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
            other => panic!("{case:?}: unexpected source {other}"),
        }
    }
}
