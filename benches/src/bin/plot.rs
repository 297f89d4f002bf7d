//! Plots the per-record time of whole payloads against the batch size, from
//! the figures criterion saved for `process_raw/bare` and
//! `process_raw/orders`, and prints them as a markdown table.
//!
//! Run with
//!
//! ```sh
//! cargo bench -p eventrail-benches --bench dispatch -- process_raw/
//! cargo run --release -p eventrail-benches --bin plot -- [--criterion-dir DIR] [--out FILE] [--font FILE]
//! ```
//!
//! - `--criterion-dir`: where criterion keeps its results; default
//!   `$CARGO_TARGET_DIR/criterion`, else `target/criterion`.
//! - `--out`: the PNG to write; default `benches/per-record.png`.
//! - `--font`: a TrueType font for the labels (the plot is drawn in pure Rust,
//!   with no system font library); default
//!   `/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf` (Debian/Ubuntu:
//!   `apt-get install fonts-dejavu-core`).
//!
//! The figure per batch size is criterion's mean time of one iteration
//! divided by the records in the payload.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
const SIZES: [u64; 4] = [10, 100, 1_000, 10_000];
const SERIES: [(&str, &str); 2] = [
    ("process_raw_bare", "bare app (two routes, no layers)"),
    ("process_raw_orders", "order app (full stack, fakes)"),
];

struct Args {
    criterion: PathBuf,
    out: PathBuf,
    font: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut criterion = std::env::var_os("CARGO_TARGET_DIR")
        .map(|d| PathBuf::from(d).join("criterion"))
        .unwrap_or_else(|| PathBuf::from("target/criterion"));
    let mut out = PathBuf::from("benches/per-record.png");
    let mut font = PathBuf::from(DEFAULT_FONT);
    let mut it = std::env::args_os().skip(1);
    while let Some(a) = it.next() {
        let a = a.to_string_lossy().into_owned();
        let mut value = || {
            it.next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{a} needs a path"))
        };
        match a.as_str() {
            "--criterion-dir" => criterion = value()?,
            "--out" => out = value()?,
            "--font" => font = value()?,
            other => {
                return Err(format!(
                    "unknown argument `{other}`; usage: plot [--criterion-dir DIR] [--out FILE] [--font FILE]"
                ))
            }
        }
    }
    Ok(Args {
        criterion,
        out,
        font,
    })
}

/// One measured point: records in the payload, mean and bounds of one
/// iteration in nanoseconds.
struct Point {
    records: u64,
    mean_ns: f64,
    lower_ns: f64,
    upper_ns: f64,
}

fn read_point(dir: &Path, records: u64) -> Result<Point, String> {
    let path = dir.join(records.to_string()).join("new/estimates.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read {}: {e}; run `cargo bench -p eventrail-benches --bench dispatch -- process_raw/` first",
            path.display()
        )
    })?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let get = |p: &str| {
        v.pointer(p)
            .and_then(serde_json::Value::as_f64)
            .ok_or_else(|| format!("{}: no number at {p}", path.display()))
    };
    Ok(Point {
        records,
        mean_ns: get("/mean/point_estimate")?,
        lower_ns: get("/mean/confidence_interval/lower_bound")?,
        upper_ns: get("/mean/confidence_interval/upper_bound")?,
    })
}

fn per_record_us(ns: f64, records: u64) -> f64 {
    ns / records as f64 / 1_000.0
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let mut series = Vec::new();
    for (dir, label) in SERIES {
        let points = SIZES
            .iter()
            .map(|&n| read_point(&args.criterion.join(dir), n))
            .collect::<Result<Vec<_>, _>>()?;
        series.push((label, points));
    }

    println!("| batch size | {} | {} |", series[0].0, series[1].0);
    println!("|---:|---:|---:|");
    for (i, n) in SIZES.iter().enumerate() {
        let cell = |s: &Vec<Point>| {
            let p = &s[i];
            format!(
                "{:.2} µs ({:.2}–{:.2})",
                per_record_us(p.mean_ns, p.records),
                per_record_us(p.lower_ns, p.records),
                per_record_us(p.upper_ns, p.records)
            )
        };
        println!("| {n} | {} | {} |", cell(&series[0].1), cell(&series[1].1));
    }

    let font = std::fs::read(&args.font).map_err(|e| {
        format!(
            "cannot read the font {}: {e}; pass --font FILE (a .ttf)",
            args.font.display()
        )
    })?;
    let font: &'static [u8] = Box::leak(font.into_boxed_slice());
    register_font("sans-serif", FontStyle::Normal, font)
        .map_err(|_| format!("{} is not a usable TrueType font", args.font.display()))?;

    let max = series
        .iter()
        .flat_map(|(_, ps)| ps.iter().map(|p| per_record_us(p.upper_ns, p.records)))
        .fold(0.0_f64, f64::max);
    let root = BitMapBackend::new(&args.out, (900, 560)).into_drawing_area();
    let draw_err =
        |e: DrawingAreaErrorKind<_>| format!("cannot draw {}: {e:?}", args.out.display());
    root.fill(&WHITE).map_err(draw_err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "eventrail: time per record vs batch size (RawEvent::parse + App::process_raw)",
            ("sans-serif", 20),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d((5u64..20_000u64).log_scale(), 0.0..(max * 1.2))
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_desc("records in the payload (log scale)")
        .y_desc("µs per record (criterion mean)")
        .x_label_formatter(&|v| v.to_string())
        .y_label_formatter(&|v| format!("{v:.1}"))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(draw_err)?;
    let colors = [BLUE, RED];
    for ((label, points), color) in series.iter().zip(colors) {
        let xy: Vec<(u64, f64)> = points
            .iter()
            .map(|p| (p.records, per_record_us(p.mean_ns, p.records)))
            .collect();
        chart
            .draw_series(LineSeries::new(xy.clone(), color.stroke_width(2)))
            .map_err(draw_err)?
            .label(*label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                xy.iter()
                    .map(|&(x, y)| Circle::new((x, y), 4, color.filled())),
            )
            .map_err(draw_err)?;
        // The 95 % confidence interval of the mean, as a vertical bar.
        chart
            .draw_series(points.iter().map(|p| {
                PathElement::new(
                    vec![
                        (p.records, per_record_us(p.lower_ns, p.records)),
                        (p.records, per_record_us(p.upper_ns, p.records)),
                    ],
                    color.stroke_width(1),
                )
            }))
            .map_err(draw_err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(draw_err)?;
    root.present().map_err(draw_err)?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
