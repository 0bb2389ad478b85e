//! Class-name files.

use std::path::Path;

use crate::error::{Error, Result};

/// Reads class names: either a JSON array of strings, or plain text with one name per line
/// (surrounding whitespace trimmed, blank lines skipped). The line order is the class id.
pub fn load_class_names(path: &Path) -> Result<Vec<String>> {
    let err = |message: String| Error::ClassNames {
        path: path.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let names = parse_class_names(&text).map_err(err)?;
    if names.is_empty() {
        return Err(err("the file lists no class names".into()));
    }
    Ok(names)
}

/// Parses the contents of a class-name file (see [`load_class_names`]).
pub fn parse_class_names(text: &str) -> std::result::Result<Vec<String>, String> {
    let t = text.trim_start_matches('\u{feff}').trim();
    if t.starts_with('[') {
        return serde_json::from_str::<Vec<String>>(t)
            .map_err(|e| format!("not a JSON array of strings: {e}"));
    }
    Ok(t.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}
