//! Regenerates this crate from `../mapping.yaml` on `cargo build`, writing only files whose
//! contents changed. `kv2sql generate --check` (and the `generated_is_fresh` test) fail when
//! the committed files are stale.

fn main() {
    let manifest = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let result = kv2sql_codegen::Config::new().mapping(manifest.join("../mapping.yaml")).out_dir(&manifest).generate();
    if let Err(e) = result {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
