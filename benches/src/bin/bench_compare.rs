//! bench-compare: the order app's `invoke` against the floor, in wall time
//! and peak RSS.
//!
//! Run with
//!
//! ```sh
//! cargo run --release -p eventrail-benches --bin bench_compare -- [--runs N] [--no-build]
//! ```
//!
//! 1. Builds the release binaries (`cargo build --release -p example-orders
//!    -p eventrail-benches --bins`), unless `--no-build`.
//! 2. Writes the SQS workload ([`eventrail_benches::workload`]) as event
//!    files into a temporary directory: 10 000 records (200 must fail) and
//!    one record (none must fail).
//! 3. Runs every variant on each file, in turn, `--runs` times (default 7)
//!    after one warm-up round: `floor FILE`, `example-orders invoke FILE`
//!    (with and without `--log-level off`), `bare invoke FILE` (with and
//!    without). Each round starts one variant later than the one before
//!    (the second round with `example-orders invoke`, and so on), so that
//!    no variant always follows the same one. Each run is timed as a plain child process (wall time,
//!    `std::time::Instant` around spawn and exit) and run again under GNU
//!    time (`/usr/bin/time -f %M`) for its peak RSS.
//! 4. Checks every run: exit status 0 and a response listing exactly the
//!    failing message ids (same count, same set). Any mismatch stops the
//!    bench with exit code 1.
//! 5. Prints a markdown table of medians and their ratio to the floor, and
//!    the median of the per-round ratios: each round runs every variant
//!    once, back to back, so a round's ratio to the floor of the same round
//!    cancels what a busy machine does to both.
//!
//! Options: `--runs N`, `--no-build`, `--records N` (the large workload,
//! default 10 000), `--bin-dir DIR` (where the release binaries are; default
//! the `release` directory next to this binary's).

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output, Stdio};
use std::time::Instant;

use eventrail_benches::workload::sqs_event_json;

const TIME: &str = "/usr/bin/time";
const USAGE: &str = "usage: bench_compare [--runs N] [--no-build] [--records N] [--bin-dir DIR]";

#[derive(Debug)]
struct Options {
    runs: usize,
    build: bool,
    records: usize,
    bin_dir: Option<PathBuf>,
}

fn parse_args() -> Result<Options, String> {
    let mut opts = Options {
        runs: 7,
        build: true,
        records: 10_000,
        bin_dir: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            let v = args
                .next()
                .ok_or_else(|| format!("{name} needs a number"))?;
            match v.parse() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("{name}: `{v}` is not a positive number")),
            }
        };
        match a.as_str() {
            "--runs" => opts.runs = number("--runs")?,
            "--records" => opts.records = number("--records")?,
            "--no-build" => opts.build = false,
            "--bin-dir" => {
                opts.bin_dir = Some(args.next().ok_or("--bin-dir needs a directory")?.into())
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`; {USAGE}")),
        }
    }
    Ok(opts)
}

/// One program and its arguments; `FILE` stands for the event file.
#[derive(Debug)]
struct Variant {
    name: &'static str,
    program: &'static str,
    args: &'static [&'static str],
}

const VARIANTS: [Variant; 5] = [
    Variant {
        name: "floor",
        program: "floor",
        args: &["FILE"],
    },
    Variant {
        name: "example-orders invoke",
        program: "example-orders",
        args: &["invoke", "FILE"],
    },
    Variant {
        name: "example-orders invoke --log-level off",
        program: "example-orders",
        args: &["invoke", "FILE", "--log-level", "off"],
    },
    Variant {
        name: "bare invoke",
        program: "bare",
        args: &["invoke", "FILE"],
    },
    Variant {
        name: "bare invoke --log-level off",
        program: "bare",
        args: &["invoke", "FILE", "--log-level", "off"],
    },
];

/// An event file and the ids its response must list.
#[derive(Debug)]
struct Workload {
    records: usize,
    path: PathBuf,
    bytes: usize,
    failing: Vec<String>,
}

/// Wall times (ms) and peak RSS (KiB) of one variant on one workload.
#[derive(Debug, Default)]
struct Samples {
    wall_ms: Vec<f64>,
    rss_kib: Vec<f64>,
}

/// The temporary directory, removed when dropped.
#[derive(Debug)]
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn workspace_root() -> PathBuf {
    let benches = Path::new(env!("CARGO_MANIFEST_DIR"));
    benches.parent().unwrap_or(benches).to_path_buf()
}

fn build(root: &Path) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let args = [
        "build",
        "--release",
        "-p",
        "example-orders",
        "-p",
        "eventrail-benches",
        "--bins",
    ];
    eprintln!("bench-compare: cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", cargo.to_string_lossy()))?;
    if !status.success() {
        return Err(format!("the release build failed ({status})"));
    }
    Ok(())
}

fn release_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate this binary: {e}"))?;
    // target/{release,debug}/bench_compare -> target/release
    exe.parent()
        .and_then(Path::parent)
        .map(|target| target.join("release"))
        .ok_or_else(|| format!("no target directory above {}", exe.display()))
}

/// Fails unless GNU time is there and reports a peak RSS.
fn check_time(dir: &Path) -> Result<(), String> {
    let missing = || {
        format!(
            "bench-compare measures peak RSS with GNU time at {TIME}, which is missing or not GNU time; \
             install it (Debian/Ubuntu: `apt-get install time`)"
        )
    };
    let out = dir.join("time-check");
    let status = Command::new(TIME)
        .args(["-f", "%M", "-o"])
        .arg(&out)
        .arg("true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|_| missing())?;
    if !status.success() {
        return Err(missing());
    }
    read_rss(&out).map(|_| ()).map_err(|_| missing())
}

fn read_rss(path: &Path) -> Result<f64, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // A non-zero exit adds a line before the figure: take the last one.
    let last = text.lines().last().unwrap_or("").trim();
    last.parse()
        .map_err(|_| format!("{TIME} wrote `{last}`, not a peak RSS in KiB"))
}

fn command(program: &Path, variant: &Variant, file: &Path) -> Vec<OsString> {
    std::iter::once(program.as_os_str().to_owned())
        .chain(variant.args.iter().map(|a| match *a {
            "FILE" => file.as_os_str().to_owned(),
            a => a.into(),
        }))
        .collect()
}

/// Checks the exit status and that the response lists exactly `w.failing`.
fn check(variant: &Variant, w: &Workload, out: &Output) -> Result<(), String> {
    let what = format!("{} on {} record(s)", variant.name, w.records);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(format!(
            "{what}: {}; stderr ends with:\n{}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    let response: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{what}: the response is not JSON: {e}"))?;
    let items = response["batchItemFailures"]
        .as_array()
        .ok_or_else(|| format!("{what}: no batchItemFailures in the response: {response}"))?;
    let got: Vec<&str> = items
        .iter()
        .map(|i| i["itemIdentifier"].as_str())
        .collect::<Option<_>>()
        .ok_or_else(|| format!("{what}: a batchItemFailures entry has no itemIdentifier"))?;
    let got_set: HashSet<&str> = got.iter().copied().collect();
    let want: HashSet<&str> = w.failing.iter().map(String::as_str).collect();
    if got.len() == w.failing.len() && got_set == want {
        return Ok(());
    }
    let sample = |ids: Vec<&&str>| {
        ids.iter()
            .take(5)
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let missing: Vec<&&str> = want.difference(&got_set).collect();
    let unexpected: Vec<&&str> = got_set.difference(&want).collect();
    Err(format!(
        "{what}: wrong failure list: {} reported ({} distinct), {} expected; \
         {} missing [{}], {} unexpected [{}]",
        got.len(),
        got_set.len(),
        want.len(),
        missing.len(),
        sample(missing.clone()),
        unexpected.len(),
        sample(unexpected.clone()),
    ))
}

/// One run for wall time and one under GNU time for peak RSS, both checked.
fn measure(
    bin_dir: &Path,
    scratch: &Path,
    variant: &Variant,
    w: &Workload,
) -> Result<(f64, f64), String> {
    let argv = command(&bin_dir.join(variant.program), variant, &w.path);
    let spawn_error = |e: std::io::Error| format!("cannot run {}: {e}", argv[0].to_string_lossy());

    let start = Instant::now();
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(spawn_error)?;
    let wall_ms = start.elapsed().as_secs_f64() * 1e3;
    check(variant, w, &out)?;

    let rss_file = scratch.join("rss");
    let out = Command::new(TIME)
        .args(["-f", "%M", "-o"])
        .arg(&rss_file)
        .args(&argv)
        .stdin(Stdio::null())
        .output()
        .map_err(spawn_error)?;
    check(variant, w, &out)?;
    Ok((wall_ms, read_rss(&rss_file)?))
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Each round's time over the floor's in the same round.
fn round_ratios(xs: &[f64], floor: &[f64]) -> Vec<f64> {
    xs.iter().zip(floor).map(|(x, f)| x / f).collect()
}

fn min_max(xs: &[f64]) -> (f64, f64) {
    xs.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

/// `10000` as `10 000`.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn git_commit(root: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root)
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(head) => match git(&["status", "--porcelain", "--untracked-files=no"]) {
            Some(s) if !s.is_empty() => format!("{head} + uncommitted changes"),
            _ => head,
        },
        None => "unknown".into(),
    }
}

fn run(opts: &Options) -> Result<(), String> {
    let root = workspace_root();
    let scratch = TempDir(
        std::env::temp_dir().join(format!("eventrail-bench-compare-{}", std::process::id())),
    );
    std::fs::create_dir_all(&scratch.0)
        .map_err(|e| format!("cannot create {}: {e}", scratch.0.display()))?;
    check_time(&scratch.0)?;
    if opts.build {
        build(&root)?;
    }
    let bin_dir = match &opts.bin_dir {
        Some(d) => d.clone(),
        None => release_dir()?,
    };
    for program in ["floor", "bare", "example-orders"] {
        if !bin_dir.join(program).is_file() {
            return Err(format!(
                "{} is missing: build with `cargo build --release -p example-orders -p eventrail-benches --bins`",
                bin_dir.join(program).display()
            ));
        }
    }

    let mut workloads = Vec::new();
    for records in [opts.records, 1] {
        let (json, failing) = sqs_event_json(records, true);
        let path = scratch.0.join(format!("sqs-{records}.json"));
        std::fs::write(&path, &json)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        workloads.push(Workload {
            records,
            path,
            bytes: json.len(),
            failing,
        });
    }

    let mut results: Vec<Vec<Samples>> = Vec::new();
    for w in &workloads {
        eprintln!(
            "bench-compare: {} record(s), {} bytes, {} must fail: 1 warm-up round, {} measured",
            grouped(w.records),
            grouped(w.bytes),
            w.failing.len(),
            opts.runs
        );
        for v in &VARIANTS {
            measure(&bin_dir, &scratch.0, v, w)?;
        }
        let mut samples: Vec<Samples> = VARIANTS.iter().map(|_| Samples::default()).collect();
        for round in 0..opts.runs {
            // Each round starts one variant later than the one before, so
            // that no variant always runs right after the same other one
            // (what a process leaves behind, in the caches and the kernel's
            // page lists, weighs on the next).
            for k in 0..VARIANTS.len() {
                let at = (round + k) % VARIANTS.len();
                let (wall, rss) = measure(&bin_dir, &scratch.0, &VARIANTS[at], w)?;
                samples[at].wall_ms.push(wall);
                samples[at].rss_kib.push(rss);
            }
        }
        results.push(samples);
    }

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "bench-compare: {} runs per variant (median), commit {}, {cores} core(s), binaries in {}",
        opts.runs,
        git_commit(&root),
        bin_dir.display()
    );
    println!("every run checked: exit 0 and the response lists exactly the expected failures\n");
    println!(
        "| variant | records | median wall (ms) | ratio to floor | median of round ratios | median peak RSS (MiB) | ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (w, samples) in workloads.iter().zip(&results) {
        let floor_wall = median(&samples[0].wall_ms);
        let floor_rss = median(&samples[0].rss_kib);
        for (v, s) in VARIANTS.iter().zip(samples) {
            let (wall, rss) = (median(&s.wall_ms), median(&s.rss_kib));
            println!(
                "| {} | {} | {wall:.2} | {:.2} | {:.2} | {:.1} | {:.2} |",
                v.name,
                grouped(w.records),
                wall / floor_wall,
                median(&round_ratios(&s.wall_ms, &samples[0].wall_ms)),
                rss / 1024.0,
                rss / floor_rss
            );
        }
    }
    println!("\nspread (min–max over the runs):\n");
    println!("| variant | records | wall (ms) | peak RSS (MiB) |");
    println!("|---|---:|---:|---:|");
    for (w, samples) in workloads.iter().zip(&results) {
        for (v, s) in VARIANTS.iter().zip(samples) {
            let (wl, wh) = min_max(&s.wall_ms);
            let (rl, rh) = min_max(&s.rss_kib);
            println!(
                "| {} | {} | {wl:.2}–{wh:.2} | {:.1}–{:.1} |",
                v.name,
                grouped(w.records),
                rl / 1024.0,
                rh / 1024.0
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let result = parse_args().and_then(|opts| run(&opts));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
