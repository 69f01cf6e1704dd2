//! CSV training data: a header naming a `text` column and an `intent` (or
//! `category`, as in BANKING77) column; other columns are ignored.

use super::{DataError, Example, TrainingData};

pub(crate) fn parse(src: &str, file: &str) -> Result<TrainingData, DataError> {
    let err = |line: usize, message: String| DataError {
        file: file.to_string(),
        line,
        message,
    };
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(src.as_bytes());
    let mut records = reader.records();

    let mut header = None;
    for rec in records.by_ref() {
        let rec = rec.map_err(|e| csv_error(file, &e))?;
        let line = line_of(src, &rec);
        if is_blank(&rec) {
            continue;
        }
        header = Some((line, rec));
        break;
    }
    let Some((header_line, header)) = header else {
        return Err(err(
            0,
            "file is empty: expected a CSV header with `text` and `intent` columns".into(),
        ));
    };
    let names: Vec<String> = header.iter().map(|h| h.trim().to_lowercase()).collect();
    let find = |name: &str| names.iter().position(|h| h == name);
    let text_col = find("text");
    let intent_col = find("intent").or_else(|| find("category"));
    if text_col.is_none() || intent_col.is_none() {
        let mut missing = Vec::new();
        if text_col.is_none() {
            missing.push("`text`");
        }
        if intent_col.is_none() {
            missing.push("`intent` (or `category`)");
        }
        let has: Vec<&str> = header.iter().map(str::trim).collect();
        return Err(err(
            header_line,
            format!(
                "missing column{} {}; the header has: {}",
                if missing.len() > 1 { "s" } else { "" },
                missing.join(" and "),
                has.join(", ")
            ),
        ));
    }
    let (text_col, intent_col) = (text_col.unwrap_or(0), intent_col.unwrap_or(0));
    let intent_name = names.get(intent_col).cloned().unwrap_or_default();

    let mut data = TrainingData::default();
    for rec in records {
        let rec = rec.map_err(|e| csv_error(file, &e))?;
        let line = line_of(src, &rec);
        if is_blank(&rec) {
            continue;
        }
        if rec.len() != header.len() {
            return Err(err(
                line,
                format!(
                    "row has {} field{} but the header has {}",
                    rec.len(),
                    if rec.len() == 1 { "" } else { "s" },
                    header.len()
                ),
            ));
        }
        let text = rec.get(text_col).unwrap_or("").trim();
        let intent = rec.get(intent_col).unwrap_or("").trim();
        if text.is_empty() {
            return Err(err(line, "row has an empty `text`".into()));
        }
        if intent.is_empty() {
            return Err(err(line, format!("row has an empty `{intent_name}`")));
        }
        data.examples.push(Example {
            text: text.to_string(),
            intent: intent.to_string(),
            entities: Vec::new(),
        });
    }
    Ok(data)
}

/// 1-based line where `rec` starts. The csv crate counts a record as starting
/// before any blank lines that precede it; skip those.
fn line_of(src: &str, rec: &csv::StringRecord) -> usize {
    let Some(pos) = rec.position() else {
        return 0;
    };
    let bytes = src.as_bytes();
    let mut start = usize::try_from(pos.byte())
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    while matches!(bytes.get(start), Some(b'\r' | b'\n')) {
        start += 1;
    }
    1 + bytes
        .get(..start)
        .unwrap_or(&[])
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

fn is_blank(rec: &csv::StringRecord) -> bool {
    rec.len() <= 1 && rec.iter().all(|f| f.trim().is_empty())
}

fn csv_error(file: &str, e: &csv::Error) -> DataError {
    DataError {
        file: file.to_string(),
        line: e.position().map_or(0, |p| p.line() as usize),
        message: format!("invalid CSV: {e}"),
    }
}
