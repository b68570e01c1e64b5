//! Seeded generator of realistic v1 KV data (`shared/v1/DATA-MODEL.md`), for property tests
//! (lossless round trips) and benchmarks.
//!
//! Everything is a pure function of [`Options`]: the same options give byte-identical output
//! on every platform and with every dependency version (the PRNG is written out in this crate,
//! and values are serialised compactly, as `JSON.stringify` writes them).
//!
//! The data covers every variant the data model describes: the six `githubData` shapes, the two
//! deliverable shapes, `agentId` as number (including 0), null, string or absent where v1 could
//! write each, legacy multi-entry `goals`, absent `searchTerms`/`website`/`goalHistory`, items
//! blobs at every persisted version (with [`Options::legacy_versions`]), events of every type
//! including the retired ones, both agent-cache shapes, and so on.
//!
//! Two liberties the data model allows and the consumers must survive: about 3% of adjacent
//! events are out of timestamp order (concurrent `recordEvent` writes), and about 3% of
//! `reputation` values lag one rating behind `ratings` (lost updates).
//!
//! ```
//! use kv2sql_datagen::{generate, Options, Size};
//! let entries = generate(&Options::new(7, Size::Tiny));
//! assert!(entries.iter().any(|e| e.key == "roadmap:items"));
//! ```

mod agents;
mod ids;
mod items;
mod other;
mod rng;
mod time;
mod words;

use kv2sql_runtime::dump::{KvEntry, KvSnapshot};
use serde_json::Value;

/// KV's maximum value size (25 MiB).
pub const KV_MAX_VALUE_BYTES: usize = 26_214_400;

/// The v1 keys.
pub mod keys {
    pub const ITEMS: &str = "roadmap:items";
    pub const EVENTS: &str = "roadmap:events";
    pub const MESSAGE_ARCHIVE: &str = "roadmap:message-archive";
    pub const MENTION_SCAN: &str = "roadmap:mention-scan";
    pub const GITHUB_MAP: &str = "roadmap:github-map";
    pub const GITHUB_SCAN: &str = "roadmap:github-scan";
    /// Followed by the address.
    pub const AGENT_CACHE_PREFIX: &str = "roadmap:agent-cache:";
}

/// How much data to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Size {
    /// About 3 items: fast, for property tests.
    Tiny,
    /// About 30 items.
    Small,
    /// About a tenth of `Large`: ~2.5 MiB of items.
    Medium,
    /// The `roadmap:items` value just under KV's 25 MiB limit: ~3,500 items and ~120,000
    /// child-array elements (at version 10).
    Large,
}

impl Size {
    pub const ALL: [Size; 4] = [Size::Tiny, Size::Small, Size::Medium, Size::Large];

    /// `tiny`, `small`, `medium` or `large`.
    pub fn parse(s: &str) -> Option<Size> {
        match s.to_ascii_lowercase().as_str() {
            "tiny" => Some(Size::Tiny),
            "small" => Some(Size::Small),
            "medium" => Some(Size::Medium),
            "large" => Some(Size::Large),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Size::Tiny => "tiny",
            Size::Small => "small",
            Size::Medium => "medium",
            Size::Large => "large",
        }
    }

    fn params(self) -> Params {
        match self {
            Size::Tiny => Params {
                max_items: 3,
                byte_cap: None,
                pool: 10,
                mapped_extra: 2,
                events: 15,
                messages: 10,
                processed: 12,
                cache: 3,
                deleted_repos: 1,
            },
            Size::Small => Params {
                max_items: 30,
                byte_cap: None,
                pool: 50,
                mapped_extra: 6,
                events: 60,
                messages: 150,
                processed: 120,
                cache: 5,
                deleted_repos: 3,
            },
            Size::Medium => Params {
                max_items: 420,
                byte_cap: Some(KV_MAX_VALUE_BYTES / 10),
                pool: 200,
                mapped_extra: 20,
                events: 200,
                messages: 1000,
                processed: 500,
                cache: 8,
                deleted_repos: 10,
            },
            Size::Large => Params {
                max_items: 4200,
                byte_cap: Some(KV_MAX_VALUE_BYTES - 1024),
                pool: 700,
                mapped_extra: 40,
                events: 200,
                messages: 2000,
                processed: 500,
                cache: 12,
                deleted_repos: 30,
            },
        }
    }
}

/// Per-size parameters.
#[derive(Debug, Clone)]
pub(crate) struct Params {
    /// Items are generated until this count…
    pub max_items: usize,
    /// …or until the items value would exceed this many bytes.
    pub byte_cap: Option<usize>,
    pub pool: usize,
    pub mapped_extra: usize,
    pub events: usize,
    pub messages: usize,
    pub processed: usize,
    pub cache: usize,
    pub deleted_repos: usize,
}

/// What to generate. The output is a pure function of these fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub seed: u64,
    pub size: Size,
    /// If true, the items blob may be at any persisted version (1, 2, 3, 4, 5, 6, 7 or 10), with
    /// the fields v1 would have stored at that version; otherwise it is at version 10. The
    /// version is `[1, 2, 3, 4, 5, 6, 7, 10][seed % 8]`, so any 8 consecutive seeds cover all.
    pub legacy_versions: bool,
    /// Expiration base (Unix seconds) for the `roadmap:agent-cache:*` entries: each expires at
    /// `now_unix + 1..=3600`.
    pub now_unix: i64,
}

impl Options {
    /// Version 10 data, with expirations based on [`DEFAULT_NOW_UNIX`].
    pub fn new(seed: u64, size: Size) -> Options {
        Options { seed, size, legacy_versions: false, now_unix: DEFAULT_NOW_UNIX }
    }
}

/// 2026-04-01T00:00:00Z, just after the generated period.
pub const DEFAULT_NOW_UNIX: i64 = 1_775_001_600;

/// Every v1 key's value, as JSON.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub items: Value,
    pub events: Value,
    pub message_archive: Value,
    pub mention_scan: Value,
    pub github_map: Value,
    pub github_scan: Value,
    /// `(address, value, expiration)`; the key is `roadmap:agent-cache:{address}`.
    pub agent_cache: Vec<(String, Value, i64)>,
}

struct Base {
    params: Params,
    agents: Vec<agents::Agent>,
    mapped: usize,
    ids: ids::Ids,
}

fn base(opts: &Options) -> Base {
    let params = opts.size.params();
    let mut rng = rng::Rng::stream(opts.seed, 1);
    let agents = agents::pool(&mut rng, params.pool, params.mapped_extra);
    let mapped = (agents::SEED_AGENTS.len() + params.mapped_extra).min(agents.len());
    Base { params, agents, mapped, ids: ids::Ids::default() }
}

/// Every key's value.
pub fn dataset(opts: &Options) -> Dataset {
    let mut b = base(opts);
    let items = items::generate(opts.seed, &b.params, opts.legacy_versions, &b.agents, b.mapped, &mut b.ids);
    let events = other::events(opts.seed, &b.params, &b.agents, b.mapped, &items.refs, &mut b.ids);
    let (message_archive, stamps) = other::message_archive(opts.seed, &b.params, &b.agents, &items.refs);
    let mention_scan = other::mention_scan(opts.seed, &b.params, &stamps);
    let github_map = other::github_map(&b.agents, b.mapped);
    let github_scan = other::github_scan(opts.seed, &b.params, &items.refs);
    let agent_cache = other::agent_cache(opts.seed, &b.params, &b.agents, b.mapped, opts.now_unix);
    Dataset { items: items.value, events, message_archive, mention_scan, github_map, github_scan, agent_cache }
}

/// The `roadmap:items` value alone (identical to `dataset(opts).items`).
pub fn items_value(opts: &Options) -> Value {
    let mut b = base(opts);
    items::generate(opts.seed, &b.params, opts.legacy_versions, &b.agents, b.mapped, &mut b.ids).value
}

impl Dataset {
    /// The KV entries, values serialised compactly (as `JSON.stringify` writes them).
    pub fn into_entries(self) -> Vec<KvEntry> {
        let entry = |key: &str, v: &Value| KvEntry {
            key: key.to_string(),
            value: serde_json::to_string(v).expect("JSON serialises"),
            expiration: None,
        };
        let mut out = vec![
            entry(keys::ITEMS, &self.items),
            entry(keys::EVENTS, &self.events),
            entry(keys::MESSAGE_ARCHIVE, &self.message_archive),
            entry(keys::MENTION_SCAN, &self.mention_scan),
            entry(keys::GITHUB_MAP, &self.github_map),
            entry(keys::GITHUB_SCAN, &self.github_scan),
        ];
        for (address, v, exp) in &self.agent_cache {
            let mut e = entry(&format!("{}{address}", keys::AGENT_CACHE_PREFIX), v);
            e.expiration = Some(*exp);
            out.push(e);
        }
        out
    }
}

/// Every v1 key: `roadmap:items`, `roadmap:events`, `roadmap:message-archive`,
/// `roadmap:mention-scan`, `roadmap:github-map`, `roadmap:github-scan` and several
/// `roadmap:agent-cache:{address}` entries (with expirations).
pub fn generate(opts: &Options) -> Vec<KvEntry> {
    dataset(opts).into_entries()
}

/// [`generate`] as a snapshot (keys sorted).
pub fn snapshot(opts: &Options) -> KvSnapshot {
    KvSnapshot::new(generate(opts)).expect("generated keys are unique")
}

/// The length of `v`'s compact serialisation.
pub(crate) fn json_len(v: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Counter(0);
    serde_json::to_writer(&mut c, v).expect("JSON serialises");
    c.0
}
