//! S3: CSV imports through the object store, uploads by extension, key decoding.

use super::*;

#[tokio::test(start_paused = true)]
async fn s3_csv_import_reads_the_object_and_reports_bad_rows() {
    let o = orders();
    o.app.s3().seed(
        UPLOADS_BUCKET,
        "imports/csv/batch 7.csv",
        "order_id,email,total,items\n1,a@example.com,100,1\nbroken line\n3,c@example.com,x,1\n4,d@example.com,400,2\n",
    );
    let put = s3::put(UPLOADS_BUCKET, "imports/csv/batch 7.csv", 90);
    let id = put.record_id();
    let out = o.app.send(s3::batch([put])).await;
    out.assert_all_done();
    let summary = out.output(&id).unwrap();
    assert_eq!(summary["imported"], 2);
    assert_eq!(summary["totalCents"], 500);
    let bad: Vec<u64> = summary["badRows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["line"].as_u64().unwrap())
        .collect();
    assert_eq!(bad, [3, 4]);
}

#[tokio::test(start_paused = true)]
async fn s3_a_missing_import_fails_permanently_with_an_alarm() {
    let o = orders();
    let out = o
        .app
        .send(s3::batch([s3::put(
            UPLOADS_BUCKET,
            "imports/csv/gone.csv",
            1,
        )]))
        .await;
    assert_eq!(out.failed().len(), 1);
    assert!(
        out.invocation_error().is_some(),
        "S3 reports failures as an invocation error"
    );
    assert_eq!(
        o.journal.counts_of("import-csv").retried,
        0,
        "NoSuchKey is not retried"
    );
    assert_eq!(alarm_subjects(&o.app).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn s3_uploads_are_dispatched_by_extension_and_others_skipped_with_a_reason() {
    let o = orders();
    let files = [
        ("uploads/a.CSV", "x,y\n1,2\n"),
        ("uploads/b.xls", "sheet"),
        ("uploads/c.pdf", "%PDF-1.7"),
        ("uploads/d.jpeg", "jpeg"),
        ("uploads/e.png", "png"),
    ];
    for (k, body) in files {
        o.app.s3().seed(UPLOADS_BUCKET, k, body);
    }
    let mut records: Vec<_> = files
        .iter()
        .map(|(k, b)| s3::put(UPLOADS_BUCKET, *k, b.len() as u64))
        .collect();
    records.push(s3::put(UPLOADS_BUCKET, "uploads/virus.exe", 10));
    records.push(s3::put(UPLOADS_BUCKET, "uploads/Makefile", 10));
    let ids: Vec<String> = records.iter().map(|r| r.record_id()).collect();
    let out = o.app.send(s3::batch(records)).await;
    out.assert_all_done();

    let kinds: Vec<&Value> = ids[..5]
        .iter()
        .map(|id| &out.output(id).unwrap()["kind"])
        .collect();
    assert_eq!(
        kinds,
        [
            &json!("csv"),
            &json!("spreadsheet"),
            &json!("pdf"),
            &json!("image"),
            &json!("image")
        ]
    );
    assert_eq!(out.output(&ids[0]).unwrap()["rows"], 1);
    assert_eq!(
        out.output(&ids[5]),
        Some(
            &json!({"status": "skipped", "reason": "unsupported file type .exe (uploads/virus.exe)"})
        )
    );
    assert_eq!(out.output(&ids[6]).unwrap()["status"], "skipped");
    let counts = o.journal.counts_of("file-upload");
    assert_eq!((counts.processed, counts.skipped, counts.failed), (7, 2, 0));
    assert!(alarm_subjects(&o.app).is_empty());
}

#[tokio::test(start_paused = true)]
async fn s3_keys_decode_as_s3_encodes_them_up_to_1024_bytes() {
    let o = orders();
    // `+` is a space, `%2B` a plus, `%C3%A9` an é.
    let decoded = "uploads/a b+c caf\u{e9}.pdf";
    o.app.s3().seed(UPLOADS_BUCKET, decoded, "%PDF");
    let put = s3::put(UPLOADS_BUCKET, decoded, 4).raw_key("uploads/a+b%2Bc+caf%C3%A9.pdf");
    let id = put.record_id();
    let out = o.app.send(s3::batch([put])).await;
    out.assert_all_done();
    assert_eq!(out.output(&id).unwrap()["key"], decoded);

    // The longest key S3 allows: 1 024 bytes once decoded (2-byte characters).
    let long = format!("uploads/{}.png", "\u{e9}".repeat((1024 - 12) / 2));
    assert_eq!(long.len(), 1024);
    o.app.s3().seed(UPLOADS_BUCKET, &long, "png");
    let put = s3::put(UPLOADS_BUCKET, &long, 3);
    let id = put.record_id();
    let out = o.app.send(s3::batch([put])).await;
    out.assert_all_done();
    assert_eq!(out.output(&id).unwrap()["key"], long.as_str());
}
