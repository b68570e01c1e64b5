//! Typed extraction of JSON values into column values, and the reverse.
//!
//! Generated `extract_*` functions call these helpers once per column. Each helper checks the
//! JSON type, the mapping's presence rules (`optional`: the field may be absent; `nullable`: it
//! may be `null`) and the Durable Object's limits, and fails with a [`DataError`] that names the
//! KV key, the JSON pointer and what was expected. Nothing is coerced: a number that would not
//! come back with the same digits is refused rather than rounded.

use serde_json::{Map, Number, Value};

use crate::error::{DataError, DbError};
use crate::path::Path;
use crate::surrogate;
use crate::value::{FromSql, SqlRef, SqlValue, ToSql};

/// The largest string, BLOB or row a Durable Object's SQLite accepts.
pub const MAX_VALUE_BYTES: usize = 2_000_000;

/// Extraction context: which KV key is being read.
#[derive(Debug, Clone, Copy)]
pub struct Cx<'a> {
    pub kv_key: &'a str,
}

impl Cx<'_> {
    pub fn error(&self, path: &Path<'_>, expected: impl Into<String>, found: impl Into<String>) -> DataError {
        DataError {
            kv_key: self.kv_key.to_string(),
            pointer: path.pointer(),
            expected: expected.into(),
            found: found.into(),
        }
    }
}

/// A short description of a JSON value for error messages.
pub fn describe(v: &Value) -> String {
    fn clip(s: &str) -> String {
        let mut out: String = s.chars().take(40).collect();
        if out.len() < s.len() {
            out.push('…');
        }
        out
    }
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {}", clip(&n.to_string())),
        Value::String(s) => format!("string {:?}", clip(s)),
        Value::Array(a) => format!("an array of {} elements", a.len()),
        Value::Object(o) => format!("an object with {} fields", o.len()),
    }
}

/// Whether a field, object or array is there, `null`, or absent. Stored in `*_shape` columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    Present,
    Null,
    Absent,
}

impl Shape {
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Present => "present",
            Shape::Null => "null",
            Shape::Absent => "absent",
        }
    }
}

impl ToSql for Shape {
    fn to_sql(&self) -> SqlRef<'_> {
        SqlRef::Text(self.as_str())
    }
}

impl FromSql for Shape {
    fn from_sql(value: SqlValue, column: &str) -> Result<Self, DbError> {
        match &value {
            SqlValue::Text(s) if s == "present" => Ok(Shape::Present),
            SqlValue::Text(s) if s == "null" => Ok(Shape::Null),
            SqlValue::Text(s) if s == "absent" => Ok(Shape::Absent),
            other => Err(DbError::Decode {
                column: column.to_string(),
                message: format!("expected 'present', 'null' or 'absent', found {other:?}"),
            }),
        }
    }
}

/// A Rust type that a column of a given mapping type holds.
pub trait JsonColumn: Sized + Clone + PartialEq + ToSql + FromSql {
    /// What the mapping expects, for error messages ("a string", "an integer", …).
    const EXPECTED: &'static str;
    fn from_json(v: &Value, cx: &Cx<'_>, path: &Path<'_>) -> Result<Self, DataError>;
    fn to_json(&self) -> Result<Value, String>;
}

fn check_len(len: usize, cx: &Cx<'_>, path: &Path<'_>) -> Result<(), DataError> {
    if len > MAX_VALUE_BYTES {
        return Err(cx.error(
            path,
            format!("at most {MAX_VALUE_BYTES} bytes (the Durable Object's limit for one string)"),
            format!("{len} bytes"),
        ));
    }
    Ok(())
}

impl JsonColumn for String {
    const EXPECTED: &'static str = "a string";
    fn from_json(v: &Value, cx: &Cx<'_>, path: &Path<'_>) -> Result<Self, DataError> {
        match v {
            Value::String(s) => {
                check_len(s.len(), cx, path)?;
                Ok(s.clone())
            }
            other => Err(cx.error(path, Self::EXPECTED, describe(other))),
        }
    }
    fn to_json(&self) -> Result<Value, String> {
        Ok(Value::String(self.clone()))
    }
}

/// An integer that SQLite's INTEGER holds exactly, written with exactly these digits.
fn exact_i64(n: &Number) -> Option<i64> {
    let i = n.as_i64()?;
    (i.to_string() == n.to_string()).then_some(i)
}

/// A float whose shortest round-trip text is the text it was written with.
fn exact_f64(n: &Number) -> Option<f64> {
    if n.is_i64() || n.is_u64() {
        return None;
    }
    let f = n.as_f64()?;
    if !f.is_finite() {
        return None;
    }
    let back = Number::from_f64(f)?;
    (back.to_string() == n.to_string()).then_some(f)
}

fn integer_problem(n: &Number) -> String {
    let text = n.to_string();
    if n.is_u64() || (!text.contains(['.', 'e', 'E']) && n.as_i64().is_none()) {
        format!("number {text}, outside SQLite's 64-bit integer range (use type `json` to keep it verbatim)")
    } else {
        format!("number {text}")
    }
}

impl JsonColumn for i64 {
    const EXPECTED: &'static str = "an integer";
    fn from_json(v: &Value, cx: &Cx<'_>, path: &Path<'_>) -> Result<Self, DataError> {
        match v {
            Value::Number(n) => exact_i64(n).ok_or_else(|| cx.error(path, Self::EXPECTED, integer_problem(n))),
            other => Err(cx.error(path, Self::EXPECTED, describe(other))),
        }
    }
    fn to_json(&self) -> Result<Value, String> {
        Ok(Value::Number((*self).into()))
    }
}

impl JsonColumn for f64 {
    const EXPECTED: &'static str =
        "a number with a fraction or exponent that round-trips exactly (type `number` also keeps integers)";
    fn from_json(v: &Value, cx: &Cx<'_>, path: &Path<'_>) -> Result<Self, DataError> {
        match v {
            Value::Number(n) => exact_f64(n).ok_or_else(|| cx.error(path, Self::EXPECTED, describe(v))),
            other => Err(cx.error(path, Self::EXPECTED, describe(other))),
        }
    }
    fn to_json(&self) -> Result<Value, String> {
        finite(*self)
    }
}

impl JsonColumn for bool {
    const EXPECTED: &'static str = "a boolean";
    fn from_json(v: &Value, cx: &Cx<'_>, path: &Path<'_>) -> Result<Self, DataError> {
        match v {
            Value::Bool(b) => Ok(*b),
            other => Err(cx.error(path, Self::EXPECTED, describe(other))),
        }
    }
    fn to_json(&self) -> Result<Value, String> {
        Ok(Value::Bool(*self))
    }
}

/// A float as a JSON number (NaN and infinities have none).
fn finite(f: f64) -> Result<Value, String> {
    Number::from_f64(f).map(Value::Number).ok_or_else(|| format!("{f} is not a finite number"))
}

fn sql_to_json(v: &SqlValue) -> Result<Value, String> {
    match v {
        SqlValue::Null => Ok(Value::Null),
        SqlValue::Integer(i) => Ok(Value::Number((*i).into())),
        SqlValue::Real(f) => finite(*f),
        SqlValue::Text(s) => Ok(Value::String(s.clone())),
    }
}

fn number_from_json(n: &Number) -> Option<SqlValue> {
    exact_i64(n).map(SqlValue::Integer).or_else(|| exact_f64(n).map(SqlValue::Real))
}

/// Mapping type `number`: an integer or a float, stored as SQLite INTEGER or REAL, so that
/// `4` and `4.5` both come back exactly as written.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonNumber(pub SqlValue);

impl JsonColumn for JsonNumber {
    const EXPECTED: &'static str = "a number that SQLite holds exactly (64-bit integer, or a float that round-trips)";
    fn from_json(v: &Value, cx: &Cx<'_>, path: &Path<'_>) -> Result<Self, DataError> {
        match v {
            Value::Number(n) => {
                number_from_json(n).map(JsonNumber).ok_or_else(|| cx.error(path, Self::EXPECTED, integer_problem(n)))
            }
            other => Err(cx.error(path, Self::EXPECTED, describe(other))),
        }
    }
    fn to_json(&self) -> Result<Value, String> {
        sql_to_json(&self.0)
    }
}

impl ToSql for JsonNumber {
    fn to_sql(&self) -> SqlRef<'_> {
        self.0.as_ref()
    }
}
impl FromSql for JsonNumber {
    fn from_sql(value: SqlValue, column: &str) -> Result<Self, DbError> {
        match value {
            SqlValue::Integer(_) | SqlValue::Real(_) => Ok(JsonNumber(value)),
            other => Err(DbError::Decode {
                column: column.into(),
                message: format!("expected INTEGER or REAL, found {}", other.type_name()),
            }),
        }
    }
}

/// Mapping type `any`: a string or a number, stored with its own SQLite type (TEXT, INTEGER or
/// REAL), so `"5"` and `5` stay different. Used for ids that a source stores as either.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonAny(pub SqlValue);

impl JsonColumn for JsonAny {
    const EXPECTED: &'static str = "a string or a number";
    fn from_json(v: &Value, cx: &Cx<'_>, path: &Path<'_>) -> Result<Self, DataError> {
        match v {
            Value::String(s) => {
                check_len(s.len(), cx, path)?;
                Ok(JsonAny(SqlValue::Text(s.clone())))
            }
            Value::Number(n) => {
                number_from_json(n).map(JsonAny).ok_or_else(|| cx.error(path, Self::EXPECTED, integer_problem(n)))
            }
            other => Err(cx.error(path, Self::EXPECTED, describe(other))),
        }
    }
    fn to_json(&self) -> Result<Value, String> {
        sql_to_json(&self.0)
    }
}

impl ToSql for JsonAny {
    fn to_sql(&self) -> SqlRef<'_> {
        self.0.as_ref()
    }
}
impl FromSql for JsonAny {
    fn from_sql(value: SqlValue, column: &str) -> Result<Self, DbError> {
        match value {
            SqlValue::Null => Err(DbError::Decode { column: column.into(), message: "unexpected NULL".into() }),
            v => Ok(JsonAny(v)),
        }
    }
}

/// Mapping type `json`: any JSON value kept verbatim as text (numbers keep every digit).
#[derive(Debug, Clone, PartialEq)]
pub struct Json(pub String);

impl JsonColumn for Json {
    const EXPECTED: &'static str = "any JSON value";
    fn from_json(v: &Value, cx: &Cx<'_>, path: &Path<'_>) -> Result<Self, DataError> {
        let text = serde_json::to_string(v).map_err(|e| cx.error(path, "serialisable JSON", e.to_string()))?;
        check_len(text.len(), cx, path)?;
        Ok(Json(text))
    }
    fn to_json(&self) -> Result<Value, String> {
        serde_json::from_str(&self.0).map_err(|e| format!("stored JSON does not parse: {e}"))
    }
}

impl ToSql for Json {
    fn to_sql(&self) -> SqlRef<'_> {
        SqlRef::Text(&self.0)
    }
}
impl FromSql for Json {
    fn from_sql(value: SqlValue, column: &str) -> Result<Self, DbError> {
        String::from_sql(value, column).map(Json)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading fields.

/// A field of an object: absent, `null`, or a value.
#[derive(Debug, Clone, Copy)]
pub enum Field<'v> {
    Absent,
    Null,
    Value(&'v Value),
}

pub fn field<'v>(obj: &'v Map<String, Value>, name: &str) -> Field<'v> {
    match obj.get(name) {
        None => Field::Absent,
        Some(Value::Null) => Field::Null,
        Some(v) => Field::Value(v),
    }
}

const ABSENT: &str = "nothing (the field is absent)";

fn required_msg(expected: &str) -> String {
    format!("{expected} (the field is required; `optional: true` in mapping.yaml allows absence)")
}

fn non_null_msg(expected: &str) -> String {
    format!("{expected} (not null; `nullable: true` in mapping.yaml allows null)")
}

/// A required, non-null field.
pub fn req<T: JsonColumn>(obj: &Map<String, Value>, name: &str, cx: &Cx<'_>, path: &Path<'_>) -> Result<T, DataError> {
    let p = path.key(name);
    match field(obj, name) {
        Field::Absent => Err(cx.error(&p, required_msg(T::EXPECTED), ABSENT)),
        Field::Null => Err(cx.error(&p, non_null_msg(T::EXPECTED), "null")),
        Field::Value(v) => T::from_json(v, cx, &p),
    }
}

/// A field that must be there but may be `null` (`nullable: true`).
pub fn nullable<T: JsonColumn>(
    obj: &Map<String, Value>,
    name: &str,
    cx: &Cx<'_>,
    path: &Path<'_>,
) -> Result<Option<T>, DataError> {
    let p = path.key(name);
    match field(obj, name) {
        Field::Absent => Err(cx.error(&p, required_msg(T::EXPECTED), ABSENT)),
        Field::Null => Ok(None),
        Field::Value(v) => T::from_json(v, cx, &p).map(Some),
    }
}

/// A field that may be absent but not `null` (`optional: true`). NULL in the column = absent.
pub fn optional<T: JsonColumn>(
    obj: &Map<String, Value>,
    name: &str,
    cx: &Cx<'_>,
    path: &Path<'_>,
) -> Result<Option<T>, DataError> {
    let p = path.key(name);
    match field(obj, name) {
        Field::Absent => Ok(None),
        Field::Null => Err(cx.error(&p, non_null_msg(T::EXPECTED), "null")),
        Field::Value(v) => T::from_json(v, cx, &p).map(Some),
    }
}

/// A field that may be absent or `null` (`optional: true, nullable: true`). Returns the value
/// and whether the field was absent (stored in the `<column>_absent` companion column).
pub fn tri<T: JsonColumn>(
    obj: &Map<String, Value>,
    name: &str,
    cx: &Cx<'_>,
    path: &Path<'_>,
) -> Result<(Option<T>, bool), DataError> {
    let p = path.key(name);
    match field(obj, name) {
        Field::Absent => Ok((None, true)),
        Field::Null => Ok((None, false)),
        Field::Value(v) => T::from_json(v, cx, &p).map(|t| (Some(t), false)),
    }
}

/// An optional+nullable `json` column: SQL NULL = absent, the text `null` = null.
pub fn json_tri(obj: &Map<String, Value>, name: &str, cx: &Cx<'_>, path: &Path<'_>) -> Result<Option<Json>, DataError> {
    match obj.get(name) {
        None => Ok(None),
        Some(v) => Json::from_json(v, cx, &path.key(name)).map(Some),
    }
}

/// A shape and, when present, the container.
pub type Shaped<'v, T> = (Shape, Option<&'v T>);

/// A field holding an object or array (`what`, picked out by `pick`): its shape, and the
/// container when present, following the presence rules.
#[allow(clippy::too_many_arguments)]
fn shaped<'v, T>(
    obj: &'v Map<String, Value>,
    name: &str,
    optional: bool,
    nullable: bool,
    what: &str,
    pick: fn(&'v Value) -> Option<&'v T>,
    cx: &Cx<'_>,
    path: &Path<'_>,
) -> Result<Shaped<'v, T>, DataError> {
    let p = path.key(name);
    match field(obj, name) {
        Field::Absent if optional => Ok((Shape::Absent, None)),
        Field::Absent => Err(cx.error(&p, required_msg(what), ABSENT)),
        Field::Null if nullable => Ok((Shape::Null, None)),
        Field::Null => Err(cx.error(&p, non_null_msg(what), "null")),
        Field::Value(v) => match pick(v) {
            Some(c) => Ok((Shape::Present, Some(c))),
            None => Err(cx.error(&p, what, describe(v))),
        },
    }
}

/// An embedded object (`object:` group): its shape, and the object when present.
pub fn object<'v>(
    obj: &'v Map<String, Value>,
    name: &str,
    optional: bool,
    nullable: bool,
    cx: &Cx<'_>,
    path: &Path<'_>,
) -> Result<Shaped<'v, Map<String, Value>>, DataError> {
    shaped(obj, name, optional, nullable, "an object", Value::as_object, cx, path)
}

/// A required, non-null embedded object.
pub fn req_object<'v>(
    obj: &'v Map<String, Value>,
    name: &str,
    cx: &Cx<'_>,
    path: &Path<'_>,
) -> Result<&'v Map<String, Value>, DataError> {
    match object(obj, name, false, false, cx, path)? {
        (_, Some(o)) => Ok(o),
        (_, None) => Err(cx.error(&path.key(name), "an object", ABSENT)),
    }
}

/// An array that feeds a child table (`array:`): its shape, and the array when present.
pub fn array<'v>(
    obj: &'v Map<String, Value>,
    name: &str,
    optional: bool,
    nullable: bool,
    cx: &Cx<'_>,
    path: &Path<'_>,
) -> Result<Shaped<'v, Vec<Value>>, DataError> {
    shaped(obj, name, optional, nullable, "an array", Value::as_array, cx, path)
}

/// An object whose entries feed a child table (`entries:`): its shape, and the object.
pub fn entries<'v>(
    obj: &'v Map<String, Value>,
    name: &str,
    optional: bool,
    nullable: bool,
    cx: &Cx<'_>,
    path: &Path<'_>,
) -> Result<Shaped<'v, Map<String, Value>>, DataError> {
    object(obj, name, optional, nullable, cx, path)
}

/// An element of an array, or an entry value, that must be an object.
pub fn as_object<'v>(v: &'v Value, cx: &Cx<'_>, path: &Path<'_>) -> Result<&'v Map<String, Value>, DataError> {
    match v {
        Value::Object(o) => Ok(o),
        other => Err(cx.error(path, "an object", describe(other))),
    }
}

/// A value (array element or map entry value) that feeds a `from: value` column.
pub fn value<T: JsonColumn>(v: &Value, nullable: bool, cx: &Cx<'_>, path: &Path<'_>) -> Result<Option<T>, DataError> {
    match v {
        Value::Null if nullable => Ok(None),
        Value::Null => Err(cx.error(path, non_null_msg(T::EXPECTED), "null")),
        v => T::from_json(v, cx, path).map(Some),
    }
}

/// A non-null `from: value` column.
pub fn value_req<T: JsonColumn>(v: &Value, cx: &Cx<'_>, path: &Path<'_>) -> Result<T, DataError> {
    match v {
        Value::Null => Err(cx.error(path, non_null_msg(T::EXPECTED), "null")),
        v => T::from_json(v, cx, path),
    }
}

/// The position of an element in its array, as stored in a `from: position` column.
pub fn position(index: usize) -> i64 {
    i64::try_from(index).expect("array index fits i64")
}

/// Parses a KV value. JSON that does not parse (malformed, truncated, nested deeper than 128
/// levels) is an error naming the key and the place. Lone UTF-16 surrogate escapes are kept
/// (see [`crate::surrogate`]).
pub fn parse(kv_key: &str, text: &str) -> Result<Value, crate::Error> {
    let encoded = surrogate::encode(text);
    serde_json::from_str(&encoded).map_err(|e| json_error(kv_key, text, &encoded, &e))
}

/// Parses JSON text that kv2sql wrote (an exported value), lone surrogate escapes included.
pub fn from_text(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str(&surrogate::encode(text))
}

/// The error serde_json found in `encoded`, the encoded form of the KV value `text`, placed
/// (line and column) in `text` itself.
pub fn json_error(kv_key: &str, text: &str, encoded: &str, e: &serde_json::Error) -> crate::Error {
    let (line, column) = (e.line(), e.column());
    let mut message = e.to_string();
    let suffix = format!(" at line {line} column {column}");
    if line == 0 || text.len() == encoded.len() || !message.ends_with(&suffix) || text.starts_with('\u{feff}') {
        return crate::Error::json_in(kv_key, e, text);
    }
    let original_line = text.split('\n').nth(line - 1).unwrap_or("");
    let column = surrogate::original_column(original_line, column);
    message.truncate(message.len() - suffix.len());
    message.push_str(&format!(" at line {line} column {column}"));
    crate::Error::Json { kv_key: kv_key.to_string(), message, line, column }
}

/// Compact JSON text, as `JSON.stringify` writes it (lone surrogates as escapes again).
pub fn to_text(v: &Value) -> String {
    surrogate::decode(serde_json::to_string(v).expect("a JSON value serialises"))
}

/// Records a row's primary key while extracting; a key seen before is an error naming both
/// places.
pub fn claim_key<K: std::hash::Hash + Eq + std::fmt::Debug>(
    seen: &mut std::collections::HashMap<K, String>,
    key: K,
    table: &str,
    cx: &Cx<'_>,
    path: &Path<'_>,
) -> Result<(), DataError> {
    use std::collections::hash_map::Entry;
    match seen.entry(key) {
        Entry::Vacant(v) => {
            v.insert(path.pointer());
            Ok(())
        }
        Entry::Occupied(o) => Err(cx.error(
            path,
            format!("a unique primary key in table `{table}` (the key {:?} is already used at {})", o.key(), o.get()),
            "a duplicate",
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Unknown fields.

/// Collects the fields the mapping does not know, at the row's top level and inside its
/// embedded objects, into one JSON object kept in the row's `extra_fields` column.
#[derive(Debug, Default)]
pub struct Extra {
    map: Map<String, Value>,
}

impl Extra {
    /// Records the fields of `obj` that are not in `known`; `at` is the key path of the embedded
    /// object inside the row (empty for the row itself).
    pub fn collect(&mut self, at: &[&str], obj: &Map<String, Value>, known: &[&str]) {
        let mut target = &mut self.map;
        let mut unknown = obj.iter().filter(|(k, _)| !known.contains(&k.as_str())).peekable();
        if unknown.peek().is_none() {
            return;
        }
        for seg in at {
            let entry = target.entry((*seg).to_string()).or_insert_with(|| Value::Object(Map::new()));
            target = entry.as_object_mut().expect("extra path segments are objects");
        }
        for (k, v) in unknown {
            target.insert(k.clone(), v.clone());
        }
    }

    /// Fails on the first unknown field (`unknown_fields: reject`).
    pub fn reject(obj: &Map<String, Value>, known: &[&str], cx: &Cx<'_>, path: &Path<'_>) -> Result<(), DataError> {
        match obj.keys().find(|k| !known.contains(&k.as_str())) {
            None => Ok(()),
            Some(k) => Err(cx.error(
                &path.key(k),
                format!("only the fields {known:?} (this source has `unknown_fields: reject`)"),
                "an unknown field",
            )),
        }
    }

    pub fn finish(self, cx: &Cx<'_>, path: &Path<'_>) -> Result<Option<Json>, DataError> {
        if self.map.is_empty() {
            return Ok(None);
        }
        Json::from_json(&Value::Object(self.map), cx, path).map(Some)
    }
}

/// Merges the unknown fields kept in `extra_fields` back into a rebuilt object.
pub fn merge_extra(target: &mut Map<String, Value>, extra: &Option<Json>) -> Result<(), String> {
    let Some(extra) = extra else { return Ok(()) };
    match extra.to_json()? {
        Value::Object(m) => {
            merge_into(target, m);
            Ok(())
        }
        other => Err(format!("extra_fields holds {}, expected an object", describe(&other))),
    }
}

fn merge_into(target: &mut Map<String, Value>, extra: Map<String, Value>) {
    for (k, v) in extra {
        match (target.get_mut(&k), v) {
            (Some(Value::Object(t)), Value::Object(e)) => merge_into(t, e),
            (_, v) => {
                target.insert(k, v);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writing fields back.

pub fn put<T: JsonColumn>(o: &mut Map<String, Value>, name: &str, v: &T) -> Result<(), String> {
    o.insert(name.to_string(), v.to_json()?);
    Ok(())
}

/// A column that is NULL only because an enclosing object may be missing: inside a present
/// object it must hold a value.
pub fn put_some<T: JsonColumn>(
    o: &mut Map<String, Value>,
    name: &str,
    v: &Option<T>,
    column: &str,
) -> Result<(), String> {
    match v {
        Some(v) => put(o, name, v),
        None => Err(format!("column `{column}` is NULL but its object is present")),
    }
}

/// `nullable`: None is `null`.
pub fn put_nullable<T: JsonColumn>(o: &mut Map<String, Value>, name: &str, v: &Option<T>) -> Result<(), String> {
    match v {
        Some(v) => put(o, name, v),
        None => {
            o.insert(name.to_string(), Value::Null);
            Ok(())
        }
    }
}

/// `optional`: None is absent.
pub fn put_optional<T: JsonColumn>(o: &mut Map<String, Value>, name: &str, v: &Option<T>) -> Result<(), String> {
    match v {
        Some(v) => put(o, name, v),
        None => Ok(()),
    }
}

/// `optional` and `nullable`: absent when the companion flag says so, else the value or `null`.
pub fn put_tri<T: JsonColumn>(
    o: &mut Map<String, Value>,
    name: &str,
    v: &Option<T>,
    absent: bool,
) -> Result<(), String> {
    if absent {
        return match v {
            None => Ok(()),
            Some(_) => Err(format!("field `{name}` is marked absent but has a value")),
        };
    }
    put_nullable(o, name, v)
}

/// Builds a JSON value from a stored `from: value` column (array element or map entry value).
pub fn value_to_json<T: JsonColumn>(v: &Option<T>) -> Result<Value, String> {
    match v {
        Some(v) => v.to_json(),
        None => Ok(Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cx() -> Cx<'static> {
        Cx { kv_key: "k" }
    }

    fn num(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn integers_keep_every_digit_or_fail() {
        let p = Path::ROOT;
        assert_eq!(i64::from_json(&num("9007199254740993"), &cx(), &p).unwrap(), 9007199254740993);
        assert_eq!(i64::from_json(&num("-9223372036854775808"), &cx(), &p).unwrap(), i64::MIN);
        let e = i64::from_json(&num("9223372036854775808"), &cx(), &p).unwrap_err();
        assert!(e.found.contains("outside SQLite's 64-bit integer range"), "{e}");
        assert!(i64::from_json(&num("5.0"), &cx(), &p).is_err());
        assert!(i64::from_json(&json!("5"), &cx(), &p).is_err());
    }

    #[test]
    fn numbers_keep_integer_versus_float() {
        let p = Path::ROOT;
        let four = JsonNumber::from_json(&num("4"), &cx(), &p).unwrap();
        let four_half = JsonNumber::from_json(&num("4.5"), &cx(), &p).unwrap();
        assert_eq!(four.0, SqlValue::Integer(4));
        assert_eq!(four_half.0, SqlValue::Real(4.5));
        assert_eq!(four.to_json().unwrap().to_string(), "4");
        assert_eq!(four_half.to_json().unwrap().to_string(), "4.5");
        let four_point_zero = JsonNumber::from_json(&num("4.0"), &cx(), &p).unwrap();
        assert_eq!(four_point_zero.to_json().unwrap().to_string(), "4.0");
        // A float written with more digits than it holds would lose them: refused.
        assert!(JsonNumber::from_json(&num("0.30000000000000001"), &cx(), &p).is_err());
        assert!(JsonNumber::from_json(&num("1e400"), &cx(), &p).is_err());
    }

    #[test]
    fn any_keeps_string_and_number_apart() {
        let p = Path::ROOT;
        assert_eq!(JsonAny::from_json(&json!("5"), &cx(), &p).unwrap().0, SqlValue::Text("5".into()));
        assert_eq!(JsonAny::from_json(&json!(5), &cx(), &p).unwrap().0, SqlValue::Integer(5));
        assert!(JsonAny::from_json(&json!(true), &cx(), &p).is_err());
    }

    #[test]
    fn json_keeps_huge_numbers_verbatim() {
        let v = num(r#"{"n": 123456789012345678901234567890, "f": 1.10}"#);
        let j = Json::from_json(&v, &cx(), &Path::ROOT).unwrap();
        assert_eq!(j.0, r#"{"n":123456789012345678901234567890,"f":1.10}"#);
        assert_eq!(j.to_json().unwrap(), v);
    }

    #[test]
    fn presence_rules_name_the_path() {
        let obj = json!({"a": null, "b": 1});
        let o = obj.as_object().unwrap();
        let root = Path::ROOT;
        let items = root.key("items");
        let p = items.index(3);
        let e = req::<i64>(o, "a", &cx(), &p).unwrap_err();
        assert_eq!(e.pointer, "/items/3/a");
        assert_eq!(e.found, "null");
        let e = req::<i64>(o, "zz", &cx(), &p).unwrap_err();
        assert!(e.found.contains("absent"));
        assert_eq!(tri::<i64>(o, "zz", &cx(), &p).unwrap(), (None, true));
        assert_eq!(tri::<i64>(o, "a", &cx(), &p).unwrap(), (None, false));
        assert_eq!(tri::<i64>(o, "b", &cx(), &p).unwrap(), (Some(1), false));
        assert!(optional::<i64>(o, "a", &cx(), &p).is_err());
        assert_eq!(nullable::<i64>(o, "a", &cx(), &p).unwrap(), None);
    }

    #[test]
    fn strings_over_the_limit_are_refused() {
        let big = Value::String("x".repeat(MAX_VALUE_BYTES + 1));
        let e = String::from_json(&big, &cx(), &Path::ROOT).unwrap_err();
        assert!(e.expected.contains("2000000"));
    }

    #[test]
    fn extra_round_trips_nested_unknowns() {
        let row = json!({"id": "x", "zz": 1, "g": {"a": 1, "q": [1]}});
        let o = row.as_object().unwrap();
        let mut extra = Extra::default();
        extra.collect(&[], o, &["id", "g"]);
        extra.collect(&["g"], o["g"].as_object().unwrap(), &["a"]);
        let stored = extra.finish(&cx(), &Path::ROOT).unwrap();
        let mut rebuilt = json!({"id": "x", "g": {"a": 1}});
        merge_extra(rebuilt.as_object_mut().unwrap(), &stored).unwrap();
        assert_eq!(rebuilt, row);
    }
}
