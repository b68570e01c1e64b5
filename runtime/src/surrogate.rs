//! Lone UTF-16 surrogate escapes, kept exactly.
//!
//! JavaScript strings are UTF-16 and may hold half of a surrogate pair (code that slices a
//! string mid-emoji), which `JSON.stringify` writes as an escape such as `"\ud83d"`. No UTF-8
//! string can hold it, so serde_json refuses it. [`encode`] rewrites the JSON text of a KV value
//! before it is parsed, inside strings only:
//!
//! * a lone surrogate escape `\uD83D` (a high one not followed by a low one, or a low one not
//!   preceded by a high one) becomes the [`MARKER`] followed by its four hex digits, in lower
//!   case (`\ud83d` and `\uD83D` are one JavaScript string, so they are one SQL text);
//! * the marker itself, raw or escaped (`\ufdd0`), is doubled.
//!
//! Valid pairs (`\ud83d\ude00`) and every other escape are left to serde_json. [`decode`] is the
//! inverse, applied to the JSON text of every exported value: a doubled marker is one marker, a
//! marker and four hex digits are the escape `\u` and the digits. The marker is a noncharacter
//! that real data essentially never holds; when it does, it costs three bytes more per marker.
//!
//! Text without a `\u` escape of a surrogate or of the marker, and without the marker, is
//! returned borrowed after one `memchr2` scan: the common path copies nothing.

use std::borrow::Cow;

use memchr::memmem;

/// The character that stands for a lone surrogate escape inside an encoded string: U+FDD0, a
/// noncharacter (Unicode reserves it for internal use such as this).
pub const MARKER: char = '\u{FDD0}';
const MARKER_UTF8: &[u8] = "\u{FDD0}".as_bytes();

/// Rewrites lone surrogate escapes (and the marker) in JSON text so that serde_json accepts it
/// (see the [module docs](self)). Borrowed when there is nothing to rewrite.
pub fn encode(text: &str) -> Cow<'_, str> {
    if !needs_encoding(text.as_bytes()) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(encode_all(text))
}

/// Whether `bytes` hold the marker, or a `\u` escape that may be a surrogate (`\uD…`) or the
/// marker (`\uF…`). A cheap over-approximation (`\\uD`, an escaped backslash, matches too): one
/// `memchr2` pass over the backslashes and the marker's first byte.
fn needs_encoding(bytes: &[u8]) -> bool {
    memchr::memchr2_iter(b'\\', MARKER_UTF8[0], bytes).any(|i| match bytes[i] {
        b'\\' => bytes.get(i + 1) == Some(&b'u') && matches!(bytes.get(i + 2), Some(b'd' | b'D' | b'f' | b'F')),
        _ => bytes[i..].starts_with(MARKER_UTF8),
    })
}

/// The encoding proper: a scan that knows where strings and escapes are.
fn encode_all(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_string = false;
    // Start of the text not yet copied.
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                in_string = !in_string;
                i += 1;
            }
            b'\\' if in_string => {
                let Some(n) = hex4(b, i + 2).filter(|_| b.get(i + 1) == Some(&b'u')) else {
                    // Any other escape (or a malformed one, left for serde_json to report).
                    i += 2;
                    continue;
                };
                let replacement = match n {
                    0xD800..=0xDBFF if is_low_escape(b, i + 6) => {
                        i += 12;
                        continue;
                    }
                    0xD800..=0xDFFF => format!("{MARKER}{n:04x}"),
                    0xFDD0 => format!("{MARKER}{MARKER}"),
                    _ => {
                        i += 6;
                        continue;
                    }
                };
                out.push_str(&text[copied..i]);
                out.push_str(&replacement);
                i += 6;
                copied = i;
            }
            _ if b[i..].starts_with(MARKER_UTF8) => {
                // Raw, in a string (outside one it is invalid JSON, reported as such).
                i += MARKER_UTF8.len();
                if in_string {
                    out.push_str(&text[copied..i]);
                    out.push(MARKER);
                    copied = i;
                }
            }
            _ => i += 1,
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// The value of four hex digits at `at`, if there are four.
fn hex4(b: &[u8], at: usize) -> Option<u32> {
    let digits = b.get(at..at + 4)?;
    let s = std::str::from_utf8(digits).ok()?;
    if !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// Whether a low surrogate escape `\uDC00`..`\uDFFF` starts at `at`.
fn is_low_escape(b: &[u8], at: usize) -> bool {
    b.get(at) == Some(&b'\\') && b.get(at + 1) == Some(&b'u') && matches!(hex4(b, at + 2), Some(0xDC00..=0xDFFF))
}

/// The inverse of [`encode`], on JSON text that serde_json wrote from encoded values. (The
/// marker only occurs inside strings, and serde_json writes it raw.) A marker followed by
/// neither a marker nor four hex digits, which only code that cut an encoded string apart can
/// make, is kept as it is.
pub fn decode(text: String) -> String {
    if memmem::find(text.as_bytes(), MARKER_UTF8).is_none() {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find(MARKER) {
        out.push_str(&rest[..at]);
        let after = &rest[at + MARKER_UTF8.len()..];
        if let Some(tail) = after.strip_prefix(MARKER) {
            out.push(MARKER);
            rest = tail;
        } else if hex4(after.as_bytes(), 0).is_some() {
            out.push_str("\\u");
            out.push_str(&after[..4]);
            rest = &after[4..];
        } else {
            out.push(MARKER);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Maps a 1-based byte column of an error in the encoded form of `original_line` (one line of
/// the original text: JSON strings never span lines, so lines encode alone) back to the column
/// in the original line.
pub fn original_column(original_line: &str, encoded_column: usize) -> usize {
    let boundaries: Vec<usize> =
        original_line.char_indices().map(|(i, _)| i).chain(std::iter::once(original_line.len())).collect();
    // The shortest prefix whose encoding reaches the column (encoded lengths only grow).
    let reached = boundaries.partition_point(|&p| encode(&original_line[..p]).len() < encoded_column);
    boundaries.get(reached).map_or(encoded_column, |&p| p.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn round_trip(text: &str) -> String {
        let encoded = encode(text);
        let v: Value = serde_json::from_str(&encoded).unwrap_or_else(|e| panic!("{text}: {e} in {encoded}"));
        decode(serde_json::to_string(&v).unwrap())
    }

    #[test]
    fn lone_surrogates_and_the_marker_round_trip() {
        for (text, back) in [
            (r#""\ud83d""#, r#""\ud83d""#),
            (r#""\uDE00""#, r#""\ude00""#),
            (r#""a\ud83d\ude00\ud83d""#, "\"a\u{1F600}\\ud83d\""),
            (r#""\ud83d\ud83d\ude00""#, "\"\\ud83d\u{1F600}\""),
            (r#""\ude00\ud83d""#, r#""\ude00\ud83d""#),
            ("\"\u{FDD0}d83d\"", "\"\u{FDD0}d83d\""),
            (r#""\ufdd0\ud800""#, "\"\u{FDD0}\\ud800\""),
            (r#"{"\ud800":["\udfff",{"k":"\\ud800"}]}"#, r#"{"\ud800":["\udfff",{"k":"\\ud800"}]}"#),
        ] {
            assert_eq!(round_trip(text), back, "{text}");
        }
    }

    #[test]
    fn the_common_path_is_borrowed() {
        for text in [r#"{"a":"\u00e9 \ud83d\ude00 \\ud800 \"x\""}"#, "[1,2]", r#""\\\\uD""#] {
            assert!(matches!(encode(text), Cow::Borrowed(_)) || encode(text) == text, "{text}");
        }
        assert!(matches!(encode(r#"{"a":"\n\"x\u0041"}"#), Cow::Borrowed(_)));
        assert_eq!(decode("plain".to_string()), "plain");
    }

    #[test]
    fn escaped_backslashes_and_text_outside_strings_are_not_escapes() {
        assert_eq!(encode(r#"["\\ud800"]"#), r#"["\\ud800"]"#);
        assert_eq!(encode(r#"["\\\ud800"]"#), "[\"\\\\\u{FDD0}d800\"]");
        // Outside a string nothing is rewritten: serde_json reports it.
        assert_eq!(encode(r#"[\ud800]"#), r#"[\ud800]"#);
    }

    #[test]
    fn error_columns_map_back_to_the_original_line() {
        let line = r#"["\ud83d", "\ud83d", x]"#;
        let encoded = encode(line);
        let e = serde_json::from_str::<Value>(&encoded).unwrap_err();
        let col = original_column(line, e.column());
        assert_eq!(&line[col - 1..col], "x", "encoded column {}", e.column());
    }
}
