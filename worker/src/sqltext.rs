//! Pure SQL-text helpers for the Durable Object executor (no JavaScript involved, so they are
//! unit-tested natively with `cargo test`).
//!
//! Two problems of the JavaScript boundary are solved here by rewriting SQL text:
//!
//! * **Binding integers.** `sql.exec()` binds a JS number as a REAL (an `ANY` column then holds
//!   5.0 for the integer 5), cannot take an integer beyond 2^53 as a number, and refuses a
//!   `BigInt` ("Cannot convert a BigInt value to a number"). So an integer is bound as its decimal
//!   text and its placeholder is rewritten to `CAST(?N AS INTEGER)`, which SQLite evaluates
//!   exactly. See [`rewrite_placeholders`].
//! * **Reading the storage class.** A row comes back as JS values: the INTEGER 4 and the REAL 4.0
//!   are both the number `4`, and an INTEGER beyond 2^53 is rounded. A query is therefore wrapped
//!   so that every INTEGER comes back as a BLOB holding its decimal digits, every REAL as a number,
//!   every TEXT as a string. See [`typed_wrapper`].

/// A placeholder found in SQL text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    /// Byte range in the SQL text.
    pub start: usize,
    pub end: usize,
    /// The 1-based parameter number SQLite gives it; `None` for named parameters (`:a`, `@a`, `$a`).
    pub number: Option<usize>,
}

/// Every placeholder outside string literals, quoted identifiers and comments, in order, with
/// SQLite's numbering: `?NNN` is parameter NNN, a bare `?` is one more than the largest number
/// assigned so far.
pub fn placeholders(sql: &str) -> Vec<Placeholder> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut largest = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < b.len() {
                    if b[i] == q {
                        if i + 1 < b.len() && b[i + 1] == q {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'[' => {
                while i < b.len() && b[i] != b']' {
                    i += 1;
                }
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 2;
            }
            b'?' => {
                let start = i;
                i += 1;
                let digits_start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let number = if i > digits_start {
                    sql[digits_start..i].parse::<usize>().unwrap_or(usize::MAX)
                } else {
                    largest + 1
                };
                largest = largest.max(number);
                out.push(Placeholder { start, end: i, number: Some(number) });
            }
            b':' | b'@' | b'$'
                if b.get(i + 1).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    && !(i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_' || b[i - 1] == b'$')) =>
            {
                let start = i;
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                out.push(Placeholder { start, end: i, number: None });
            }
            _ => i += 1,
        }
    }
    out
}

/// Rewrites the placeholders of the parameters for which `integer(n)` is true (1-based) to
/// `CAST(?n AS INTEGER)`. Named parameters cannot be matched to a position: an error.
pub fn rewrite_placeholders(sql: &str, integer: impl Fn(usize) -> bool) -> Result<String, String> {
    let mut out = String::with_capacity(sql.len() + 32);
    let mut last = 0;
    for p in placeholders(sql) {
        let Some(n) = p.number else {
            return Err(format!(
                "named parameter `{}` cannot be bound with an integer in a Durable Object (use ?N placeholders)",
                &sql[p.start..p.end]
            ));
        };
        if integer(n) {
            out.push_str(&sql[last..p.start]);
            out.push_str(&format!("CAST(?{n} AS INTEGER)"));
            last = p.end;
        }
    }
    out.push_str(&sql[last..]);
    Ok(out)
}

/// Whether a statement returns rows that can be wrapped in a common table expression.
pub fn is_select(sql: &str) -> bool {
    let s = skip_space_and_comments(sql);
    let word: String = s.chars().take_while(|c| c.is_ascii_alphabetic()).collect::<String>().to_ascii_uppercase();
    matches!(word.as_str(), "SELECT" | "WITH" | "VALUES")
}

fn skip_space_and_comments(mut s: &str) -> &str {
    loop {
        let t = s.trim_start();
        if let Some(rest) = t.strip_prefix("--") {
            s = rest.find('\n').map_or("", |i| &rest[i..]);
        } else if let Some(rest) = t.strip_prefix("/*") {
            s = rest.find("*/").map_or("", |i| &rest[i + 2..]);
        } else {
            return t;
        }
    }
}

/// The statement without trailing semicolons and whitespace (a CTE body cannot end with `;`).
pub fn strip_trailing_semicolons(sql: &str) -> &str {
    let mut s = sql.trim_end();
    while let Some(rest) = s.strip_suffix(';') {
        s = rest.trim_end();
    }
    s
}

/// `SELECT * FROM (<query>) LIMIT 0`: its cursor tells the column names without reading a row.
pub fn column_probe(sql: &str) -> String {
    format!("SELECT * FROM (\n{}\n) LIMIT 0", strip_trailing_semicolons(sql))
}

/// Wraps a query of `columns` columns so that each value comes back with its storage class
/// visible from JavaScript:
///
/// | storage class | comes back as                                     |
/// |---------------|---------------------------------------------------|
/// | INTEGER       | a BLOB holding its decimal digits (`ArrayBuffer`) |
/// | REAL          | a number                                          |
/// | TEXT          | a string                                          |
/// | NULL          | null                                              |
/// | BLOB          | an empty BLOB (the runtime has no BLOB values)    |
///
/// Placeholders keep their numbers: the query is the body of the CTE, untouched.
pub fn typed_wrapper(sql: &str, columns: usize) -> String {
    let names: Vec<String> = (0..columns).map(|i| format!("c{i}")).collect();
    let mut out =
        format!("WITH kv2sql_typed({}) AS (\n{}\n) SELECT ", names.join(", "), strip_trailing_semicolons(sql));
    for (i, c) in names.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&format!(
            "CASE typeof({c}) WHEN 'integer' THEN CAST(CAST({c} AS TEXT) AS BLOB) WHEN 'blob' THEN zeroblob(0) ELSE {c} END"
        ));
    }
    out.push_str(" FROM kv2sql_typed");
    out
}

/// Parses the digits an INTEGER was wrapped into.
pub fn parse_wrapped_integer(bytes: &[u8]) -> Option<i64> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// Integers in `[-2^53, 2^53]` cross the JavaScript boundary exactly as numbers.
pub const JS_EXACT: i64 = 1 << 53;

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(sql: &str) -> Vec<Option<usize>> {
        placeholders(sql).into_iter().map(|p| p.number).collect()
    }

    #[test]
    fn numbers_placeholders_like_sqlite() {
        assert_eq!(numbers("SELECT ?, ?, ?"), [Some(1), Some(2), Some(3)]);
        assert_eq!(numbers("SELECT ?1, ?3, ?, ?1"), [Some(1), Some(3), Some(4), Some(1)]);
        assert_eq!(numbers("SELECT '?', \"?\", `?`, [?], ? -- ?\n, /* ? */ ?2"), [Some(1), Some(2)]);
        assert_eq!(numbers("SELECT 'it''s ?', ?"), [Some(1)]);
        assert_eq!(numbers("SELECT :a, @b, $c"), [None, None, None]);
        assert_eq!(numbers("SELECT a$b, ?"), [Some(1)]);
    }

    #[test]
    fn rewrites_only_integer_parameters() {
        let sql = "INSERT INTO t (a, b, c) VALUES (?1, ?2, ?3) ON CONFLICT DO UPDATE SET c = ?3";
        assert_eq!(
            rewrite_placeholders(sql, |n| n == 3).unwrap(),
            "INSERT INTO t (a, b, c) VALUES (?1, ?2, CAST(?3 AS INTEGER)) ON CONFLICT DO UPDATE SET c = CAST(?3 AS INTEGER)"
        );
        assert_eq!(rewrite_placeholders("SELECT ?, '?', ?", |n| n == 2).unwrap(), "SELECT ?, '?', CAST(?2 AS INTEGER)");
        assert_eq!(rewrite_placeholders(sql, |_| false).unwrap(), sql);
        assert!(rewrite_placeholders("SELECT :a", |_| true).is_err());
    }

    #[test]
    fn recognises_queries() {
        assert!(is_select("  select 1"));
        assert!(is_select("-- c\n/* d */ WITH x AS (SELECT 1) SELECT * FROM x"));
        assert!(is_select("VALUES (1)"));
        assert!(!is_select("INSERT INTO t VALUES (1) RETURNING id"));
        assert!(!is_select("PRAGMA table_info(t)"));
    }

    #[test]
    fn wraps_queries() {
        assert_eq!(strip_trailing_semicolons("SELECT 1 ; ;\n"), "SELECT 1");
        let w = typed_wrapper("SELECT a, b FROM t WHERE a = ?1;", 2);
        assert!(
            w.starts_with("WITH kv2sql_typed(c0, c1) AS (\nSELECT a, b FROM t WHERE a = ?1\n) SELECT CASE typeof(c0)")
        );
        assert!(w.ends_with(" FROM kv2sql_typed"));
        assert_eq!(parse_wrapped_integer(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_wrapped_integer(b""), None);
    }
}
