//! Errors. Every problem with the data names the KV key, the JSON pointer and what was expected.

use std::fmt;

/// Bad data in a KV value. Nothing is written when one is returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataError {
    /// The KV key whose value is at fault.
    pub kv_key: String,
    /// RFC 6901 pointer into the (upgraded) value; `/` is the value itself.
    pub pointer: String,
    /// What the mapping expected there.
    pub expected: String,
    /// What was found instead.
    pub found: String,
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: expected {}, found {}", self.kv_key, self.pointer, self.expected, self.found)
    }
}

impl std::error::Error for DataError {}

/// A failure of the database itself, or a stored row that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    /// `sql` is the statement (or a short excerpt of it); empty when there is none to show.
    #[error("SQL error: {message}{}", in_statement(.sql))]
    Sql { sql: String, message: String },
    #[error("column `{column}`: {message}")]
    Decode { column: String, message: String },
}

/// ` (in `<statement>`)`, or nothing when there is no statement.
fn in_statement(sql: &str) -> String {
    if sql.trim().is_empty() {
        String::new()
    } else {
        format!(" (in `{sql}`)")
    }
}

/// Any error of a migration, export or verification.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Data(#[from] DataError),
    #[error("{0}")]
    Db(#[from] DbError),
    #[error("{kv_key}: the value is not valid JSON: {message} (line {line}, column {column})")]
    Json { kv_key: String, message: String, line: usize, column: usize },
    #[error("{kv_key}: the value is not valid UTF-8 ({message})")]
    Utf8 { kv_key: String, message: String },
    #[error("dump: {0}")]
    Dump(String),
    #[error("schema: {0}")]
    Schema(String),
    /// A file or path given on the command line that cannot be used as given.
    #[error("{0}")]
    File(String),
    #[error("table `{table}`: stored data cannot be exported: {message}")]
    Export { table: String, message: String },
    /// Extraction stopped because writing had failed; the writer's error is the one reported.
    #[error("stopped: writing had failed")]
    Stopped,
}

impl Error {
    /// A value of `kv_key` that serde_json could not parse.
    pub fn json(kv_key: &str, e: &serde_json::Error) -> Error {
        Error::Json { kv_key: kv_key.to_string(), message: e.to_string(), line: e.line(), column: e.column() }
    }

    /// [`Error::json`] for the whole of `text`, naming a byte order mark that starts it (JSON
    /// allows none; serde_json reports only "expected value at line 1 column 1").
    pub fn json_in(kv_key: &str, e: &serde_json::Error, text: &str) -> Error {
        let mut err = Error::json(kv_key, e);
        if let (Error::Json { message, .. }, true) = (&mut err, text.starts_with('\u{feff}')) {
            *message = "the value starts with a byte order mark (U+FEFF), which JSON does not allow; remove it \
                        from the value (or write the value again without it) and run again"
                .to_string();
        }
        err
    }

    /// A short machine-readable kind, used by `--format json` and the Worker's responses.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Data(_) => "data",
            Error::Db(_) => "database",
            Error::Json { .. } => "json",
            Error::Utf8 { .. } => "utf8",
            Error::Dump(_) => "dump",
            Error::Schema(_) => "schema",
            Error::File(_) => "file",
            Error::Export { .. } => "export",
            Error::Stopped => "stopped",
        }
    }

    /// The error as a JSON object: `{kind, message, kv_key?, pointer?, expected?, found?}`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut o = serde_json::Map::new();
        o.insert("kind".into(), self.kind().into());
        o.insert("message".into(), self.to_string().into());
        match self {
            Error::Data(d) => {
                o.insert("kv_key".into(), d.kv_key.clone().into());
                o.insert("pointer".into(), d.pointer.clone().into());
                o.insert("expected".into(), d.expected.clone().into());
                o.insert("found".into(), d.found.clone().into());
            }
            Error::Json { kv_key, .. } | Error::Utf8 { kv_key, .. } => {
                o.insert("kv_key".into(), kv_key.clone().into());
            }
            _ => {}
        }
        serde_json::Value::Object(o)
    }
}
