//! What each build of the function links: the normal dependency tree of
//! `example-orders`, as `cargo tree -e normal` prints it, for the feature
//! sets a user builds. No build of the function links the testkit, proptest
//! or mockall; only the demo (paused clock) turns on tokio's `test-util`.

use std::collections::BTreeMap;
use std::process::Command;

/// Package name → enabled features, of the normal dependency tree built
/// with `features` (`cargo tree` arguments).
fn tree(features: &[&str]) -> BTreeMap<String, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let out = Command::new(cargo)
        .args(["tree", "--offline", "--manifest-path", manifest])
        .args(["-e", "normal", "-p", "example-orders", "--prefix", "none"])
        .args(["-f", "{p}|{f}"])
        .args(features)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree {features:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut packages = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let (package, feats) = line.split_once('|').unwrap_or((line, ""));
        let name = package.split_whitespace().next().unwrap_or("").to_owned();
        let feats = feats.trim_end_matches(" (*)").to_owned();
        packages.entry(name).or_insert(feats);
    }
    packages
}

fn test_crates(packages: &BTreeMap<String, String>) -> Vec<&str> {
    ["eventrail-testkit", "proptest", "mockall"]
        .into_iter()
        .filter(|p| packages.contains_key(*p))
        .collect()
}

fn tokio_test_util(packages: &BTreeMap<String, String>) -> bool {
    packages["tokio"].split(',').any(|f| f == "test-util")
}

#[test]
fn the_lambda_build_links_no_test_code() {
    let t = tree(&["--no-default-features"]);
    assert_eq!(test_crates(&t), Vec::<&str>::new());
    assert!(!tokio_test_util(&t));
    assert!(!t["eventrail"].split(',').any(|f| f == "local"));
}

#[test]
fn the_local_invoke_build_links_the_local_backends_and_no_test_code() {
    let t = tree(&["--no-default-features", "--features", "local"]);
    assert_eq!(test_crates(&t), Vec::<&str>::new());
    assert!(!tokio_test_util(&t), "tokio: {}", t["tokio"]);
    assert!(t["eventrail"].split(',').any(|f| f == "local"));
}

#[test]
fn the_default_build_has_the_demo_clock_but_no_testkit() {
    let t = tree(&[]);
    assert_eq!(test_crates(&t), Vec::<&str>::new());
    assert!(tokio_test_util(&t), "the demo runs on tokio's paused clock");
}

#[test]
fn the_testkit_without_default_features_pulls_no_test_util() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let out = Command::new(cargo)
        .args(["tree", "--offline", "--manifest-path", manifest])
        .args([
            "-e",
            "normal",
            "-p",
            "eventrail-testkit",
            "--prefix",
            "none",
        ])
        .args(["-f", "{p}|{f}", "--no-default-features"])
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let tokio = text
        .lines()
        .find(|l| l.starts_with("tokio "))
        .expect("the testkit depends on tokio");
    assert!(!tokio.contains("test-util"), "{tokio}");
    assert!(!text
        .lines()
        .any(|l| l.starts_with("proptest ") || l.starts_with("mockall ")));
}
