//! `roadmap:items`: the envelope and its items, at any persisted version (§2 of DATA-MODEL.md).
//!
//! Each item is built like v1 built it: a POST by the code deployed at `createdAt`, then actions
//! at later times (each shaped by the code deployed at its time), and the lazy-migration steps
//! that ran on the blob between the item's creation and the blob's last save (`tb`).

use std::collections::HashSet;

use serde_json::{Map, Number, Value};

use crate::agents::{Agent, Snap};
use crate::ids::{Ids, Prefix};
use crate::rng::Rng;
use crate::time::*;
use crate::words;
use crate::Params;

/// What the other keys need to know about an item.
#[derive(Debug, Clone)]
pub(crate) struct ItemRef {
    pub id: String,
    pub title: String,
    pub created: i64,
    /// The `roadmap:github-scan` key (`owner/repo` as written in the URL), for repository URLs.
    pub scan_key: Option<String>,
    /// `https://github.com/owner/repo`, for repository URLs.
    pub repo_url: Option<String>,
    pub founder: usize,
    pub leader: Option<usize>,
}

pub(crate) struct ItemsOut {
    pub value: Value,
    pub refs: Vec<ItemRef>,
}

#[derive(Debug, Clone)]
struct Repo {
    owner: String,
    name: String,
    homepage: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UrlKind {
    Repo,
    Issue,
    Pr,
    Empty,
    Other,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Src {
    Put,
    Mention,
    Github,
}

// Mean child counts per item (before the activity factor). Tuned so that `Large` holds about
// 3,500 items and 120,000 child elements in just under 25 MiB.
const MEAN_EXTRA_CONTRIBUTORS: f64 = 0.5;
const MEAN_DELIVERABLES: f64 = 9.0;
const MEAN_RATINGS: f64 = 5.0;
const MEAN_GOAL_ADDS: f64 = 4.5;
const MEAN_SEARCH_TERMS: f64 = 8.0;

pub(crate) fn profile_url(btc: &str) -> String {
    format!("https://aibtc.com/agents/{btc}")
}

/// `Math.round(sum / count * 10) / 10` as JSON.stringify writes it (`4.5`, `3.7`, `4`).
pub(crate) fn tenths(sum: u64, count: u64) -> Value {
    if count == 0 {
        return Value::from(0u64);
    }
    let t = ((sum as f64 / count as f64) * 10.0 + 0.5).floor() as u64;
    if t % 10 == 0 {
        Value::from(t / 10)
    } else {
        let n: Number = format!("{}.{}", t / 10, t % 10).parse().expect("a decimal number");
        Value::Number(n)
    }
}

fn s(x: impl Into<String>) -> Value {
    Value::String(x.into())
}

pub(crate) struct ItemsGen<'a> {
    pub rng: Rng,
    pub agents: &'a [Agent],
    /// Agents `0..mapped` have a GitHub login in `roadmap:github-map`.
    pub mapped: usize,
    pub ids: &'a mut Ids,
    pub version: u8,
    /// The time of the blob's last save.
    pub tb: i64,
    repos: Vec<Repo>,
    homepages: Vec<String>,
}

/// Picks the blob's version and save time, then builds the envelope.
pub(crate) fn generate(
    seed: u64,
    p: &Params,
    legacy: bool,
    agents: &[Agent],
    mapped: usize,
    ids: &mut Ids,
) -> ItemsOut {
    let mut rng = Rng::stream(seed, 2);
    // Any 8 consecutive seeds cover every persisted version.
    let version: u8 = if legacy { [1u8, 2, 3, 4, 5, 6, 7, 10][(seed % 8) as usize] } else { 10 };
    let tb = if version == 10 && !legacy {
        rng.range(ms(2026, 3, 15, 0, 0, 0), T_END)
    } else {
        let (lo, hi) = version_window(version);
        rng.range(lo + MINUTE, hi.min(T_END) - 1)
    };
    let mut g = ItemsGen { rng, agents, mapped, ids, version, tb, repos: Vec::new(), homepages: Vec::new() };

    // Items, up to the count or the byte budget of the size.
    let budget = p.byte_cap.map(|c| c - 160);
    let mut items: Vec<(i64, Value, ItemRef)> = Vec::with_capacity(p.max_items);
    let mut bytes = 0usize;
    for _ in 0..p.max_items {
        let (item, r) = g.item();
        let value = Value::Object(item);
        if let Some(b) = budget {
            let len = crate::json_len(&value) + 1;
            if bytes + len > b {
                break;
            }
            bytes += len;
        }
        items.push((r.created, value, r));
    }

    // Display order: POST appends; reorder.js moves the listed ids to the front.
    items.sort_by_key(|x| x.0);
    if items.len() > 2 && g.rng.chance(0.7) {
        let n = items.len();
        let moves = (n / 25).max(1);
        for _ in 0..moves {
            let from = g.rng.index(n);
            let it = items.remove(from);
            let to = g.rng.index(n.min(8));
            items.insert(to, it);
        }
    }
    let mut refs = Vec::with_capacity(items.len());
    let mut values = Vec::with_capacity(items.len());
    for (_, v, r) in items {
        values.push(v);
        refs.push(r);
    }

    // Envelope: `{version, items, updatedAt, writeVersion}` in the order JS leaves the keys.
    let mut env = Map::new();
    env.insert("version".into(), Value::from(version));
    env.insert("items".into(), Value::Array(values));
    let drop_updated_at = legacy && version < 10 && g.rng.chance(0.2);
    if !drop_updated_at {
        env.insert("updatedAt".into(), s(iso(g.tb)));
    }
    if g.tb >= T_WRITE_VERSION {
        let wv: i64 = if g.rng.chance(0.15) {
            // Beyond 2^53: exact only if nothing goes through a double.
            if g.rng.chance(0.5) {
                9_007_199_254_740_993
            } else {
                g.rng.range((1i64 << 53) + 1, i64::MAX)
            }
        } else {
            g.rng.range(1, 60_000)
        };
        env.insert("writeVersion".into(), Value::from(wv));
    }
    ItemsOut { value: Value::Object(env), refs }
}

impl ItemsGen<'_> {
    fn pick_agent(&mut self) -> usize {
        let n = self.agents.len();
        if self.rng.chance(0.35) {
            self.rng.index(n.min(12))
        } else {
            self.rng.index(n)
        }
    }

    fn pick_mapped(&mut self) -> usize {
        self.rng.index(self.mapped.min(self.agents.len()))
    }

    /// A time in `[lo, hi]`, biased towards the early (legacy) period; `None` if empty.
    fn action_time(&mut self, lo: i64, hi: i64) -> Option<i64> {
        if lo > hi {
            return None;
        }
        if lo < T_V10 && self.rng.chance(0.3) {
            return Some(self.rng.range(lo, hi.min(T_V10)));
        }
        Some(self.rng.range(lo, hi))
    }

    fn creation_time(&mut self) -> i64 {
        let hi = self.tb - 1;
        if self.rng.chance(0.3) {
            self.rng.range(T_V1, hi.min(T_V10))
        } else {
            self.rng.range(T_V1, hi)
        }
    }

    fn new_repo(&mut self) -> Repo {
        if !self.repos.is_empty() && self.rng.chance(0.03) {
            // Two items on one repository (duplicate homepages across items).
            let i = self.rng.index(self.repos.len());
            return self.repos[i].clone();
        }
        let owner = match self.rng.below(3) {
            0 => (*self.rng.pick(words::ORGS)).to_string(),
            1 => {
                let i = self.pick_mapped();
                self.agents[i].login.clone().unwrap_or_else(|| "aibtcdev".into())
            }
            _ => words::login(&mut self.rng),
        };
        let name = words::slug(&words::project_title(&mut self.rng));
        let homepage = match self.rng.weighted(&[45, 30, 15, 10]) {
            0 => None,
            1 => Some(format!("https://{name}.{}", self.rng.pick(words::SITES))),
            2 => Some(format!("https://{owner}.github.io/{name}")),
            _ => Some(format!("https://www.{name}.{}/", self.rng.pick(words::SITES))),
        };
        let r = Repo { owner, name, homepage };
        self.repos.push(r.clone());
        r
    }

    /// A repository URL as a human typed it, and its github-scan key (`parseGithubUrl`).
    fn repo_url(&mut self, r: &Repo) -> (String, String) {
        let (mut owner, mut name) = (r.owner.clone(), r.name.clone());
        if self.rng.chance(0.08) {
            // Mixed case: GitHub is case-insensitive, v1 keeps the case.
            owner = mixed_case(&owner, &mut self.rng);
            name = mixed_case(&name, &mut self.rng);
        }
        let prefix = ["https://github.com/", "http://github.com/", "https://www.github.com/", "github.com/"]
            [self.rng.weighted(&[88, 3, 5, 4])];
        let suffix =
            ["", ".git", "/", "?tab=readme-ov-file", "#readme", "/tree/main"][self.rng.weighted(&[70, 8, 8, 5, 3, 3])];
        let url = format!("{prefix}{owner}/{name}{suffix}");
        let key = if suffix == ".git" { format!("{owner}/{name}.git") } else { format!("{owner}/{name}") };
        (url, key)
    }

    fn repo_data(&mut self, r: &Repo, fetched: i64) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("type".into(), s("repo"));
        m.insert("number".into(), Value::Null);
        let title =
            if self.rng.chance(0.3) { format!("{}/{}", r.owner, r.name) } else { words::description(&mut self.rng) };
        let title = if title.is_empty() { format!("{}/{}", r.owner, r.name) } else { title };
        m.insert("title".into(), s(title));
        m.insert("state".into(), s(if self.rng.chance(0.06) { "archived" } else { "active" }));
        m.insert("merged".into(), Value::Bool(false));
        m.insert("assignees".into(), Value::Array(vec![]));
        let n = self.rng.urange(0, 5);
        let mut labels: Vec<Value> = Vec::new();
        for _ in 0..n {
            let t = s(*self.rng.pick(words::TOPICS));
            if !labels.contains(&t) {
                labels.push(t);
            }
        }
        m.insert("labels".into(), Value::Array(labels));
        let stars = if self.rng.chance(0.3) { 0 } else { self.rng.range(1, 40).pow(2) };
        m.insert("stars".into(), Value::from(stars));
        if fetched >= T_HOMEPAGE {
            m.insert("homepage".into(), r.homepage.clone().map_or(Value::Null, s));
        }
        if fetched >= T_V7 {
            let login = if self.rng.chance(0.03) { Value::Null } else { s(r.owner.clone()) };
            m.insert("ownerLogin".into(), login);
        }
        m.insert("fetchedAt".into(), s(iso(fetched)));
        m
    }

    fn issue_data(&mut self, kind: UrlKind, number: u64, fetched: i64) -> Map<String, Value> {
        let mut m = Map::new();
        let pr = kind == UrlKind::Pr;
        m.insert("type".into(), s(if pr { "pr" } else { "issue" }));
        m.insert("number".into(), Value::from(number));
        let title = if pr { words::pr_title(&mut self.rng) } else { words::goal_title(&mut self.rng) };
        m.insert("title".into(), s(title));
        let closed = self.rng.chance(0.4);
        m.insert("state".into(), s(if closed { "closed" } else { "open" }));
        m.insert("merged".into(), Value::Bool(pr && closed && self.rng.chance(0.6)));
        let na = self.rng.urange(0, 3);
        let assignees = (0..na)
            .map(|_| {
                let i = self.pick_mapped();
                s(self.agents[i].login.clone().unwrap_or_default())
            })
            .collect();
        m.insert("assignees".into(), Value::Array(assignees));
        let nl = self.rng.urange(0, 3);
        let labels = (0..nl).map(|_| s(*self.rng.pick(words::LABELS))).collect();
        m.insert("labels".into(), Value::Array(labels));
        m.insert("fetchedAt".into(), s(iso(fetched)));
        m
    }

    /// The last successful fetch: mostly within the last hour (refresh runs every 15 min).
    fn fetch_time(&mut self, created: i64) -> i64 {
        if self.rng.chance(0.8) {
            self.rng.range((self.tb - HOUR).max(created), self.tb)
        } else {
            self.rng.range(created, self.tb)
        }
    }

    /// refreshStaleGithubData's 404 bookkeeping (F) on top of `prev`.
    fn not_found(&mut self, mut m: Map<String, Value>, created: i64) -> Option<Value> {
        let lo = created.max(T_WRITE_VERSION);
        if lo >= self.tb {
            return None;
        }
        let n = [1, 2, 3, 4, 5, 6, 8][self.rng.weighted(&[35, 30, 12, 8, 6, 5, 4])];
        let mut t = self.rng.range(lo, lo + (self.tb - lo) / 2);
        for i in 1..=n {
            if i >= 3 && m.get("state").and_then(Value::as_str) != Some("archived") {
                m.insert("state".into(), s("archived"));
            }
            m.insert("_notFoundCount".into(), Value::from(i));
            m.insert("fetchedAt".into(), s(iso(t)));
            t = self.rng.range(t, (t + 2 * HOUR).min(self.tb));
        }
        Some(Value::Object(m))
    }

    /// `githubData` for a URL of `kind`: the variants (A)–(F) of §2.3.1.
    fn github_data(
        &mut self,
        kind: UrlKind,
        created: i64,
        title: &str,
        repo: Option<&Repo>,
        number: Option<u64>,
    ) -> Value {
        let can_404 = self.tb > created.max(T_WRITE_VERSION);
        match kind {
            UrlKind::Repo => {
                let r = repo.expect("a repository");
                let variant = self.rng.weighted(&[70, 8, 5, 5, 12]);
                match variant {
                    1 if created >= T_PLACEHOLDER => {
                        // (B) placeholder: no homepage/ownerLogin keys, fetchedAt null.
                        let mut m = Map::new();
                        m.insert("type".into(), s("repo"));
                        m.insert("number".into(), Value::Null);
                        m.insert("title".into(), s(title));
                        m.insert("state".into(), s("active"));
                        m.insert("merged".into(), Value::Bool(false));
                        m.insert("assignees".into(), Value::Array(vec![]));
                        m.insert("labels".into(), Value::Array(vec![]));
                        m.insert("stars".into(), Value::from(0));
                        m.insert("fetchedAt".into(), Value::Null);
                        Value::Object(m)
                    }
                    2 => Value::Null,
                    3 if can_404 => {
                        let mut m = Map::new();
                        m.insert("_notFound".into(), Value::Bool(true));
                        Value::Object(m)
                    }
                    4 if can_404 => {
                        let prev = match self.rng.weighted(&[40, 10, 30, 20]) {
                            0 => {
                                let t = self.rng.range(created, created.max(T_WRITE_VERSION));
                                self.repo_data(r, t)
                            }
                            1 if created >= T_PLACEHOLDER => {
                                let mut m = Map::new();
                                m.insert("type".into(), s("repo"));
                                m.insert("number".into(), Value::Null);
                                m.insert("title".into(), s(title));
                                m.insert("state".into(), s("active"));
                                m.insert("merged".into(), Value::Bool(false));
                                m.insert("assignees".into(), Value::Array(vec![]));
                                m.insert("labels".into(), Value::Array(vec![]));
                                m.insert("stars".into(), Value::from(0));
                                m.insert("fetchedAt".into(), Value::Null);
                                m
                            }
                            3 => {
                                let mut m = Map::new();
                                m.insert("_notFound".into(), Value::Bool(true));
                                m
                            }
                            _ => Map::new(),
                        };
                        self.not_found(prev, created).unwrap_or(Value::Null)
                    }
                    _ => {
                        let t = self.fetch_time(created);
                        Value::Object(self.repo_data(r, t))
                    }
                }
            }
            UrlKind::Issue | UrlKind::Pr => {
                let number = number.unwrap_or(1);
                match self.rng.weighted(&[85, 10, 5]) {
                    1 => Value::Null,
                    2 if can_404 => {
                        let t = self.rng.range(created, created.max(T_WRITE_VERSION));
                        let m = self.issue_data(kind, number, t);
                        self.not_found(m, created).unwrap_or(Value::Null)
                    }
                    _ => {
                        let t = self.fetch_time(created);
                        Value::Object(self.issue_data(kind, number, t))
                    }
                }
            }
            UrlKind::Empty | UrlKind::Other => Value::Null,
        }
    }

    fn other_url(&mut self) -> String {
        let slug = words::slug(&words::project_title(&mut self.rng));
        match self.rng.below(7) {
            0 => format!("https://gitlab.com/{}/{slug}", words::login(&mut self.rng)),
            1 => format!("https://{slug}.{}", self.rng.pick(words::SITES)),
            2 => "not a url".to_string(),
            3 => "TBD".to_string(),
            4 => format!("https://bitbucket.org/{}/{slug}", words::login(&mut self.rng)),
            5 => format!("ipfs://bafybeig{}", slug.replace('-', "")),
            _ => format!("https://GitHub.com/{}/{slug}", words::login(&mut self.rng)),
        }
    }

    fn deliverable_url(&mut self, repo: Option<&Repo>) -> String {
        match self.rng.below(7) {
            0 | 1 => {
                let slug = words::slug(&words::project_title(&mut self.rng));
                format!("https://{slug}.{}", self.rng.pick(words::SITES))
            }
            2 => match repo {
                Some(r) => {
                    format!("https://github.com/{}/{}/releases/tag/v0.{}.0", r.owner, r.name, self.rng.below(20))
                }
                None => format!("https://github.com/aibtcdev/skills/releases/tag/v0.{}.0", self.rng.below(20)),
            },
            3 => format!("https://x.com/{}/status/{}", words::login(&mut self.rng), self.rng.range(1 << 40, 1 << 60)),
            4 => format!("https://www.youtube.com/watch?v={:x}", self.rng.next_u64()),
            5 => format!("ipfs://bafybei{:016x}", self.rng.next_u64()),
            _ => format!("http://localhost:{}/demo", self.rng.range(3000, 9000)),
        }
    }

    /// One item, as a JSON object, with what the other keys need to know about it.
    pub(crate) fn item(&mut self) -> (Map<String, Value>, ItemRef) {
        let agents = self.agents;
        let v = self.version;
        let tb = self.tb;
        let created = self.creation_time();
        let era = version_at(created);
        let act = [0.15, 0.5, 1.0, 1.6, 2.6][self.rng.weighted(&[20, 25, 28, 17, 10])];
        let mut bumps: Vec<i64> = vec![created];

        let id = self.ids.make(&mut self.rng, Prefix::Item);
        let title0 = words::project_title(&mut self.rng);
        // PUT trims without checking emptiness.
        let title = if self.rng.chance(0.04) { String::new() } else { title0.clone() };
        if title.is_empty() {
            bumps.push(self.rng.range(created, tb));
        }
        let description = words::description(&mut self.rng);

        let kind = if created < T_REPO_ONLY {
            [UrlKind::Repo, UrlKind::Issue, UrlKind::Pr, UrlKind::Empty, UrlKind::Other]
                [self.rng.weighted(&[60, 15, 10, 5, 10])]
        } else {
            // Later changed by a PUT (never validated).
            [UrlKind::Repo, UrlKind::Issue, UrlKind::Pr, UrlKind::Empty, UrlKind::Other]
                [self.rng.weighted(&[86, 3, 3, 3, 5])]
        };
        let repo = match kind {
            UrlKind::Repo | UrlKind::Issue | UrlKind::Pr => Some(self.new_repo()),
            _ => None,
        };
        let number = matches!(kind, UrlKind::Issue | UrlKind::Pr).then(|| self.rng.range(1, 400) as u64);
        let (github_url, scan_key) = match kind {
            UrlKind::Repo => {
                let (u, k) = self.repo_url(repo.as_ref().unwrap());
                (u, Some(k))
            }
            UrlKind::Issue | UrlKind::Pr => {
                let r = repo.as_ref().unwrap();
                let seg = if kind == UrlKind::Pr { "pull" } else { "issues" };
                (format!("https://github.com/{}/{}/{seg}/{}", r.owner, r.name, number.unwrap_or(1)), None)
            }
            UrlKind::Empty => (String::new(), None),
            UrlKind::Other => (self.other_url(), None),
        };
        let github_data = self.github_data(kind, created, &title0, repo.as_ref(), number);
        if let Some(t) = github_data.get("fetchedAt").and_then(Value::as_str) {
            if github_data.get("type").is_some() && github_data.get("_notFoundCount").is_none() {
                bumps.push(parse_iso_ms(t));
            }
        }
        let gh_homepage = github_data.get("homepage").and_then(Value::as_str).map(str::to_string);

        // POST: founder, first contributor and (since v6) leader are one snapshot.
        let founder_i = self.pick_agent();
        let founder = &agents[founder_i];
        let founder_id = Snap::raw_id(&mut self.rng, founder);
        let founder_name = founder.name.clone();
        let mut founder_m = Map::new();
        founder_m.insert("displayName".into(), s(founder_name.clone()));
        founder_m.insert("btcAddress".into(), s(founder.btc.clone()));
        if let Some(x) = &founder_id {
            founder_m.insert("agentId".into(), x.clone());
        }
        founder_m.insert("profileUrl".into(), s(profile_url(&founder.btc)));
        let mut founder_c = Map::new();
        founder_c.insert("btcAddress".into(), s(founder.btc.clone()));
        founder_c.insert("displayName".into(), s(founder_name.clone()));
        if let Some(x) = &founder_id {
            founder_c.insert("agentId".into(), x.clone());
        }

        let mut actors: Vec<(i64, usize, Src)> = Vec::new();

        // claimedBy (v2+)
        let mut claim: Option<(i64, Map<String, Value>)> = None;
        if v >= 2 && self.rng.chance(0.3) {
            if let Some(t) = self.action_time(created.max(T_V2), tb) {
                let a = self.pick_agent();
                let mut m = Snap::auth(&mut self.rng, &agents[a]);
                m.insert("claimedAt".into(), s(iso(t)));
                actors.push((t, a, Src::Put));
                bumps.push(t);
                claim = Some((t, m));
            }
        }

        // leader (v6+)
        let mut leader: Option<Value> = None;
        let mut leader_initial: Option<usize> = None;
        let mut leader_transfer: Option<(i64, usize)> = None;
        if v >= 6 {
            if self.rng.chance(0.015) {
                leader = Some(Value::Null);
            } else {
                let (mut m, initial) = if created >= T_V6 {
                    let mut m = Map::new();
                    m.insert("btcAddress".into(), s(founder.btc.clone()));
                    m.insert("displayName".into(), s(founder_name.clone()));
                    if let Some(x) = &founder_id {
                        m.insert("agentId".into(), x.clone());
                    }
                    m.insert("profileUrl".into(), s(profile_url(&founder.btc)));
                    m.insert("assignedAt".into(), s(iso(created)));
                    m.insert("lastActiveAt".into(), s(iso(created)));
                    (m, founder_i)
                } else {
                    // The v6 step: built from claimedBy || founder.
                    let step = self.rng.range(T_V6, (T_V6 + 2 * HOUR).min(tb));
                    // item.updatedAt when the step ran: at least the claim's time.
                    let claimed = claim.as_ref().map(|(t, _)| *t).filter(|t| *t < step).unwrap_or(created);
                    let last = self.rng.range(created.max(claimed), step);
                    let mut m = Map::new();
                    let (src, assigned, initial) = match &claim {
                        Some((t, c)) if *t < step => {
                            let idx = agents.iter().position(|a| Some(a.btc.as_str()) == c["btcAddress"].as_str());
                            (c.clone(), c["claimedAt"].as_str().unwrap().to_string(), idx.unwrap_or(founder_i))
                        }
                        _ => (founder_m.clone(), iso(created), founder_i),
                    };
                    m.insert("btcAddress".into(), src["btcAddress"].clone());
                    m.insert("displayName".into(), src["displayName"].clone());
                    if let Some(x) = src.get("agentId") {
                        m.insert("agentId".into(), x.clone());
                    }
                    let purl = src
                        .get("profileUrl")
                        .cloned()
                        .unwrap_or_else(|| s(profile_url(src["btcAddress"].as_str().unwrap_or_default())));
                    m.insert("profileUrl".into(), purl);
                    m.insert("assignedAt".into(), s(assigned));
                    m.insert("lastActiveAt".into(), s(iso(last)));
                    (m, initial)
                };
                leader_initial = Some(initial);
                if self.rng.chance(0.15) {
                    if let Some(t) = self.action_time(created.max(T_V6), tb) {
                        let a = self.pick_agent();
                        let mut n = Map::new();
                        n.insert("btcAddress".into(), s(agents[a].btc.clone()));
                        n.insert("displayName".into(), s(Snap::name(&mut self.rng, &agents[a])));
                        if let Some(x) = Snap::raw_id(&mut self.rng, &agents[a]) {
                            n.insert("agentId".into(), x);
                        }
                        n.insert("profileUrl".into(), s(profile_url(&agents[a].btc)));
                        n.insert("assignedAt".into(), s(iso(t)));
                        n.insert("lastActiveAt".into(), s(iso(t)));
                        m = n;
                        actors.push((t, a, Src::Put));
                        bumps.push(t);
                        leader_transfer = Some((t, a));
                    }
                }
                if self.rng.chance(0.5) {
                    let assigned = parse_iso_ms(m["assignedAt"].as_str().unwrap());
                    let last = parse_iso_ms(m["lastActiveAt"].as_str().unwrap());
                    let t = self.rng.range(last.max(assigned), tb);
                    m.insert("lastActiveAt".into(), s(iso(t)));
                    bumps.push(t);
                }
                leader = Some(Value::Object(m));
            }
        }
        let leader_at = |t: i64| -> Option<usize> {
            match leader_transfer {
                Some((tt, a)) if t >= tt => Some(a),
                _ => leader_initial,
            }
        };

        // deliverables (v2+): manual (with id) and merged PRs (no id, since v7).
        let mut deliverables: Option<Vec<(i64, Value)>> = None;
        if v >= 2 {
            let mut ds: Vec<(i64, Value)> = Vec::new();
            let n = self.rng.count(MEAN_DELIVERABLES * act);
            let mut last_manual_url: Option<String> = None;
            let mut pr_urls: HashSet<String> = HashSet::new();
            let mut pr_number = self.rng.range(0, 40) as u64;
            for _ in 0..n {
                let Some(t) = self.action_time(created.max(T_V2), tb) else { break };
                if kind == UrlKind::Repo && t >= T_V7 && self.rng.chance(0.45) {
                    let r = repo.as_ref().unwrap();
                    pr_number += self.rng.range(1, 6) as u64;
                    let url = format!("https://github.com/{}/{}/pull/{pr_number}", r.owner, r.name);
                    if !pr_urls.insert(url.clone()) {
                        continue;
                    }
                    let mut m = Map::new();
                    m.insert("title".into(), s(words::pr_title(&mut self.rng)));
                    m.insert("url".into(), s(url));
                    m.insert("addedAt".into(), s(iso(t)));
                    let by = if self.rng.chance(0.65) {
                        let a = self.pick_mapped();
                        actors.push((t, a, Src::Github));
                        Snap::resolved(&mut self.rng, &agents[a])
                    } else {
                        let mut m = Map::new();
                        let login =
                            if self.rng.chance(0.15) { "unknown".to_string() } else { words::login(&mut self.rng) };
                        m.insert("displayName".into(), s(login));
                        m
                    };
                    m.insert("addedBy".into(), Value::Object(by));
                    ds.push((t, Value::Object(m)));
                } else {
                    let url = match &last_manual_url {
                        Some(u) if self.rng.chance(0.05) => u.clone(),
                        _ => self.deliverable_url(repo.as_ref()),
                    };
                    last_manual_url = Some(url.clone());
                    let title = match self.rng.below(9) {
                        0 | 1 => url.clone(),
                        2 => "Live board".to_string(),
                        3 => format!("Release v0.{} — changelog, binaries and migration notes", self.rng.below(10)),
                        4 => "Demo video — 3 min walkthrough of the agent flow".to_string(),
                        5 => "Docs | getting started, API reference and examples".to_string(),
                        6 => format!("{} ({})", words::goal_title(&mut self.rng), words::pr_title(&mut self.rng)),
                        _ => words::pr_title(&mut self.rng),
                    };
                    let a = self.pick_agent();
                    let mut m = Map::new();
                    m.insert("id".into(), s(self.ids.make(&mut self.rng, Prefix::Deliverable)));
                    m.insert("url".into(), s(url));
                    m.insert("title".into(), s(title));
                    m.insert("addedBy".into(), Value::Object(Snap::auth(&mut self.rng, &agents[a])));
                    m.insert("addedAt".into(), s(iso(t)));
                    actors.push((t, a, Src::Put));
                    bumps.push(t);
                    ds.push((t, Value::Object(m)));
                }
            }
            ds.sort_by_key(|x| x.0);
            deliverables = Some(ds);
        }

        // ratings + reputation (v3+)
        let mut ratings: Option<Vec<Value>> = None;
        let mut reputation: Option<Value> = None;
        if v >= 3 {
            let n = self.rng.count(MEAN_RATINGS * act).min(agents.len().saturating_sub(1));
            let mut who: HashSet<usize> = HashSet::new();
            let mut rs: Vec<(i64, u64, Value)> = Vec::new();
            let mut tries = 0;
            while rs.len() < n && tries < n * 4 {
                tries += 1;
                let a = self.pick_agent();
                if !who.insert(a) {
                    continue;
                }
                let Some(t) = self.action_time(created.max(T_V3), tb) else { break };
                let score = [1u64, 2, 3, 4, 5][self.rng.weighted(&[5, 7, 15, 35, 38])];
                let mut m = Map::new();
                if let Some(x) = Snap::raw_id(&mut self.rng, &agents[a]) {
                    m.insert("agentId".into(), x);
                }
                m.insert("btcAddress".into(), s(agents[a].btc.clone()));
                m.insert("displayName".into(), s(Snap::name(&mut self.rng, &agents[a])));
                m.insert("score".into(), Value::from(score));
                let review = if self.rng.chance(0.3) { Value::Null } else { s(words::review(&mut self.rng)) };
                m.insert("review".into(), review);
                m.insert("ratedAt".into(), s(iso(t)));
                actors.push((t, a, Src::Put));
                bumps.push(t);
                rs.push((t, score, Value::Object(m)));
            }
            rs.sort_by_key(|x| x.0);
            // A lost update can leave the reputation one rating behind.
            let counted = if !rs.is_empty() && self.rng.chance(0.03) { rs.len() - 1 } else { rs.len() };
            let sum: u64 = rs[..counted].iter().map(|x| x.1).sum();
            let mut rep = Map::new();
            rep.insert("average".into(), tenths(sum, counted as u64));
            rep.insert("count".into(), Value::from(counted));
            reputation = Some(Value::Object(rep));
            ratings = Some(rs.into_iter().map(|x| x.2).collect());
        }

        // goals (v4+) and goalHistory (v7+)
        let mut goals: Option<Vec<Value>> = None;
        let mut history: Vec<Value> = Vec::new();
        if v >= 4 {
            let n = self.rng.count(MEAN_GOAL_ADDS * act);
            let mut times: Vec<i64> = (0..n).filter_map(|_| self.action_time(created.max(T_V4), tb)).collect();
            times.sort_unstable();
            let mut current: Vec<(i64, Map<String, Value>)> = Vec::new();
            for &t in &times {
                let adder = match leader_at(t) {
                    Some(l) if t >= T_LEADER_GOALS => l,
                    _ if self.rng.chance(0.6) => founder_i,
                    _ => self.pick_agent(),
                };
                let mut m = Map::new();
                m.insert("id".into(), s(self.ids.make(&mut self.rng, Prefix::Goal)));
                m.insert("title".into(), s(words::goal_title(&mut self.rng)));
                m.insert("completed".into(), Value::Bool(false));
                m.insert("addedBy".into(), Value::Object(Snap::auth(&mut self.rng, &agents[adder])));
                m.insert("addedAt".into(), s(iso(t)));
                m.insert("completedAt".into(), Value::Null);
                actors.push((t, adder, Src::Put));
                bumps.push(t);
                if t >= T_V7 {
                    for (at, g) in current.drain(..) {
                        history.push(self.complete(g, at, t, &mut bumps));
                    }
                }
                current.push((t, m));
            }
            goals = Some(current.into_iter().map(|(at, g)| self.complete(g, at, tb, &mut bumps)).collect());
        }

        // mentions (v5+)
        let mut mentions: Option<Value> = None;
        if v >= 5 {
            let count = match self.rng.weighted(&[50, 35, 15]) {
                0 => 0,
                1 => self.rng.range(1, 10),
                _ => self.rng.range(10, 80),
            };
            for _ in 0..count.min(3) {
                if self.rng.chance(0.5) {
                    if let Some(t) = self.action_time(created.max(T_V5), tb) {
                        let a = self.rng.index(agents.len());
                        actors.push((t, a, Src::Mention));
                    }
                }
            }
            let mut m = Map::new();
            m.insert("count".into(), Value::from(count));
            mentions = Some(Value::Object(m));
        }

        // searchTerms (v7+): the step gave [] to items that existed; later items lack the key.
        let mut search_terms: Option<Value> = None;
        if v >= 7 {
            let choice = if created < T_V7 {
                [1, 2][self.rng.weighted(&[65, 35])]
            } else {
                [0, 1, 2][self.rng.weighted(&[45, 15, 40])]
            };
            if choice > 0 {
                let mut terms: Vec<Value> = Vec::new();
                if choice == 2 {
                    let n = 1 + self.rng.count(MEAN_SEARCH_TERMS * act);
                    for _ in 0..n {
                        if !terms.is_empty() && self.rng.chance(0.06) {
                            let d = terms[self.rng.index(terms.len())].clone();
                            terms.push(d);
                        } else {
                            terms.push(s(words::search_term(&mut self.rng)));
                        }
                    }
                }
                if choice == 2 || created >= T_V7 {
                    if let Some(t) = self.action_time(created.max(T_V7), tb) {
                        bumps.push(t);
                    }
                }
                search_terms = Some(Value::Array(terms));
            }
        }

        // website (v10): the v8 step, the v10 clear, then discoverWebsites.
        let mut website: Option<Value> = None;
        if v >= 10 {
            let discovered = |g: &mut Self, t: i64, deliverables: &Option<Vec<(i64, Value)>>| -> Value {
                let homepage = repo.as_ref().and_then(|r| r.homepage.clone());
                let source = match (&homepage, g.rng.weighted(&[40, 15, 15, 15, 15])) {
                    (Some(_), 0) => "homepage",
                    (_, 1) => "description",
                    (_, 2) => "readme",
                    (_, 3) => "deliverable",
                    _ => "message",
                };
                let url = if source == "homepage" {
                    gh_homepage.clone().or(homepage).unwrap()
                } else if !g.homepages.is_empty() && g.rng.chance(0.03) {
                    g.homepages[g.rng.index(g.homepages.len())].clone()
                } else if source == "deliverable" {
                    deliverables
                        .as_ref()
                        .and_then(|d| d.iter().find_map(|(_, x)| x.get("id").and(x.get("url")?.as_str())))
                        .map(str::to_string)
                        .unwrap_or_else(|| {
                            format!("https://{}.pages.dev", words::slug(&words::project_title(&mut g.rng)))
                        })
                } else {
                    let slug = words::slug(&words::project_title(&mut g.rng));
                    format!("https://{slug}.{}", g.rng.pick(words::SITES))
                };
                let mut m = Map::new();
                m.insert("url".into(), s(url));
                m.insert("source".into(), s(source));
                m.insert("discoveredAt".into(), s(iso(t)));
                Value::Object(m)
            };
            if created < T_V10 {
                let step = self.rng.range(T_V10, (T_V10 + 3 * HOUR).min(tb));
                let mut w = match &gh_homepage {
                    Some(h) => {
                        let mut m = Map::new();
                        m.insert("url".into(), s(h.clone()));
                        m.insert("source".into(), s("homepage"));
                        m.insert("discoveredAt".into(), s(iso(step)));
                        Value::Object(m)
                    }
                    None => Value::Null,
                };
                if w.is_null() && self.rng.chance(0.35) {
                    let t = self.rng.range(step, tb);
                    w = discovered(self, t, &deliverables);
                    bumps.push(t);
                } else if !w.is_null() && self.rng.chance(0.05) {
                    w = Value::Null;
                }
                website = Some(w);
            } else {
                match self.rng.weighted(&[45, 40, 15]) {
                    0 => {}
                    1 => {
                        let t = self.rng.range(created, tb);
                        bumps.push(t);
                        website = Some(discovered(self, t, &deliverables));
                    }
                    _ => website = Some(Value::Null),
                }
            }
            if let Some(h) = &gh_homepage {
                self.homepages.push(h.clone());
            }
        }

        // contributors: the founder, then every agent added later, in insertion order.
        let n_extra = self.rng.count(MEAN_EXTRA_CONTRIBUTORS * act);
        for _ in 0..n_extra {
            let src = [Src::Put, Src::Mention, Src::Github][self.rng.weighted(&[50, 25, 25])];
            let (lo, src) = match src {
                Src::Mention if v >= 5 => (created.max(T_V5), Src::Mention),
                Src::Github if v >= 7 && kind == UrlKind::Repo => (created.max(T_V7), Src::Github),
                _ => (created, Src::Put),
            };
            let Some(t) = self.action_time(lo, tb) else { continue };
            let a = if src == Src::Github { self.pick_mapped() } else { self.pick_agent() };
            if src == Src::Put {
                bumps.push(t);
            }
            actors.push((t, a, src));
        }
        actors.sort_by_key(|x| x.0);
        let mut seen: HashSet<&str> = HashSet::new();
        seen.insert(&founder.btc);
        let mut contributors = vec![Value::Object(founder_c)];
        for &(t, a, src) in &actors {
            let ag = &agents[a];
            if !seen.insert(&ag.btc) {
                continue;
            }
            let m = match src {
                Src::Put if t >= T_V7 => {
                    let mut m = Map::new();
                    m.insert("btcAddress".into(), s(ag.btc.clone()));
                    m.insert("displayName".into(), s(Snap::name(&mut self.rng, ag)));
                    m.insert("agentId".into(), Snap::or_null_id(&mut self.rng, ag));
                    m
                }
                Src::Put => Snap::auth(&mut self.rng, ag),
                Src::Mention => {
                    let mut m = Snap::feed(&mut self.rng, ag, 0.2);
                    m.insert("agentId".into(), Value::Null);
                    m
                }
                Src::Github => Snap::resolved(&mut self.rng, ag),
            };
            contributors.push(Value::Object(m));
        }

        // status: stale; see §2.3.13.
        let status = if created < T_V2 {
            if self.rng.chance(0.3) {
                (*self.rng.pick(words::ODD_STATUSES)).to_string()
            } else {
                ["todo", "in-progress", "done"][self.rng.weighted(&[50, 30, 20])].to_string()
            }
        } else if created < T_DERIVED {
            ["todo", "in-progress", "done", "blocked", "shipped", "paid"][self.rng.weighted(&[30, 30, 15, 8, 10, 7])]
                .to_string()
        } else {
            derive_status(&github_data).to_string()
        };

        let updated = bumps.into_iter().filter(|&t| t <= tb).max().unwrap_or(created);

        // Assemble in the key order v1 leaves: the POST keys of the code at `createdAt`, then
        // the keys added later.
        let mut fields: Vec<(&'static str, Value)> = vec![
            ("id", s(id.clone())),
            ("title", s(title.clone())),
            ("description", s(description)),
            ("githubUrl", s(github_url)),
            ("githubData", github_data),
            ("founder", Value::Object(founder_m)),
            ("contributors", Value::Array(contributors)),
            ("status", s(status)),
            ("createdAt", s(iso(created))),
            ("updatedAt", s(iso(updated))),
        ];
        if v >= 2 {
            fields.push(("claimedBy", claim.map_or(Value::Null, |(_, m)| Value::Object(m))));
            fields.push(("deliverables", Value::Array(deliverables.unwrap().into_iter().map(|x| x.1).collect())));
        }
        if let (Some(r), Some(rep)) = (ratings, reputation) {
            fields.push(("ratings", Value::Array(r)));
            fields.push(("reputation", rep));
        }
        if let Some(gs) = goals {
            fields.push(("goals", Value::Array(gs)));
        }
        if let Some(m) = mentions {
            fields.push(("mentions", m));
        }
        if let Some(l) = leader.clone() {
            fields.push(("leader", l));
        }
        if !history.is_empty() {
            fields.push(("goalHistory", Value::Array(history)));
        }
        if let Some(st) = search_terms {
            fields.push(("searchTerms", st));
        }
        if let Some(w) = website {
            fields.push(("website", w));
        }
        fields.sort_by_key(|(k, _)| key_rank(k, era));
        let mut item = Map::new();
        for (k, v) in fields {
            item.insert(k.to_string(), v);
        }

        let r = ItemRef {
            id,
            title,
            created,
            scan_key,
            repo_url: repo.as_ref().map(|r| format!("https://github.com/{}/{}", r.owner, r.name)),
            founder: founder_i,
            leader: if matches!(leader, Some(Value::Object(_))) { leader_at(tb) } else { None },
        };
        (item, r)
    }

    /// complete_goal toggles: done between `from` and `until`, sometimes reopened.
    fn complete(&mut self, mut g: Map<String, Value>, from: i64, until: i64, bumps: &mut Vec<i64>) -> Value {
        if self.rng.chance(0.45) {
            let t = self.rng.range(from, until.max(from));
            bumps.push(t);
            if self.rng.chance(0.1) {
                // Reopened: completedAt back to null.
                return Value::Object(g);
            }
            g.insert("completed".into(), Value::Bool(true));
            g.insert("completedAt".into(), s(iso(t)));
        }
        Value::Object(g)
    }
}

/// The position of an item key: the POST keys of the code version `era` first, in its order,
/// then keys that later PUTs and migration steps appended.
fn key_rank(key: &str, era: u8) -> usize {
    let post: &[&str] = match era {
        1 => &[
            "id",
            "title",
            "description",
            "githubUrl",
            "githubData",
            "founder",
            "contributors",
            "status",
            "createdAt",
            "updatedAt",
        ],
        2 => &[
            "id",
            "title",
            "description",
            "githubUrl",
            "githubData",
            "founder",
            "contributors",
            "status",
            "claimedBy",
            "deliverables",
            "createdAt",
            "updatedAt",
        ],
        3 => &[
            "id",
            "title",
            "description",
            "githubUrl",
            "githubData",
            "founder",
            "contributors",
            "status",
            "claimedBy",
            "deliverables",
            "ratings",
            "reputation",
            "createdAt",
            "updatedAt",
        ],
        4 => &[
            "id",
            "title",
            "description",
            "githubUrl",
            "githubData",
            "founder",
            "contributors",
            "status",
            "claimedBy",
            "deliverables",
            "ratings",
            "reputation",
            "goals",
            "createdAt",
            "updatedAt",
        ],
        5 => &[
            "id",
            "title",
            "description",
            "githubUrl",
            "githubData",
            "founder",
            "contributors",
            "status",
            "claimedBy",
            "deliverables",
            "ratings",
            "reputation",
            "goals",
            "mentions",
            "createdAt",
            "updatedAt",
        ],
        _ => &[
            "id",
            "title",
            "description",
            "githubUrl",
            "githubData",
            "founder",
            "contributors",
            "leader",
            "status",
            "claimedBy",
            "deliverables",
            "ratings",
            "reputation",
            "goals",
            "mentions",
            "createdAt",
            "updatedAt",
        ],
    };
    const LATER: &[&str] = &[
        "claimedBy",
        "deliverables",
        "ratings",
        "reputation",
        "goals",
        "mentions",
        "leader",
        "goalHistory",
        "searchTerms",
        "website",
    ];
    if let Some(i) = post.iter().position(|k| *k == key) {
        return i;
    }
    100 + LATER.iter().position(|k| *k == key).unwrap_or(99)
}

/// v1's `deriveStatus`.
pub(crate) fn derive_status(gd: &Value) -> &'static str {
    let Some(t) = gd.get("type").and_then(Value::as_str) else { return "todo" };
    let state = gd.get("state").and_then(Value::as_str);
    match t {
        "repo" => {
            if state == Some("archived") {
                "done"
            } else {
                "in-progress"
            }
        }
        "pr" => {
            if gd.get("merged") == Some(&Value::Bool(true)) {
                "done"
            } else if state == Some("closed") {
                "blocked"
            } else {
                "in-progress"
            }
        }
        _ => {
            if state == Some("closed") {
                "done"
            } else {
                "in-progress"
            }
        }
    }
}

fn mixed_case(x: &str, rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => x.to_uppercase(),
        1 => {
            let mut up = true;
            x.chars()
                .map(|c| {
                    let r = if up { c.to_ascii_uppercase() } else { c };
                    up = !c.is_ascii_alphanumeric();
                    r
                })
                .collect()
        }
        _ => {
            let mut c = x.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        }
    }
}

/// Parses what [`iso`] writes.
pub(crate) fn parse_iso_ms(t: &str) -> i64 {
    let b = t.as_bytes();
    let n = |r: std::ops::Range<usize>| -> i64 { t[r].parse().unwrap_or(0) };
    debug_assert_eq!(b.len(), 24);
    let days = days_from_civil(n(0..4), n(5..7), n(8..10));
    days * DAY + n(11..13) * HOUR + n(14..16) * MINUTE + n(17..19) * 1000 + n(20..23)
}
