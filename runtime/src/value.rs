//! The values that cross the [`crate::SqlExecutor`] boundary.

use crate::error::DbError;

/// A SQLite value. Booleans are bound as the integers 0 and 1 (the Durable Object would store a
/// bound JavaScript boolean as the text `'true'`).
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
}

/// A SQLite value borrowed from a row struct: what a statement binds, without copying text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SqlRef<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'a str),
}

impl SqlValue {
    /// The value, borrowed for binding.
    pub fn as_ref(&self) -> SqlRef<'_> {
        match self {
            SqlValue::Null => SqlRef::Null,
            SqlValue::Integer(i) => SqlRef::Integer(*i),
            SqlValue::Real(f) => SqlRef::Real(*f),
            SqlValue::Text(s) => SqlRef::Text(s),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            SqlValue::Null => "NULL",
            SqlValue::Integer(_) => "INTEGER",
            SqlValue::Real(_) => "REAL",
            SqlValue::Text(_) => "TEXT",
        }
    }
}

/// Conversion between a Rust field of a generated row struct and a [`SqlValue`].
pub trait FromSql: Sized {
    fn from_sql(value: SqlValue, column: &str) -> Result<Self, DbError>;
}

/// A Rust field of a generated row struct, borrowed as the value to bind.
pub trait ToSql {
    fn to_sql(&self) -> SqlRef<'_>;
}

fn mismatch(column: &str, expected: &str, found: &SqlValue) -> DbError {
    DbError::Decode { column: column.to_string(), message: format!("expected {expected}, found {}", found.type_name()) }
}

impl FromSql for String {
    fn from_sql(value: SqlValue, column: &str) -> Result<Self, DbError> {
        match value {
            SqlValue::Text(s) => Ok(s),
            other => Err(mismatch(column, "TEXT", &other)),
        }
    }
}
impl ToSql for String {
    fn to_sql(&self) -> SqlRef<'_> {
        SqlRef::Text(self)
    }
}

impl FromSql for i64 {
    fn from_sql(value: SqlValue, column: &str) -> Result<Self, DbError> {
        match value {
            SqlValue::Integer(i) => Ok(i),
            other => Err(mismatch(column, "INTEGER", &other)),
        }
    }
}
impl ToSql for i64 {
    fn to_sql(&self) -> SqlRef<'_> {
        SqlRef::Integer(*self)
    }
}

impl FromSql for f64 {
    fn from_sql(value: SqlValue, column: &str) -> Result<Self, DbError> {
        match value {
            SqlValue::Real(f) => Ok(f),
            // SQLite stores a REAL with no fraction as an integer in some paths; accept it.
            SqlValue::Integer(i) => Ok(i as f64),
            other => Err(mismatch(column, "REAL", &other)),
        }
    }
}
impl ToSql for f64 {
    fn to_sql(&self) -> SqlRef<'_> {
        SqlRef::Real(*self)
    }
}

impl FromSql for bool {
    fn from_sql(value: SqlValue, column: &str) -> Result<Self, DbError> {
        match value {
            SqlValue::Integer(0) => Ok(false),
            SqlValue::Integer(1) => Ok(true),
            other => Err(mismatch(column, "0 or 1", &other)),
        }
    }
}
impl ToSql for bool {
    fn to_sql(&self) -> SqlRef<'_> {
        SqlRef::Integer(i64::from(*self))
    }
}

impl FromSql for SqlValue {
    fn from_sql(value: SqlValue, _column: &str) -> Result<Self, DbError> {
        Ok(value)
    }
}
impl ToSql for SqlValue {
    fn to_sql(&self) -> SqlRef<'_> {
        self.as_ref()
    }
}

impl<T: FromSql> FromSql for Option<T> {
    fn from_sql(value: SqlValue, column: &str) -> Result<Self, DbError> {
        match value {
            SqlValue::Null => Ok(None),
            other => T::from_sql(other, column).map(Some),
        }
    }
}
impl<T: ToSql> ToSql for Option<T> {
    fn to_sql(&self) -> SqlRef<'_> {
        match self {
            None => SqlRef::Null,
            Some(v) => v.to_sql(),
        }
    }
}
