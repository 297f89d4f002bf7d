//! Every committed fuzz corpus entry (`fuzz/corpus/<target>/*`) and every
//! crash kept as a regression (`fuzz/regressions/<target>/*`), run through
//! the harness its fuzz target calls. CI runs these, not the fuzzer.

use std::path::{Path, PathBuf};

use example_hostile_input::fuzz;

fn entries(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(kind)
        .join(target);
    let Ok(read) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = read
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str, harness: fn(&[u8])) {
    let corpus = entries("corpus", target);
    assert!(
        !corpus.is_empty(),
        "fuzz/corpus/{target} is empty: run `cargo fuzz cmin {target}` and commit it"
    );
    for path in corpus.iter().chain(&entries("regressions", target)) {
        let data = std::fs::read(path).unwrap();
        if let Err(panic) = std::panic::catch_unwind(|| harness(&data)) {
            std::panic::resume_unwind(Box::new(format!(
                "{}: {}",
                path.display(),
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default()
            )));
        }
    }
}

#[test]
fn detect_route() {
    replay("detect_route", fuzz::detect_and_route);
}

#[test]
fn s3_key() {
    replay("s3_key", fuzz::s3_key);
}

#[test]
fn dynamodb_image() {
    replay("dynamodb_image", fuzz::dynamodb_image);
}

#[test]
fn alarm_subject() {
    replay("alarm_subject", fuzz::alarm_subject);
}

#[test]
fn sqs_batch() {
    replay("sqs_batch", fuzz::sqs_batch);
}

#[test]
fn kafka_batch() {
    replay("kafka_batch", fuzz::kafka_batch);
}

#[test]
fn s3_batch() {
    replay("s3_batch", fuzz::s3_batch);
}

#[test]
fn firehose_batch() {
    replay("firehose_batch", fuzz::firehose_batch);
}
