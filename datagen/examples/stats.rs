//! Prints, for each size, the bytes of the `roadmap:items` value, its item and child-element
//! counts, and the generation time: `cargo run --release -p kv2sql-datagen --example stats [SEED] [--legacy]`.

use std::time::Instant;

use kv2sql_datagen::{generate, Options, Size};
use serde_json::Value;

const CHILDREN: &[&str] = &["contributors", "deliverables", "ratings", "goals", "goalHistory", "searchTerms"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seed = args.iter().find_map(|a| a.parse::<u64>().ok()).unwrap_or(0);
    let legacy = args.iter().any(|a| a == "--legacy");
    for size in Size::ALL {
        let opts = Options { legacy_versions: legacy, ..Options::new(seed, size) };
        let start = Instant::now();
        let entries = generate(&opts);
        let elapsed = start.elapsed();
        let items = &entries.iter().find(|e| e.key == "roadmap:items").unwrap().value;
        let v: Value = serde_json::from_str(items).unwrap();
        let list = v["items"].as_array().unwrap();
        let mut per = vec![0usize; CHILDREN.len()];
        for it in list {
            for (i, k) in CHILDREN.iter().enumerate() {
                per[i] += it.get(*k).and_then(Value::as_array).map_or(0, Vec::len);
            }
        }
        let total: usize = per.iter().sum();
        let others: usize = entries.iter().filter(|e| e.key != "roadmap:items").map(|e| e.value.len()).sum();
        println!(
            "{:<6} seed {seed} v{}: items value {} bytes ({:.2} MiB), {} items, {} child elements {:?}, other keys {} bytes in {} entries, generated in {:.3?}",
            size.name(),
            v["version"],
            items.len(),
            items.len() as f64 / 1048576.0,
            list.len(),
            total,
            CHILDREN.iter().zip(&per).map(|(k, n)| format!("{k}={n}")).collect::<Vec<_>>(),
            others,
            entries.len() - 1,
            elapsed
        );
    }
}
