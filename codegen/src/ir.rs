//! The resolved model: what the emitters read. Built only by [`crate::validate`], so every
//! name in it is a checked identifier and every reference resolves.

/// The whole mapping, resolved.
#[derive(Debug, Clone)]
pub struct Model {
    pub schema_version: i64,
    pub schema_name: String,
    pub allow: Allow,
    pub sources: Vec<Source>,
    /// Every table, parents before children, sources in file order.
    pub tables: Vec<Table>,
}

/// Destructive schema changes the mapping allows for this release.
#[derive(Debug, Clone, Default)]
pub struct Allow {
    pub drop_tables: Vec<String>,
    /// `table.column`
    pub drop_columns: Vec<String>,
    /// `table.column`
    pub type_changes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Source {
    pub key: KeyPattern,
    /// A Rust path, checked with `syn`.
    pub upgrade: Option<String>,
    pub root: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPattern {
    Exact(String),
    /// `prefix{capture}`: every key starting with `prefix`; the rest of the key is `capture`.
    Prefix {
        prefix: String,
        capture: String,
    },
}

impl KeyPattern {
    pub fn display(&self) -> String {
        match self {
            KeyPattern::Exact(k) => k.clone(),
            KeyPattern::Prefix { prefix, capture } => format!("{prefix}{{{capture}}}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownFields {
    Keep,
    Reject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnMissing {
    Delete,
    Keep,
}

#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub doc: Option<String>,
    pub renamed_from: Option<String>,
    pub source: usize,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    pub rows: Rows,
    pub columns: Vec<Column>,
    /// The JSON shape of one row's object (empty for scalar elements and fan-out rows).
    pub fields: Vec<Field>,
    /// For rows that are array elements or entry values which are not objects: the column
    /// holding the value itself.
    pub value_column: Option<usize>,
    pub primary_key: Vec<usize>,
    /// (column of this table, column of the parent)
    pub foreign_key: Vec<(usize, usize)>,
    pub indexes: Vec<Index>,
    pub on_missing: OnMissing,
    pub unknown: UnknownFields,
    /// The `extra_fields` column (unknown fields kept as JSON).
    pub extra: Option<usize>,
    pub position: Option<usize>,
    /// Whether extraction must check the primary key for duplicates (it is not structural).
    pub track_keys: bool,
    pub yaml_path: String,
}

/// Where a table's rows come from.
#[derive(Debug, Clone)]
pub enum Rows {
    /// One row per KV value.
    Root,
    /// One row per element of the array at this field of the parent's object.
    Array(Container),
    /// One row per entry of the object at this field of the parent's object.
    Entries(Container),
    /// One row per variant present in the parent's object.
    FanOut { variant_column: usize, variants: Vec<Variant> },
}

#[derive(Debug, Clone)]
pub struct Container {
    pub json: String,
    pub optional: bool,
    pub nullable: bool,
    /// The parent's column recording absent / null / present, when needed.
    pub shape_column: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Variant {
    pub name: String,
    /// (column, JSON key in the parent's object)
    pub fields: Vec<(usize, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Text,
    Integer,
    Real,
    Number,
    Boolean,
    Json,
    Any,
    /// 'present' / 'null' / 'absent'
    Shape,
}

impl ColType {
    pub fn parse(s: &str) -> Option<ColType> {
        Some(match s {
            "text" => ColType::Text,
            "integer" => ColType::Integer,
            "real" => ColType::Real,
            "number" => ColType::Number,
            "boolean" => ColType::Boolean,
            "json" => ColType::Json,
            "any" => ColType::Any,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ColType::Text => "text",
            ColType::Integer => "integer",
            ColType::Real => "real",
            ColType::Number => "number",
            ColType::Boolean => "boolean",
            ColType::Json => "json",
            ColType::Any => "any",
            ColType::Shape => "shape",
        }
    }

    pub const NAMES: &'static str = "text, integer, real, number, boolean, json, any";

    /// The STRICT-table SQL type.
    pub fn sql(self) -> &'static str {
        match self {
            ColType::Text | ColType::Json | ColType::Shape => "TEXT",
            ColType::Integer | ColType::Boolean => "INTEGER",
            ColType::Real => "REAL",
            ColType::Number | ColType::Any => "ANY",
        }
    }
}

/// Where a column's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A JSON field (see [`Field::Scalar`]).
    Json,
    KvKey,
    Capture,
    /// The parent's column.
    Parent(usize),
    Position,
    EntryKey,
    /// The element or entry value itself.
    Value {
        nullable: bool,
    },
    Expiration,
    Variant,
    /// A fan-out column: its JSON key depends on the variant.
    VariantField,
    /// The shape of an embedded object or a child array.
    Shape {
        allowed: Vec<&'static str>,
    },
    /// Whether the JSON field of column N was absent.
    Absent(usize),
    Extra,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub ty: ColType,
    pub sql_nullable: bool,
    pub origin: Origin,
    /// SQL literal.
    pub default: Option<String>,
    pub doc: Option<String>,
    pub renamed_from: Option<String>,
    pub yaml_path: String,
}

/// The JSON shape of a row object, in mapping order.
#[derive(Debug, Clone)]
pub enum Field {
    Scalar {
        json: String,
        column: usize,
        optional: bool,
        nullable: bool,
        /// The `<column>_absent` companion (optional + nullable, non-json types).
        absent_column: Option<usize>,
    },
    Object {
        json: String,
        /// The group's name (prefix of its columns).
        prefix: String,
        optional: bool,
        nullable: bool,
        shape_column: Option<usize>,
        fields: Vec<Field>,
    },
    /// A child table fed by an array or object at this key.
    Child { json: String, table: usize },
}

#[derive(Debug, Clone)]
pub struct Index {
    pub name: String,
    pub columns: Vec<usize>,
    pub unique: bool,
}

impl Model {
    /// Tables of a source, parents first.
    pub fn source_tables(&self, source: usize) -> Vec<usize> {
        (0..self.tables.len()).filter(|&t| self.tables[t].source == source).collect()
    }
}

impl Table {
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The JSON keys of the row object the mapping knows (for unknown-field handling).
    pub fn known_keys(&self, model: &Model) -> Vec<String> {
        let mut keys: Vec<String> = self
            .fields
            .iter()
            .map(|f| match f {
                Field::Scalar { json, .. } | Field::Object { json, .. } | Field::Child { json, .. } => json.clone(),
            })
            .collect();
        for &c in &self.children {
            if let Rows::FanOut { variants, .. } = &model.tables[c].rows {
                for v in variants {
                    for (_, k) in &v.fields {
                        if !keys.contains(k) {
                            keys.push(k.clone());
                        }
                    }
                }
            }
        }
        keys
    }
}
