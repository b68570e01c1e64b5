//! The pool of agents that the generated data refers to, and their snapshots.
//!
//! The same agent appears in many places (founder, leader, contributors, events, …), each a
//! snapshot taken at a different time, so `displayName` and `agentId` may disagree between them.

use serde_json::{Map, Value};

use crate::rng::Rng;
use crate::words;

/// `erc8004AgentId` as aibtc.com returned it.
#[derive(Debug, Clone)]
pub(crate) enum AgentId {
    Num(u64),
    /// `0` is a valid id, but `|| null` turns it into `null`.
    Zero,
    Null,
    /// A later rewrite typed the id as a string.
    Str(String),
    Absent,
}

#[derive(Debug, Clone)]
pub(crate) struct Agent {
    pub btc: String,
    pub name: String,
    /// The name an older snapshot may carry.
    pub old_name: Option<String>,
    pub id: AgentId,
    /// The GitHub login mapped to this agent in `roadmap:github-map` (lowercase), if any.
    pub login: Option<String>,
    pub stx: Option<String>,
    /// `description` of the `getAgent` cache shape: absent, `null` or a string.
    pub description: Option<Option<String>>,
}

/// The five mappings v1 seeds `roadmap:github-map` with, and their agents.
pub(crate) const SEED_AGENTS: &[(&str, &str, &str)] = &[
    ("cedarxyz", "bc1q7zpy3kpxjzrfctz4en9k2h5sp8nwhctgz54sn5", "Ionic Anvil"),
    ("secret-mars", "bc1qqaxq5vxszt0lzmr9gskv4lcx7jzrg772s4vxpp", "Secret Mars"),
    ("cocoa007", "bc1qv8dt3v9kx3l7r9mnz2gj9r9n9k63frn6w6zmrt", "Fluid Briar"),
    ("sonic-mast", "bc1qd0z0a8z8am9j84fk3lk5g2hutpxcreypnf2p47", "Sonic Mast"),
    ("arc0btc", "bc1qlezz2cgktx0t680ymrytef92wxksywx0jaw933", "Trustless Indra"),
];

const BECH32: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const C32: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn chars(rng: &mut Rng, alphabet: &[u8], n: usize) -> String {
    (0..n).map(|_| char::from(alphabet[rng.index(alphabet.len())])).collect()
}

pub(crate) fn btc_address(rng: &mut Rng) -> String {
    if rng.chance(0.1) {
        format!("bc1p{}", chars(rng, BECH32, 58))
    } else {
        format!("bc1q{}", chars(rng, BECH32, 38))
    }
}

fn agent_id(rng: &mut Rng) -> AgentId {
    match rng.weighted(&[55, 4, 20, 15, 6]) {
        0 => AgentId::Num(rng.range(1, 4000) as u64),
        1 => AgentId::Zero,
        2 => AgentId::Null,
        3 => AgentId::Absent,
        _ => AgentId::Str(rng.range(1, 4000).to_string()),
    }
}

/// `n` agents: the five seed agents first, then generated ones.
pub(crate) fn pool(rng: &mut Rng, n: usize, mapped_extra: usize) -> Vec<Agent> {
    let mut agents = Vec::with_capacity(n.max(SEED_AGENTS.len()));
    let seed_ids = [AgentId::Num(2), AgentId::Num(5), AgentId::Absent, AgentId::Null, AgentId::Zero];
    for (i, (login, btc, name)) in SEED_AGENTS.iter().enumerate() {
        agents.push(Agent {
            btc: (*btc).to_string(),
            name: (*name).to_string(),
            old_name: None,
            id: seed_ids[i].clone(),
            login: Some((*login).to_string()),
            stx: Some(format!("SP{}", chars(rng, C32, 39))),
            description: Some(Some("Autonomous agent".to_string())),
        });
    }
    let mut logins: std::collections::HashSet<String> = SEED_AGENTS.iter().map(|(l, _, _)| (*l).to_string()).collect();
    let mut btcs: std::collections::HashSet<String> = agents.iter().map(|a| a.btc.clone()).collect();
    while agents.len() < n {
        let btc = btc_address(rng);
        if !btcs.insert(btc.clone()) {
            continue;
        }
        // Some agents never set a name: getAgent falls back to `btcAddress.slice(0, 12)`.
        let name = if rng.chance(0.06) { btc[..12].to_string() } else { words::agent_name(rng) };
        let old_name = rng.chance(0.15).then(|| words::agent_name(rng));
        let login = if agents.len() < SEED_AGENTS.len() + mapped_extra {
            let mut l = words::login(rng);
            while !logins.insert(l.clone()) {
                l = format!("{l}{}", rng.below(10));
            }
            Some(l)
        } else {
            None
        };
        let stx = rng.chance(0.8).then(|| format!("SP{}", chars(rng, C32, 39)));
        let description = match rng.below(4) {
            0 => None,
            1 => Some(None),
            _ => Some(Some(format!("{} agent", rng.pick(&["Autonomous", "Trading", "Research", "Builder"])))),
        };
        agents.push(Agent { btc, name, old_name, id: agent_id(rng), login, stx, description });
    }
    agents
}

/// Snapshot helpers; they draw from the caller's stream.
pub(crate) struct Snap;

impl Snap {
    /// `agent.agentId` copied raw (`None` = absent). Now and then an older snapshot, taken before
    /// the agent registered its id.
    pub(crate) fn raw_id(rng: &mut Rng, a: &Agent) -> Option<Value> {
        if rng.chance(0.06) {
            return if rng.chance(0.5) { None } else { Some(Value::Null) };
        }
        match &a.id {
            AgentId::Num(n) => Some(Value::from(*n)),
            AgentId::Zero => Some(Value::from(0u64)),
            AgentId::Null => Some(Value::Null),
            AgentId::Str(s) => Some(Value::String(s.clone())),
            AgentId::Absent => None,
        }
    }

    /// `agent.agentId || null`: never absent, `0` becomes `null`.
    pub(crate) fn or_null_id(rng: &mut Rng, a: &Agent) -> Value {
        match Self::raw_id(rng, a) {
            None => Value::Null,
            Some(Value::Number(n)) if n.as_u64() == Some(0) => Value::Null,
            Some(Value::String(s)) if s.is_empty() => Value::Null,
            Some(v) => v,
        }
    }

    pub(crate) fn name(rng: &mut Rng, a: &Agent) -> String {
        match &a.old_name {
            Some(old) if rng.chance(0.08) => old.clone(),
            _ => a.name.clone(),
        }
    }

    /// `{btcAddress, displayName, agentId(|absent)}`: an authenticated agent (PUT paths).
    pub(crate) fn auth(rng: &mut Rng, a: &Agent) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("btcAddress".into(), Value::String(a.btc.clone()));
        m.insert("displayName".into(), Value::String(Self::name(rng, a)));
        if let Some(id) = Self::raw_id(rng, a) {
            m.insert("agentId".into(), id);
        }
        m
    }

    /// `{btcAddress, displayName, agentId: number|null}`: `resolveGithubUser` (shape b).
    pub(crate) fn resolved(rng: &mut Rng, a: &Agent) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("btcAddress".into(), Value::String(a.btc.clone()));
        // `displayName || <github login>`.
        let name = match &a.login {
            Some(l) if rng.chance(0.05) => l.clone(),
            _ => Self::name(rng, a),
        };
        m.insert("displayName".into(), Value::String(name));
        m.insert("agentId".into(), Self::or_null_id(rng, a));
        m
    }

    /// A sender or recipient taken from the activity feed: `displayName` may be absent.
    pub(crate) fn feed(rng: &mut Rng, a: &Agent, p_no_name: f64) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("btcAddress".into(), Value::String(a.btc.clone()));
        if !rng.chance(p_no_name) {
            m.insert("displayName".into(), Value::String(Self::name(rng, a)));
        }
        m
    }
}
