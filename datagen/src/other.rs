//! The keys other than `roadmap:items` (§1 of DATA-MODEL.md).

use std::collections::{BTreeSet, HashSet};

use serde_json::{Map, Value};

use crate::agents::{Agent, Snap, SEED_AGENTS};
use crate::ids::{Ids, Prefix};
use crate::items::{tenths, ItemRef};
use crate::rng::Rng;
use crate::time::*;
use crate::words;
use crate::Params;

fn s(x: impl Into<String>) -> Value {
    Value::String(x.into())
}

const VALIDATED: &[&str] = &["todo", "in-progress", "done", "blocked", "shipped", "paid"];
const DERIVED: &[&str] = &["todo", "in-progress", "done", "blocked"];

/// `roadmap:events`: `{version: 1, events}`, newest first, every type of the §1.1 catalog.
pub(crate) fn events(
    seed: u64,
    p: &Params,
    agents: &[Agent],
    mapped: usize,
    items: &[ItemRef],
    ids: &mut Ids,
) -> Value {
    let mut rng = Rng::stream(seed, 3);
    let mut times: Vec<i64> = (0..p.events)
        .map(|_| if rng.chance(0.25) { rng.range(T_V2, T_V10) } else { rng.range(T_V10, T_END) })
        .collect();
    times.sort_unstable_by(|a, b| b.cmp(a));
    // (type, weight, from, until)
    const TYPES: &[(&str, u32, i64, i64)] = &[
        ("item.created", 12, T_V2, i64::MAX),
        ("item.updated", 8, T_V2, i64::MAX),
        ("item.status_changed", 6, T_V2, T_DERIVED),
        ("item.auto_completed", 5, T_V2, T_DERIVED),
        ("item.status_synced", 6, T_DERIVED, i64::MAX),
        ("item.claimed", 5, T_V2, i64::MAX),
        ("item.unclaimed", 3, T_V2, i64::MAX),
        ("item.deliverable_added", 6, T_V2, i64::MAX),
        ("item.deliverable_added/pr", 7, T_V7, i64::MAX),
        ("item.rated", 8, T_V3, i64::MAX),
        ("item.goal_added", 5, T_V4, i64::MAX),
        ("item.goal_completed", 3, T_V4, i64::MAX),
        ("item.goal_reopened", 2, T_V4, i64::MAX),
        ("item.leadership_transferred", 3, T_V6, i64::MAX),
        ("item.leadership_claimed", 2, T_V6 + 30 * DAY, i64::MAX),
        ("item.deleted", 3, T_V2, i64::MAX),
        ("item.reordered", 3, T_V2, i64::MAX),
        ("item.mentioned", 14, T_V5, i64::MAX),
    ];
    let titles: Vec<String> = items.iter().map(|i| i.title.clone()).collect();
    let mut out = Vec::with_capacity(times.len());
    for &t in &times {
        let weights: Vec<u32> =
            TYPES.iter().map(|&(_, w, from, until)| if t >= from && t < until { w } else { 0 }).collect();
        let (ty, ..) = TYPES[rng.weighted(&weights)];
        let auth = |rng: &mut Rng| -> (usize, Value) {
            let a = pick_agent(rng, agents.len());
            (a, Value::Object(Snap::auth(rng, &agents[a])))
        };
        // The item: an existing one, or a dangling id (deleted since).
        let item = if ty != "item.deleted" && !items.is_empty() && rng.chance(0.85) {
            let it = &items[rng.index(items.len())];
            Some(it)
        } else {
            None
        };
        // The acting agent: the item's founder for `item.created`, its leader for goals and
        // transfers, anyone otherwise.
        let actor = |rng: &mut Rng, preferred: Option<usize>| -> (usize, Value) {
            let a = match preferred {
                Some(a) if rng.chance(0.8) => a,
                _ => pick_agent(rng, agents.len()),
            };
            (a, Value::Object(Snap::auth(rng, &agents[a])))
        };
        let founder = item.map(|i| i.founder);
        let leader = item.and_then(|i| i.leader);
        let (item_id, item_title) = match item {
            Some(it) => {
                let title = if rng.chance(0.05) { words::project_title(&mut rng) } else { it.title.clone() };
                (s(it.id.clone()), title)
            }
            None => (
                s(ids.make(&mut rng, Prefix::Item)),
                if rng.chance(0.05) { String::new() } else { words::project_title(&mut rng) },
            ),
        };
        let mut data = Map::new();
        let agent: Value;
        let mut item_id = item_id;
        let mut item_title = if item_title.is_empty() { Value::Null } else { s(item_title) };
        let type_name = if ty == "item.deliverable_added/pr" { "item.deliverable_added" } else { ty };
        match ty {
            "item.created" => {
                agent = actor(&mut rng, founder).1;
                let st = if t < T_DERIVED { rng.pick(VALIDATED) } else { rng.pick(DERIVED) };
                data.insert("status".into(), s(*st));
            }
            "item.updated" | "item.claimed" | "item.unclaimed" | "item.deleted" => agent = auth(&mut rng).1,
            "item.status_changed" => {
                agent = auth(&mut rng).1;
                let old = *rng.pick(VALIDATED);
                let mut new = *rng.pick(VALIDATED);
                while new == old {
                    new = *rng.pick(VALIDATED);
                }
                data.insert("oldStatus".into(), s(old));
                data.insert("newStatus".into(), s(new));
            }
            "item.auto_completed" => {
                agent = Value::Null;
                data.insert("oldStatus".into(), s(*rng.pick(&["todo", "in-progress", "blocked"])));
                data.insert("newStatus".into(), s("done"));
                data.insert("reason".into(), s("github_state"));
            }
            "item.status_synced" => {
                agent = Value::Null;
                let (old, new) = if rng.chance(0.2) {
                    ("done", "done")
                } else {
                    let old = *rng.pick(DERIVED);
                    let mut new = *rng.pick(DERIVED);
                    while new == old {
                        new = *rng.pick(DERIVED);
                    }
                    (old, new)
                };
                data.insert("oldStatus".into(), s(old));
                data.insert("newStatus".into(), s(new));
                data.insert("reason".into(), s("github_state"));
            }
            "item.deliverable_added" => {
                agent = auth(&mut rng).1;
                let slug = words::slug(&words::project_title(&mut rng));
                data.insert("url".into(), s(format!("https://{slug}.{}", rng.pick(words::SITES))));
                let title = if rng.chance(0.2) { String::new() } else { format!("Release v0.{}", rng.below(10)) };
                data.insert("title".into(), s(title));
            }
            "item.deliverable_added/pr" => {
                agent = if rng.chance(0.6) {
                    let a = rng.index(mapped.min(agents.len()));
                    Value::Object(Snap::resolved(&mut rng, &agents[a]))
                } else {
                    Value::Null
                };
                let base = item.and_then(|i| i.repo_url.clone()).unwrap_or_else(|| {
                    format!("https://github.com/aibtcdev/{}", words::slug(&words::project_title(&mut rng)))
                });
                data.insert("title".into(), s(words::pr_title(&mut rng)));
                data.insert("url".into(), s(format!("{base}/pull/{}", rng.range(1, 300))));
                data.insert("source".into(), s("github_pr"));
            }
            "item.rated" => {
                agent = auth(&mut rng).1;
                let score = rng.range(1, 5);
                data.insert("score".into(), Value::from(score));
                data.insert("review".into(), if rng.chance(0.4) { Value::Null } else { s(words::review(&mut rng)) });
                let n = rng.range(1, 12) as u64;
                let sum = (score as u64 + (n - 1) * rng.range(1, 5) as u64).min(5 * n).max(n);
                data.insert("newAverage".into(), tenths(sum, n));
            }
            "item.goal_added" | "item.goal_completed" | "item.goal_reopened" => {
                agent = actor(&mut rng, leader).1;
                data.insert("goalId".into(), s(ids.make(&mut rng, Prefix::Goal)));
                data.insert("goalTitle".into(), s(words::goal_title(&mut rng)));
            }
            "item.leadership_transferred" => {
                let (from, a) = actor(&mut rng, leader);
                agent = a;
                let to = pick_agent(&mut rng, agents.len());
                data.insert("fromAddress".into(), s(agents[from].btc.clone()));
                data.insert("fromName".into(), agent["displayName"].clone());
                data.insert("toAddress".into(), s(agents[to].btc.clone()));
                data.insert("toName".into(), s(Snap::name(&mut rng, &agents[to])));
            }
            "item.leadership_claimed" => {
                agent = auth(&mut rng).1;
                let prev = pick_agent(&mut rng, agents.len());
                let mut pl = Map::new();
                pl.insert("btcAddress".into(), s(agents[prev].btc.clone()));
                pl.insert("displayName".into(), s(Snap::name(&mut rng, &agents[prev])));
                data.insert("previousLeader".into(), Value::Object(pl));
                data.insert("inactiveDays".into(), Value::from(rng.range(30, 36)));
            }
            "item.reordered" => {
                agent = auth(&mut rng).1;
                item_id = Value::Null;
                item_title = Value::Null;
                data.insert("count".into(), Value::from((items.len() as i64 + rng.range(-3, 3)).max(1)));
            }
            "item.mentioned" => {
                agent = if rng.chance(0.85) {
                    let a = rng.index(agents.len());
                    let mut m = Snap::feed(&mut rng, &agents[a], 0.1);
                    m.insert("agentId".into(), Value::Null);
                    Value::Object(m)
                } else {
                    Value::Null
                };
                let kinds: &[&str] = if t < T_SLUG {
                    &["title", "url"]
                } else if t < T_V7 {
                    &["title", "url", "slug", "site"]
                } else {
                    &["title", "slug", "url", "site", "alias"]
                };
                data.insert("matchType".into(), s(*rng.pick(kinds)));
                let recipient = |rng: &mut Rng| -> Value {
                    if rng.chance(0.4) {
                        Value::Null
                    } else {
                        let a = rng.index(agents.len());
                        Value::Object(Snap::feed(rng, &agents[a], 0.1))
                    }
                };
                if t >= T_V7 {
                    let preview = if rng.chance(0.1) { Value::Null } else { s(words::preview(&mut rng, &titles)) };
                    data.insert("messagePreview".into(), preview);
                    let r = recipient(&mut rng);
                    data.insert("recipient".into(), r);
                } else if rng.chance(0.35) {
                    // backfillMentions: messagePreview, and recipient if there was one.
                    data.insert("messagePreview".into(), s(words::preview(&mut rng, &titles)));
                    let r = recipient(&mut rng);
                    if !r.is_null() {
                        data.insert("recipient".into(), r);
                    }
                }
            }
            _ => unreachable!("{ty}"),
        }
        let mut e = Map::new();
        e.insert("id".into(), s(ids.make(&mut rng, Prefix::Event)));
        e.insert("type".into(), s(type_name));
        e.insert("timestamp".into(), s(iso(t)));
        e.insert("agent".into(), agent);
        e.insert("itemId".into(), item_id);
        e.insert("itemTitle".into(), item_title);
        e.insert("data".into(), Value::Object(data));
        out.push(Value::Object(e));
    }
    // Concurrent recordEvent calls: array order is write order, not always timestamp order.
    for i in 1..out.len() {
        if rng.chance(0.03) {
            out.swap(i - 1, i);
        }
    }
    let mut m = Map::new();
    m.insert("version".into(), Value::from(1));
    m.insert("events".into(), Value::Array(out));
    Value::Object(m)
}

fn pick_agent(rng: &mut Rng, n: usize) -> usize {
    if rng.chance(0.35) {
        rng.index(n.min(12))
    } else {
        rng.index(n)
    }
}

/// A feed participant: `{btcAddress?, displayName?}` or null.
fn participant(rng: &mut Rng, agents: &[Agent], p_null: f64) -> Value {
    if rng.chance(p_null) {
        return Value::Null;
    }
    let a = &agents[rng.index(agents.len())];
    let mut m = Map::new();
    if !rng.chance(0.05) {
        m.insert("btcAddress".into(), s(a.btc.clone()));
    }
    if !rng.chance(0.1) || !m.contains_key("btcAddress") {
        m.insert("displayName".into(), s(Snap::name(rng, a)));
    }
    Value::Object(m)
}

/// `roadmap:message-archive`: unique timestamps, newest first; and the timestamps it used.
pub(crate) fn message_archive(seed: u64, p: &Params, agents: &[Agent], items: &[ItemRef]) -> (Value, Vec<String>) {
    let mut rng = Rng::stream(seed, 4);
    let titles: Vec<String> = items.iter().map(|i| i.title.clone()).collect();
    let mut stamps: BTreeSet<i64> = BTreeSet::new();
    while stamps.len() < p.messages {
        stamps.insert(if rng.chance(0.1) { rng.range(T_V5 - DAY, T_V7) } else { rng.range(T_V7, T_END) });
    }
    let stamps: Vec<String> = stamps.into_iter().rev().map(iso).collect();
    let messages = stamps
        .iter()
        .map(|ts| {
            let mut m = Map::new();
            m.insert("timestamp".into(), s(ts.clone()));
            m.insert("agent".into(), participant(&mut rng, agents, 0.08));
            m.insert("recipient".into(), participant(&mut rng, agents, 0.35));
            m.insert("messagePreview".into(), s(words::preview(&mut rng, &titles)));
            Value::Object(m)
        })
        .collect();
    let mut m = Map::new();
    m.insert("version".into(), Value::from(1));
    m.insert("messages".into(), Value::Array(messages));
    (Value::Object(m), stamps)
}

/// `roadmap:mention-scan`: `{lastScanAt, processedIds}` (activity-event timestamps, last 500).
pub(crate) fn mention_scan(seed: u64, p: &Params, archive: &[String]) -> Value {
    let mut rng = Rng::stream(seed, 5);
    let mut set: BTreeSet<String> = BTreeSet::new();
    let from_archive = (p.processed * 3 / 5).min(archive.len());
    // The newest archived messages were processed by the recent scans.
    for ts in archive.iter().take(from_archive) {
        set.insert(ts.clone());
    }
    let newest = archive.first().map(|t| crate::items::parse_iso_ms(t)).unwrap_or(T_END - DAY);
    let oldest = archive.get(from_archive.saturating_sub(1)).map(|t| crate::items::parse_iso_ms(t)).unwrap_or(T_V7);
    while set.len() < p.processed {
        set.insert(iso(rng.range(oldest.min(newest), newest)));
    }
    // Insertion order: scans in time order, each batch in API order (newest first).
    let sorted: Vec<String> = set.into_iter().collect();
    let mut ids: Vec<Value> = Vec::with_capacity(sorted.len());
    let mut i = 0;
    while i < sorted.len() {
        let n = rng.urange(1, 25).min(sorted.len() - i);
        for ts in sorted[i..i + n].iter().rev() {
            ids.push(s(ts.clone()));
        }
        i += n;
    }
    let last = sorted.last().map(|t| crate::items::parse_iso_ms(t)).unwrap_or(T_END - HOUR);
    let mut m = Map::new();
    m.insert("lastScanAt".into(), s(iso(rng.range(last, (last + 10 * MINUTE).min(T_END)))));
    m.insert("processedIds".into(), Value::Array(ids));
    Value::Object(m)
}

/// `roadmap:github-map`: the five seed mappings, plus extras from manual edits.
pub(crate) fn github_map(agents: &[Agent], mapped: usize) -> Value {
    let mut mappings = Map::new();
    for (login, btc, _) in SEED_AGENTS {
        mappings.insert((*login).to_string(), s(*btc));
    }
    for a in agents.iter().take(mapped).skip(SEED_AGENTS.len()) {
        if let Some(l) = &a.login {
            mappings.insert(l.clone(), s(a.btc.clone()));
        }
    }
    let mut m = Map::new();
    m.insert("version".into(), Value::from(1));
    m.insert("mappings".into(), Value::Object(mappings));
    Value::Object(m)
}

/// `roadmap:github-scan`: per-repository scan bookkeeping, keyed as the item URL wrote it.
pub(crate) fn github_scan(seed: u64, p: &Params, items: &[ItemRef]) -> Value {
    let mut rng = Rng::stream(seed, 7);
    let filter_version = rng.chance(0.8);
    let mut keys: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for it in items {
        if let Some(k) = &it.scan_key {
            if seen.insert(k.clone()) {
                keys.push(k.clone());
            }
        }
    }
    // Entries are never removed when items are deleted.
    let mut deleted = Vec::new();
    for i in 0..p.deleted_repos {
        let k = format!("{}/deleted-project-{i}", rng.pick(words::ORGS));
        if seen.insert(k.clone()) {
            deleted.push(k);
        }
    }
    let mut repos = Map::new();
    let mut empty_done = false;
    for (i, k) in keys.iter().chain(deleted.iter()).enumerate() {
        let is_deleted = i >= keys.len();
        let mut e = Map::new();
        if is_deleted && !empty_done {
            // Only website keys, removed by the websiteFilterVersion reset: `{}`.
            empty_done = true;
            repos.insert(k.clone(), Value::Object(e));
            continue;
        }
        let old = rng.chance(0.1);
        let lo = if old { T_V7 } else { T_WRITE_VERSION };
        let hi = if old { T_WRITE_VERSION } else { T_END };
        let fails = |rng: &mut Rng| -> Value { Value::from(if rng.chance(0.7) { 0 } else { rng.range(1, 9) }) };
        if rng.chance(0.9) {
            e.insert("contributors".into(), s(iso(rng.range(lo, hi))));
            if !old && rng.chance(0.95) {
                e.insert("contributorFails".into(), fails(&mut rng));
            }
        }
        if rng.chance(0.9) {
            e.insert("events".into(), s(iso(rng.range(lo, hi))));
            if !old && rng.chance(0.95) {
                e.insert("eventFails".into(), fails(&mut rng));
            }
        }
        if filter_version && !old && !is_deleted && rng.chance(0.6) {
            e.insert("website".into(), s(iso(rng.range(T_V10, T_END))));
            if rng.chance(0.9) {
                e.insert("websiteFails".into(), Value::from(rng.range(0, 4)));
            }
        }
        repos.insert(k.clone(), Value::Object(e));
    }
    if !empty_done {
        repos.insert("example-org/gone-and-forgotten".into(), Value::Object(Map::new()));
    }
    let mut m = Map::new();
    m.insert("version".into(), Value::from(1));
    m.insert("repos".into(), Value::Object(repos));
    if filter_version {
        m.insert("websiteFilterVersion".into(), Value::from(5));
    }
    Value::Object(m)
}

/// `roadmap:agent-cache:{address}` entries, both shapes (§1.6): `(address, value, expiration)`.
pub(crate) fn agent_cache(
    seed: u64,
    p: &Params,
    agents: &[Agent],
    mapped: usize,
    now_unix: i64,
) -> Vec<(String, Value, i64)> {
    let mut rng = Rng::stream(seed, 8);
    let mut out: Vec<(String, Value, i64)> = Vec::new();
    let mut keys: HashSet<String> = HashSet::new();
    let mut i = 0;
    while out.len() < p.cache && i < p.cache * 10 {
        i += 1;
        // Entry 0 is shape (a) and entry 1 shape (b), so that both are always present.
        let shape_b = out.len() == 1 || (out.len() > 1 && rng.chance(0.4));
        let (key, value) = if shape_b {
            // (b) resolveGithubUser, keyed by the btcAddress from github-map.
            let a = &agents[rng.index(mapped.min(agents.len()))];
            let mut m = Map::new();
            m.insert("btcAddress".into(), s(a.btc.clone()));
            let name = if rng.chance(0.1) { a.login.clone().unwrap_or_else(|| a.name.clone()) } else { a.name.clone() };
            m.insert("displayName".into(), s(name));
            m.insert("agentId".into(), Snap::or_null_id(&mut rng, a));
            (a.btc.clone(), m)
        } else {
            // (a) getAgent, keyed by the client-supplied address.
            let a = if out.is_empty() {
                // A seed agent: it has every field, so the shapes are told apart by their keys.
                &agents[rng.index(SEED_AGENTS.len().min(agents.len()))]
            } else {
                &agents[rng.index(agents.len())]
            };
            let key = match rng.weighted(&[70, 15, 10, 5]) {
                1 if a.stx.is_some() => a.stx.clone().unwrap(),
                2 => format!("{}.btc", words::slug(&a.name)),
                3 => a.btc.to_uppercase(),
                _ => a.btc.clone(),
            };
            let mut m = Map::new();
            m.insert("btcAddress".into(), s(a.btc.clone()));
            if let Some(stx) = &a.stx {
                m.insert("stxAddress".into(), s(stx.clone()));
            }
            m.insert("displayName".into(), s(a.name.clone()));
            if let Some(d) = &a.description {
                m.insert("description".into(), d.clone().map_or(Value::Null, s));
            }
            if let Some(id) = Snap::raw_id(&mut rng, a) {
                m.insert("agentId".into(), id);
            }
            (key, m)
        };
        if keys.insert(key.clone()) {
            out.push((key, Value::Object(value), now_unix + rng.range(1, 3600)));
        }
    }
    out
}
