//! `template.yaml` passes `cfn-lint` (which also expands the SAM transform),
//! wires what the app needs, and the lint really rejects a broken copy.
//!
//! cfn-lint comes from `EVENTRAIL_CFN_LINT` (set by `scripts/test`, which
//! installs it), else `cfn-lint` on PATH, else `python3 -m cfnlint`. Without
//! any of them the test fails and says to run `scripts/test`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml");

/// The command that runs cfn-lint here.
fn cfn_lint() -> Command {
    let works = |mut c: Command| {
        c.arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if let Some(path) = std::env::var_os("EVENTRAIL_CFN_LINT").filter(|p| !p.is_empty()) {
        if works(Command::new(&path)) {
            return Command::new(path);
        }
        panic!("EVENTRAIL_CFN_LINT={path:?} does not run; run scripts/test (it installs cfn-lint)");
    }
    if works(Command::new("cfn-lint")) {
        return Command::new("cfn-lint");
    }
    let mut py = Command::new("python3");
    py.args(["-m", "cfnlint"]);
    if works(py) {
        let mut py = Command::new("python3");
        py.args(["-m", "cfnlint"]);
        return py;
    }
    panic!(
        "cfn-lint is not installed: run scripts/test (it installs the pinned cfn-lint), \
         or `pip install cfn-lint`, or set EVENTRAIL_CFN_LINT"
    );
}

fn lint(path: &Path) -> Output {
    cfn_lint().arg("--").arg(path).output().unwrap()
}

#[test]
fn the_template_passes_cfn_lint() {
    let out = lint(Path::new(TEMPLATE));
    assert!(
        out.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn cfn_lint_rejects_a_broken_copy() {
    let text = std::fs::read_to_string(TEMPLATE).unwrap();
    let broken = text.replace("Runtime: provided.al2023", "Runtime: provided.al2099");
    assert_ne!(broken, text);
    let path: PathBuf =
        std::env::temp_dir().join(format!("example-orders-broken-{}.yaml", std::process::id()));
    std::fs::write(&path, broken).unwrap();
    let out = lint(&path);
    std::fs::remove_file(&path).unwrap();
    assert!(
        !out.status.success(),
        "cfn-lint accepted an unknown runtime"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("provided.al2099"));
}

#[test]
fn the_template_wires_what_the_app_needs() {
    let text = std::fs::read_to_string(TEMPLATE).unwrap();
    for var in example_orders::ports::ENV_VARS {
        assert!(
            text.contains(&format!("{var}:")),
            "{var} is not set on the function"
        );
    }
    for needle in [
        "Runtime: provided.al2023",
        "Architectures: [arm64]",
        "FunctionResponseTypes: [ReportBatchItemFailures]",
        "BisectBatchOnFunctionError: true",
        "maxReceiveCount:",
        "deadLetterTargetArn: !GetAtt NotificationsDeadLetterQueue.Arn",
        "Queue: !GetAtt NotificationsDeadLetterQueue.Arn",
        "Stream: !GetAtt OrdersTable.StreamArn",
        "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "taskToken.$: $$.Task.Token",
        "type: CSV_IMPORT",
        "type: ORDER_PROCESS",
        "TimeToLiveSpecification:",
        "AttributeName: ttl",
        "Value: imports/csv/",
        "Value: uploads/",
    ] {
        assert!(text.contains(needle), "template.yaml lacks {needle:?}");
    }
    // Three queues/stream sources report partial failures.
    assert_eq!(text.matches("ReportBatchItemFailures").count(), 3);
}
