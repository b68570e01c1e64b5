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
    /// Something other than a migration wrote to the tables since the last migration.
    #[error(
        "the tables were written outside a migration since the last one ({}): a migration would \
         overwrite those writes, so it was refused. If the app now writes to these tables, record the cutover (`kv2sql cutover`, \
         Worker: POST /api/cutover) and stop migrating; to overwrite them with the KV data \
         deliberately, run again with --force (Worker: ?force=1)",
        crate::lifecycle::describe(tables)
    )]
    Diverged { tables: Vec<crate::lifecycle::Divergence> },
    /// The database was cut over to the app: migrations are refused, even forced ones.
    #[error(
        "the database was cut over to the app{}: migrations are refused, even with --force, so that \
         the app's writes are never overwritten. To migrate again, undo the cutover first (`kv2sql \
         cutover --undo`, Worker: DELETE /api/cutover)",
        at.as_deref().map(|a| format!(" at {a}")).unwrap_or_default()
    )]
    CutOver { at: Option<String> },
    /// A lifecycle command that does not apply to the database's phase.
    #[error("{0}")]
    Lifecycle(String),
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
            Error::Diverged { .. } => "diverged",
            Error::CutOver { .. } => "cut_over",
            Error::Lifecycle(_) => "lifecycle",
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
            Error::Diverged { tables } => {
                o.insert("tables".into(), serde_json::to_value(tables).unwrap_or_default());
            }
            Error::CutOver { at } => {
                o.insert("cut_over_at".into(), at.clone().into());
            }
            _ => {}
        }
        serde_json::Value::Object(o)
    }
}
