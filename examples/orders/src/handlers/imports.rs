//! S3 files: CSV imports of orders, and uploads dispatched by extension.

use eventrail::bus::State;
use eventrail::{Envelope, HandlerError};
use serde::{Deserialize, Serialize};

use super::{Deps, Handled};
use crate::events::{CsvImport, FileUpload};

/// One line of an order import: `order_id,email,total,items`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct OrderRow {
    /// The order id.
    pub order_id: String,
    /// The customer's e-mail address.
    pub email: String,
    /// Total in cents.
    pub total: u64,
    /// Number of items.
    pub items: u32,
}

/// A row that did not parse: counted and reported, never fatal.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct BadRow {
    /// The line in the file (the header is line 1).
    pub line: u64,
    /// Why it was rejected.
    pub reason: String,
}

/// What `import-csv` returns (to Step Functions, for a `CSV_IMPORT` task).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ImportSummary {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// Rows imported.
    pub imported: u32,
    /// Sum of the imported rows' totals, in cents.
    pub total_cents: u64,
    /// Rows rejected.
    pub bad_rows: Vec<BadRow>,
}

/// Parses an order CSV (with a header line); bad rows are collected, not fatal.
pub fn parse_orders(body: &[u8]) -> (Vec<OrderRow>, Vec<BadRow>) {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(body);
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for (i, record) in reader.deserialize::<OrderRow>().enumerate() {
        match record {
            Ok(row) => rows.push(row),
            Err(e) => bad.push(BadRow {
                line: e.position().map_or(i as u64 + 2, |p| p.line()),
                reason: match e.kind() {
                    csv::ErrorKind::Deserialize { err, .. } => err.to_string(),
                    _ => e.to_string(),
                },
            }),
        }
    }
    (rows, bad)
}

/// `import-csv`: reads the file through the object store and imports one
/// order per row. A missing object fails permanently (`NoSuchKey`).
pub async fn import_csv(
    env: Envelope<CsvImport>,
    deps: State<Deps>,
) -> Result<ImportSummary, HandlerError> {
    let CsvImport { bucket, key } = env.event();
    let body = deps.ports.objects.get(bucket, key).await?.collect().await?;
    let (rows, bad_rows) = parse_orders(&body);
    let summary = ImportSummary {
        bucket: bucket.clone(),
        key: key.clone(),
        imported: u32::try_from(rows.len()).unwrap_or(u32::MAX),
        total_cents: rows.iter().map(|r| r.total).sum(),
        bad_rows,
    };
    deps.note(format_args!(
        "imported {} order(s) from s3://{bucket}/{key}, {} bad row(s)",
        summary.imported,
        summary.bad_rows.len()
    ));
    Ok(summary)
}

/// What kind of file an upload is, by its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// `.csv`
    Csv,
    /// `.xlsx`, `.xls`
    Spreadsheet,
    /// `.pdf`
    Pdf,
    /// `.jpg`, `.jpeg`, `.png`
    Image,
}

impl FileKind {
    /// The kind of `key`, or the reason it is not handled.
    pub fn of(key: &str) -> Result<Self, String> {
        let name = key.rsplit('/').next().unwrap_or(key);
        let Some((_, ext)) = name.rsplit_once('.').filter(|(stem, _)| !stem.is_empty()) else {
            return Err("the file has no extension".into());
        };
        match ext.to_ascii_lowercase().as_str() {
            "csv" => Ok(Self::Csv),
            "xlsx" | "xls" => Ok(Self::Spreadsheet),
            "pdf" => Ok(Self::Pdf),
            "jpg" | "jpeg" | "png" => Ok(Self::Image),
            other => Err(format!("unsupported file type .{other}")),
        }
    }
}

/// What `file-upload` did with a file it handles.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct UploadProcessed {
    /// The file's kind.
    pub kind: FileKind,
    /// The key.
    pub key: String,
    /// Its size.
    pub bytes: u64,
    /// For CSV files, the data lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
}

/// `file-upload`: dispatches on the extension; any other extension is
/// skipped with a reason, never failed.
pub async fn file_upload(
    env: Envelope<FileUpload>,
    deps: State<Deps>,
) -> Result<Handled<UploadProcessed>, HandlerError> {
    let object = &env.event().0;
    let kind = match FileKind::of(&object.key) {
        Ok(kind) => kind,
        Err(reason) => return Ok(deps.skip(format!("{reason} ({})", object.key))),
    };
    let body = deps
        .ports
        .objects
        .get(&object.bucket, &object.key)
        .await?
        .collect()
        .await?;
    let rows = (kind == FileKind::Csv).then(|| {
        csv::Reader::from_reader(&body[..])
            .records()
            .filter(Result::is_ok)
            .count() as u64
    });
    deps.note(format_args!(
        "processed {kind:?} upload {} ({} bytes)",
        object.key,
        body.len()
    ));
    Ok(Handled::Processed(UploadProcessed {
        kind,
        key: object.key.clone(),
        bytes: body.len() as u64,
        rows,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_extension() {
        assert_eq!(FileKind::of("uploads/a.CSV"), Ok(FileKind::Csv));
        assert_eq!(FileKind::of("uploads/b.xls"), Ok(FileKind::Spreadsheet));
        assert_eq!(FileKind::of("uploads/c d.jpeg"), Ok(FileKind::Image));
        assert_eq!(
            FileKind::of("uploads/tool.exe").unwrap_err(),
            "unsupported file type .exe"
        );
        assert!(FileKind::of("uploads/.profile").is_err());
        assert!(FileKind::of("uploads/README").is_err());
    }

    #[test]
    fn bad_rows_are_counted_with_their_line() {
        let (rows, bad) = parse_orders(
            b"order_id,email,total,items\n1,a@example.com,100,1\n2,b@example.com,lots,2\n3,c@example.com,300,3\n",
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 3);
    }
}
