//! `generated/` is what the generator makes from `mapping.yaml` and the released migrations.

use kv2sql_codegen::io;
use kv2sql_tests::root;

#[test]
fn generated_is_fresh() {
    let root = root();
    let text = std::fs::read_to_string(root.join("mapping.yaml")).expect("mapping.yaml");
    let released = io::read_released(&root.join("generated")).expect("released migrations");
    let g = kv2sql_codegen::generate("mapping.yaml", &text, &released).unwrap_or_else(|d| panic!("{d}"));
    if let Err(diff) = io::check(&root.join("generated"), &g) {
        panic!("generated/ is stale; run `cargo build` and commit generated/:\n{diff}");
    }
}
