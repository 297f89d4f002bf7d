//! The demo's numbers: the report of `example_orders::demo::run`, and the
//! table `example-orders` prints.

use std::process::Command;

use example_orders::journal::Counts;

const BIN: &str = env!("CARGO_BIN_EXE_example-orders");

/// `(handler, processed, failed, retried, duplicates, skipped, alarms, mails, tokens)`:
/// what the bundled stream must produce.
const EXPECTED: [(&str, [u32; 8]); 12] = [
    ("send-notification", [4, 1, 2, 1, 2, 1, 2, 0]),
    ("sync-request", [1, 0, 0, 0, 0, 0, 0, 0]),
    ("import-csv", [3, 0, 0, 0, 0, 0, 0, 1]),
    ("file-upload", [5, 0, 0, 0, 1, 0, 0, 0]),
    ("sync-order", [2, 0, 0, 0, 0, 0, 0, 0]),
    ("reserve-inventory", [2, 0, 0, 0, 1, 0, 0, 0]),
    ("send-confirmation", [2, 0, 0, 0, 1, 0, 1, 0]),
    ("start-follow-up", [2, 0, 0, 0, 1, 0, 0, 0]),
    ("sync-product", [2, 0, 0, 0, 0, 0, 0, 0]),
    ("sync-user", [1, 0, 0, 0, 0, 0, 0, 0]),
    ("process-order", [1, 1, 0, 0, 0, 1, 0, 2]),
    ("store-dead-letter", [2, 0, 0, 0, 0, 2, 0, 0]),
];

fn row(c: &Counts) -> [u32; 8] {
    [
        c.processed,
        c.failed,
        c.retried,
        c.duplicates,
        c.skipped,
        c.alarms,
        c.mails,
        c.tokens,
    ]
}

#[tokio::test(start_paused = true)]
async fn the_report_counts_what_each_handler_did() {
    let report = example_orders::demo::run().await;
    let got: Vec<(&str, [u32; 8])> = report
        .counts
        .iter()
        .map(|(n, c)| (n.as_str(), row(c)))
        .collect();
    assert_eq!(got, EXPECTED);

    let b = &report.batches;
    assert_eq!(b.len(), 8);
    // Notifications: the poison body, the FAX channel, the unknown type and
    // the rejected address fail; everything else is done.
    let failed: Vec<&str> = b[0]
        .failed
        .iter()
        .map(|f| &f.id[f.id.len() - 3..])
        .collect();
    assert_eq!(failed, ["003", "007", "008", "009"]);
    assert!(b[0].failed.iter().all(|f| !f.retryable));
    assert_eq!(
        b[0].response.as_ref().unwrap()["batchItemFailures"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    // The redelivery is answered from the idempotency store.
    assert_eq!(
        b[1].response,
        Ok(serde_json::json!({"batchItemFailures": []}))
    );
    let lines: Vec<&str> = b[1].journal.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(
        lines,
        ["duplicate of 0c8e2b7a-1d4f-4c1e-9a6b-000000000001: answered from the idempotency store"],
        "the handler did not run again"
    );
    // S3: every file done (one skipped).
    assert!(b[2].failed.is_empty());
    // The stream stops at the image that does not decode.
    assert_eq!(b[3].failed.len(), 2);
    assert_eq!(
        b[3].response,
        Ok(serde_json::json!({"batchItemFailures": [{"itemIdentifier": "300000000000000000006"}]}))
    );
    assert_eq!(b[4].response.as_ref().unwrap()["imported"], 3);
    assert_eq!(b[5].response.as_ref().unwrap()["orderId"], "1001");
    assert!(b[6]
        .response
        .as_ref()
        .unwrap_err()
        .contains("order 1003 has no items"));
    assert_eq!(
        b[7].response,
        Ok(serde_json::json!({"batchItemFailures": []}))
    );

    assert_eq!(report.mails.len(), 3);
    assert_eq!(report.alarms.len(), 4);
    assert_eq!(
        report
            .alarms
            .iter()
            .filter(|a| a.starts_with("[CRITICAL] store-dead-letter"))
            .count(),
        2
    );
    assert_eq!(report.follow_ups.len(), 1);
    assert_eq!(report.stored.len(), 3);
    let states: Vec<&str> = report.tasks.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(states, ["failed", "succeeded", "succeeded"]);
}

#[test]
fn the_binary_prints_the_same_table() {
    let out = Command::new(BIN).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let table: Vec<Vec<&str>> = text
        .lines()
        .skip_while(|l| *l != "== per handler")
        .skip(2)
        .take(EXPECTED.len() + 1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    for ((name, numbers), line) in EXPECTED.iter().zip(&table) {
        let expected: Vec<String> = std::iter::once(name.to_string())
            .chain(numbers.iter().map(u32::to_string))
            .collect();
        assert_eq!(line, &expected, "in:\n{text}");
    }
    let total: Vec<u32> = (0..8)
        .map(|i| EXPECTED.iter().map(|(_, n)| n[i]).sum())
        .collect();
    let printed: Vec<u32> = table[EXPECTED.len()][1..]
        .iter()
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(table[EXPECTED.len()][0], "total");
    assert_eq!(printed, total);
    assert!(text.contains("skipped: unsupported file type .exe (uploads/tools/setup.exe)"));
    assert!(text.contains("send-notification  attempt 3 succeeded"));
    assert!(!text.contains("Some("), "no debug output");
}
