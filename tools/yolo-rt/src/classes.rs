//! Class names: files given by the caller ([`load_class_names`]) and model metadata
//! ([`parse_names_metadata`], the ONNX `names` entry of Ultralytics-style exports).

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
    if t.starts_with('{') {
        // Ultralytics' `{0: 'person', 1: 'bicycle'}` (JSON or Python dict): ids mapped to names.
        return parse_names_metadata(t).map_err(|e| format!("not a class-id → name mapping: {e}"));
    }
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

/// Parses class names stored as model metadata — the ONNX `metadata_props` entry `names` that
/// Ultralytics-style exports write — into a list indexed by class id. Accepted forms:
///
/// - a Python dict literal: `{0: 'person', 1: 'bicycle', 2: "it's"}` (single- or double-quoted
///   strings with Python escapes, keys in any order);
/// - a JSON object with integer keys: `{"0": "person", "1": "bicycle"}`;
/// - a JSON or Python list: `["person", "bicycle"]`.
///
/// The ids must be exactly `0..n` (in any order): a gap or a duplicate is an error naming the id.
/// Empty text, `{}` and `[]` give an empty list (no names known).
pub fn parse_names_metadata(text: &str) -> Result<Vec<String>> {
    let text = text.trim_start_matches('\u{feff}');
    let mut p = NamesParser {
        s: text.as_bytes(),
        text,
        i: 0,
    };
    p.skip_ws();
    if p.i == p.s.len() {
        return Ok(Vec::new());
    }
    let names = match p.peek() {
        Some(b'{') => p.dict()?,
        Some(b'[') => p.list()?,
        _ => return Err(p.error("expected `{` or `[` at the start")),
    };
    p.skip_ws();
    if p.i != p.s.len() {
        return Err(p.error("unexpected text after the closing bracket"));
    }
    Ok(names)
}

/// A small recursive-descent parser over the metadata text (see [`parse_names_metadata`]).
struct NamesParser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl NamesParser<'_> {
    fn error(&self, what: &str) -> Error {
        // Character position, and a short excerpt of where it went wrong.
        let at = self.i.min(self.s.len());
        let pos = self.text.get(..at).map_or(at, |t| t.chars().count());
        let near: String = self.text.get(at..).unwrap_or("").chars().take(20).collect();
        let message = if near.is_empty() {
            format!("{what} at character {pos} (end of text)")
        } else {
            format!("{what} at character {pos} (near `{near}`)")
        };
        Error::NamesMetadata { message }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Result<()> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected `{}`", c as char)))
        }
    }

    /// After an item: `,` (then maybe the closing bracket, a trailing comma) or `close`. Returns
    /// `true` when the collection ended.
    fn separator(&mut self, close: u8) -> Result<bool> {
        self.skip_ws();
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                self.skip_ws();
                if self.peek() == Some(close) {
                    self.i += 1;
                    return Ok(true);
                }
                Ok(false)
            }
            Some(c) if c == close => {
                self.i += 1;
                Ok(true)
            }
            _ => Err(self.error(&format!("expected `,` or `{}`", close as char))),
        }
    }

    fn list(&mut self) -> Result<Vec<String>> {
        self.expect(b'[')?;
        let mut names = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(names);
        }
        loop {
            self.skip_ws();
            names.push(self.string()?);
            if self.separator(b']')? {
                return Ok(names);
            }
        }
    }

    fn dict(&mut self) -> Result<Vec<String>> {
        self.expect(b'{')?;
        let mut entries: Vec<(u64, String)> = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Vec::new());
        }
        loop {
            self.skip_ws();
            let id = self.key()?;
            self.expect(b':')?;
            self.skip_ws();
            let name = self.string()?;
            entries.push((id, name));
            if self.separator(b'}')? {
                break;
            }
        }
        entries.sort_by_key(|e| e.0);
        if let Some(w) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Error::NamesMetadata {
                message: format!("class id {} appears twice", w[0].0),
            });
        }
        for (expected, (id, _)) in entries.iter().enumerate() {
            if *id != expected as u64 {
                let ids: Vec<String> = entries.iter().map(|e| e.0.to_string()).collect();
                return Err(Error::NamesMetadata {
                    message: format!(
                        "class ids must be 0..{} without gaps, but id {expected} is missing (ids: {})",
                        entries.len(),
                        ids.join(", ")
                    ),
                });
            }
        }
        Ok(entries.into_iter().map(|e| e.1).collect())
    }

    /// A class id: a non-negative integer, bare (Python) or quoted (JSON object keys).
    fn key(&mut self) -> Result<u64> {
        let start = self.i;
        let digits = match self.peek() {
            Some(b'\'' | b'"') => self.string()?,
            _ => {
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'+')
                {
                    self.i += 1;
                }
                self.text.get(start..self.i).unwrap_or("").to_string()
            }
        };
        let d = digits.trim();
        if !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()) {
            if let Ok(v) = d.parse() {
                return Ok(v);
            }
        }
        self.i = start;
        Err(self.error(&format!(
            "class id `{digits}` is not a non-negative integer"
        )))
    }

    /// A single- or double-quoted string with Python/JSON escapes.
    fn string(&mut self) -> Result<String> {
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => return Err(self.error("expected a quoted class name")),
        };
        let open = self.i;
        self.i += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                self.i = open;
                return Err(self.error("unterminated string"));
            };
            if c == quote {
                self.i += 1;
                return Ok(out);
            }
            if c == b'\\' {
                self.i += 1;
                self.escape(&mut out)?;
                continue;
            }
            // Copy one UTF-8 character (the input is a &str, so boundaries are valid).
            let rest = self.text.get(self.i..).unwrap_or("");
            let ch = rest.chars().next().unwrap_or('\u{fffd}');
            out.push(ch);
            self.i += ch.len_utf8().max(1);
        }
    }

    fn hex(&mut self, n: usize) -> Result<u32> {
        let h = self
            .text
            .get(self.i..self.i + n)
            .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
            .ok_or_else(|| self.error(&format!("expected {n} hex digits in an escape")))?;
        self.i += n;
        u32::from_str_radix(h, 16).map_err(|_| self.error("bad hex escape"))
    }

    fn escape(&mut self, out: &mut String) -> Result<()> {
        let Some(c) = self.peek() else {
            return Err(self.error("unterminated escape"));
        };
        self.i += 1;
        let ch = match c {
            b'\\' => '\\',
            b'\'' => '\'',
            b'"' => '"',
            b'/' => '/',
            b'n' => '\n',
            b't' => '\t',
            b'r' => '\r',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'a' => '\u{7}',
            b'v' => '\u{b}',
            b'0' => '\0',
            b'\n' => return Ok(()), // line continuation
            b'x' => char_from(self.hex(2)?).ok_or_else(|| self.error("bad \\x escape"))?,
            b'U' => char_from(self.hex(8)?).ok_or_else(|| self.error("bad \\U escape"))?,
            b'u' => {
                let hi = self.hex(4)?;
                if (0xd800..0xdc00).contains(&hi) {
                    // A JSON surrogate pair: \uD83D\uDE00.
                    if self.text.get(self.i..self.i + 2) != Some("\\u") {
                        return Err(self.error("unpaired surrogate in a \\u escape"));
                    }
                    self.i += 2;
                    let lo = self.hex(4)?;
                    if !(0xdc00..0xe000).contains(&lo) {
                        return Err(self.error("unpaired surrogate in a \\u escape"));
                    }
                    char_from(0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00))
                        .ok_or_else(|| self.error("bad \\u escape"))?
                } else {
                    char_from(hi).ok_or_else(|| self.error("bad \\u escape"))?
                }
            }
            _ => {
                self.i -= 1;
                return Err(self.error(&format!("unknown escape `\\{}`", c as char)));
            }
        };
        out.push(ch);
        Ok(())
    }
}

fn char_from(v: u32) -> Option<char> {
    char::from_u32(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Vec<String> {
        parse_names_metadata(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        match parse_names_metadata(s) {
            Ok(v) => panic!("{s}: parsed as {v:?}"),
            Err(e) => {
                assert!(matches!(e, Error::NamesMetadata { .. }), "{e:?}");
                e.to_string()
            }
        }
    }

    #[test]
    fn ultralytics_id_name_mappings_are_read_as_mappings() {
        assert_eq!(
            parse_class_names("{0: 'person', 2: 'car', 1: 'bicycle'}").unwrap(),
            ["person", "bicycle", "car"]
        );
        assert_eq!(
            parse_class_names("{\"0\": \"a\", \"1\": \"b\"}\n").unwrap(),
            ["a", "b"]
        );
        assert!(parse_class_names("{0: 'a', 2: 'c'}")
            .unwrap_err()
            .contains("1"));
    }

    #[test]
    fn ultralytics_dict_literal() {
        assert_eq!(
            ok("{0: 'person', 1: 'bicycle', 2: 'car'}"),
            ["person", "bicycle", "car"]
        );
        // Keys out of order, whitespace and newlines, a trailing comma.
        assert_eq!(ok(" {\n 1 : 'b',\n\t0:'a' ,\n}\n"), ["a", "b"]);
        // The 80 COCO names the way Ultralytics writes them (generated here from a list).
        let coco: Vec<String> = (0..80).map(|i| format!("class {i}")).collect();
        let text = format!(
            "{{{}}}",
            coco.iter()
                .enumerate()
                .map(|(i, n)| format!("{i}: '{n}'"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        assert_eq!(ok(&text), coco);
    }

    #[test]
    fn quotes_escapes_and_apostrophes() {
        // Python's repr puts a name containing an apostrophe in double quotes.
        assert_eq!(ok(r#"{0: "it's", 1: 'say "hi"'}"#), ["it's", "say \"hi\""]);
        assert_eq!(
            ok(r"{0: 'it\'s', 1: 'back\\slash', 2: 'tab\there', 3: 'nl\n'}"),
            ["it's", "back\\slash", "tab\there", "nl\n"]
        );
        assert_eq!(
            ok(r"{0: 'caf\xe9', 1: '\u00e9t\u00e9', 2: '\U0001F600'}"),
            ["café", "été", "😀"]
        );
        // Non-ASCII text as is, and a JSON surrogate pair.
        assert_eq!(
            ok(r#"["Fußgänger", "自転車", "\ud83d\ude00"]"#),
            ["Fußgänger", "自転車", "😀"]
        );
        // Commas, colons and brackets inside names.
        assert_eq!(
            ok("{0: 'a, b', 1: 'c: d', 2: '{x}'}"),
            ["a, b", "c: d", "{x}"]
        );
    }

    #[test]
    fn json_list_and_object() {
        assert_eq!(ok(r#"["person", "bicycle"]"#), ["person", "bicycle"]);
        assert_eq!(
            ok(r#"{"1": "bicycle", "0": "person"}"#),
            ["person", "bicycle"]
        );
        assert_eq!(ok("['a', 'b',]"), ["a", "b"]);
    }

    #[test]
    fn empty_forms_give_no_names() {
        for s in ["", "   ", "{}", "[]", " { } ", "\u{feff}[]"] {
            assert!(ok(s).is_empty(), "{s:?}");
        }
    }

    #[test]
    fn gaps_duplicates_and_bad_keys_are_clear_errors() {
        let e = err("{0: 'a', 2: 'c'}");
        assert!(
            e.contains("id 1 is missing") && e.contains("ids: 0, 2"),
            "{e}"
        );
        let e = err("{1: 'b', 2: 'c'}");
        assert!(e.contains("id 0 is missing"), "{e}");
        let e = err("{0: 'a', 0: 'b'}");
        assert!(e.contains("class id 0 appears twice"), "{e}");
        let e = err("{-1: 'a'}");
        assert!(e.contains("`-1` is not a non-negative integer"), "{e}");
        let e = err("{'x': 'a'}");
        assert!(e.contains("`x` is not a non-negative integer"), "{e}");
        let e = err("{0: 1}");
        assert!(
            e.contains("expected a quoted class name") && e.contains("character 4"),
            "{e}"
        );
    }

    #[test]
    fn malformed_text_is_an_error_not_a_panic() {
        for (s, needle) in [
            ("{0: 'a'", "expected `,` or `}`"),
            ("{0: 'a}", "unterminated string"),
            ("['a' 'b']", "expected `,` or `]`"),
            ("person, bicycle", "expected `{` or `[`"),
            ("['a'] x", "after the closing bracket"),
            (r"['a\q']", "unknown escape `\\q`"),
            (r"['\x4']", "2 hex digits"),
            (r"['\ud83d']", "unpaired surrogate"),
            (r"['a\", "unterminated"),
            ("{0 'a'}", "expected `:`"),
        ] {
            let e = err(s);
            assert!(e.contains(needle), "{s}: {e}");
        }
        // Arbitrary bytes never panic.
        for s in [
            "{",
            "[",
            "{0:",
            "['",
            "{'",
            "[\"\\u",
            "{0: '\u{1F600}",
            "ü{",
        ] {
            let _ = parse_names_metadata(s);
        }
    }
}
