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

impl SqlValue {
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

/// Conversion of a Rust field of a generated row struct into a [`SqlValue`].
pub trait ToSql {
    fn to_sql(&self) -> SqlValue;
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
    fn to_sql(&self) -> SqlValue {
        SqlValue::Text(self.clone())
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
    fn to_sql(&self) -> SqlValue {
        SqlValue::Integer(*self)
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
    fn to_sql(&self) -> SqlValue {
        SqlValue::Real(*self)
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
    fn to_sql(&self) -> SqlValue {
        SqlValue::Integer(i64::from(*self))
    }
}

impl FromSql for SqlValue {
    fn from_sql(value: SqlValue, _column: &str) -> Result<Self, DbError> {
        Ok(value)
    }
}
impl ToSql for SqlValue {
    fn to_sql(&self) -> SqlValue {
        self.clone()
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
    fn to_sql(&self) -> SqlValue {
        match self {
            None => SqlValue::Null,
            Some(v) => v.to_sql(),
        }
    }
}
