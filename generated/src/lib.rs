//! The code generated from `mapping.yaml`: one module per KV source with its row structs,
//! extraction, upsert plan and export, plus `migrate`, `export`, `upgraded` and the schema
//! migrations. `build.rs` rewrites `generated.rs` (formatted by prettyplease, with blank lines
//! between items; rustfmt leaves it alone); review it, never edit it.

#[rustfmt::skip]
mod generated;

pub use generated::*;
