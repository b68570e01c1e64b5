//! The mapping language as written in `mapping.yaml` (the syntax tree). Everything is optional
//! here; [`crate::validate`] checks it and builds the [`crate::ir`].

use indexmap::IndexMap;
use serde::Deserialize;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;

/// The whole file.
#[derive(Debug, Deserialize)]
pub struct MappingFile {
    /// The schema release this mapping describes.
    pub schema: Option<SchemaSpec>,
    #[serde(default)]
    pub sources: Vec<TableSpec>,
    #[serde(flatten)]
    pub unknown: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
pub struct SchemaSpec {
    pub version: Option<i64>,
    pub name: Option<String>,
    /// Destructive changes this release allows.
    pub allow: Option<AllowSpec>,
    #[serde(flatten)]
    pub unknown: BTreeMap<String, Value>,
}

/// A table. A top-level entry of `sources` is a root table fed by a KV key (`key:`); a
/// `children` entry is fed by an array (`array:`), the entries of an object (`entries:`), or
/// one row per variant of the parent's object (`fan_out:`).
#[derive(Debug, Deserialize, Default)]
pub struct TableSpec {
    // Root only.
    pub key: Option<String>,
    pub upgrade: Option<String>,
    pub unknown_fields: Option<String>,

    pub table: Option<String>,
    pub doc: Option<String>,
    pub renamed_from: Option<String>,

    // Children only.
    pub array: Option<String>,
    pub entries: Option<String>,
    pub fan_out: Option<FanOutSpec>,
    pub optional: Option<bool>,
    pub nullable: Option<bool>,
    pub shape_column: Option<String>,

    #[serde(default)]
    pub columns: IndexMap<String, ColumnSpec>,
    #[serde(default)]
    pub primary_key: Vec<String>,
    #[serde(default)]
    pub indexes: Vec<IndexSpec>,
    pub on_missing: Option<String>,
    #[serde(default)]
    pub children: Vec<TableSpec>,

    #[serde(flatten)]
    pub unknown: BTreeMap<String, Value>,
}

/// A column, or (with `object:`) a group of columns taken from an embedded JSON object.
#[derive(Debug, Deserialize, Default)]
pub struct ColumnSpec {
    #[serde(rename = "type")]
    pub ty: Option<String>,
    pub path: Option<String>,
    pub from: Option<String>,
    pub optional: Option<bool>,
    pub nullable: Option<bool>,
    pub default: Option<Value>,
    pub doc: Option<String>,
    pub renamed_from: Option<String>,

    // Groups.
    pub object: Option<String>,
    pub columns: Option<IndexMap<String, ColumnSpec>>,

    #[serde(flatten)]
    pub unknown: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
pub struct FanOutSpec {
    /// variant name → (column → JSON key in the parent's object)
    #[serde(default)]
    pub variants: IndexMap<String, IndexMap<String, String>>,
    #[serde(flatten)]
    pub unknown: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
pub struct IndexSpec {
    pub name: Option<String>,
    #[serde(default)]
    pub columns: Vec<String>,
    pub unique: Option<bool>,
    #[serde(flatten)]
    pub unknown: BTreeMap<String, Value>,
}

/// Destructive changes that the mapping explicitly allows (schema evolution).
#[derive(Debug, Deserialize, Default)]
pub struct AllowSpec {
    #[serde(default)]
    pub drop_tables: Vec<String>,
    /// `table.column`
    #[serde(default)]
    pub drop_columns: Vec<String>,
    /// `table.column`: a type change rebuilds the table.
    #[serde(default)]
    pub type_changes: Vec<String>,
    #[serde(flatten)]
    pub unknown: BTreeMap<String, Value>,
}
