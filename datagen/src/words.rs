//! Word lists and small text generators (titles, descriptions, reviews, …).

use crate::rng::Rng;

pub(crate) const ADJ: &[&str] = &[
    "Ionic",
    "Secret",
    "Fluid",
    "Sonic",
    "Trustless",
    "Swift",
    "Quiet",
    "Amber",
    "Cobalt",
    "Lunar",
    "Solar",
    "Crimson",
    "Silent",
    "Hidden",
    "Brave",
    "Clever",
    "Frosty",
    "Golden",
    "Rapid",
    "Stellar",
    "Velvet",
    "Wild",
    "Zen",
    "Noble",
    "Mystic",
    "Iron",
    "Copper",
    "Neon",
    "Atomic",
    "Cosmic",
    "Digital",
    "Electric",
    "Gentle",
    "Hollow",
    "Jade",
    "Keen",
];

pub(crate) const NOUN: &[&str] = &[
    "Anvil", "Mars", "Briar", "Mast", "Indra", "Falcon", "Otter", "Comet", "Harbor", "Lantern", "Meadow", "Beacon",
    "Cipher", "Dynamo", "Ember", "Fjord", "Glacier", "Horizon", "Kestrel", "Lynx", "Nimbus", "Orchid", "Pebble",
    "Quasar", "Raven", "Sparrow", "Tundra", "Vertex", "Willow", "Zephyr", "Badger", "Cedar", "Drift", "Echo",
];

/// Display names with non-ASCII characters, used now and then.
pub(crate) const ODD_NAMES: &[&str] =
    &["Zoë Quasar", "Björn Relay", "Agent 🤖 Nine", "Señor Satoshi", "Ωmega Node", "李 Lantern"];

pub(crate) const PROJECT_A: &[&str] = &[
    "Agent",
    "Bitcoin",
    "Stacks",
    "Ordinals",
    "Escrow",
    "Oracle",
    "Bridge",
    "Wallet",
    "Signal",
    "Market",
    "DAO",
    "Vault",
    "Relay",
    "Inbox",
    "Bounty",
    "Notary",
    "Sats",
    "Lightning",
    "Clarity",
    "sBTC",
    "Runes",
    "Nostr",
    "Yield",
    "Credit",
];

pub(crate) const PROJECT_B: &[&str] = &[
    "Index",
    "Explorer",
    "Faucet",
    "Swap",
    "Lending",
    "Registry",
    "Scheduler",
    "Monitor",
    "Dashboard",
    "SDK",
    "MCP Server",
    "Toolkit",
    "Protocol",
    "Network",
    "Board",
    "Tracker",
    "Gateway",
    "Router",
    "Indexer",
    "Agent Kit",
];

pub(crate) const PROJECT_TAIL: &[&str] = &[
    "AI Agent Intelligence Network",
    "Autonomous Treasury",
    "for Agents",
    "Bitcoin-native coordination",
    "v2",
    "Beta",
    "Open Source",
    "Agent-to-Agent Payments",
];

const DESC_START: &[&str] = &[
    "A shared",
    "An open-source",
    "Experimental",
    "Production-ready",
    "Minimal",
    "Agent-operated",
    "Community-maintained",
    "Self-hosted",
];

const DESC_MIDDLE: &[&str] = &[
    "index of projects maintained by autonomous agents",
    "escrow contract written in Clarity",
    "payment relay for agent-to-agent messages",
    "dashboard tracking sBTC flows",
    "toolkit for building MCP servers on Stacks",
    "registry of agent identities (ERC-8004 style)",
    "scheduler that runs recurring on-chain jobs",
    "bridge between Nostr relays and Bitcoin inboxes",
    "explorer for ordinals inscriptions",
    "oracle that publishes price feeds every block",
];

const DESC_END: &[&str] = &[
    "",
    " — built during the AIBTC hackathon",
    ". Works with Leather and Xverse.",
    " – looking for contributors",
    " | docs at /docs",
    ". Status: alpha 🚧",
    ". Café-grade reliability™",
    ", deployed on Cloudflare Workers",
];

const REVIEW_PARTS: &[&str] = &[
    "Solid coordination board",
    "Works as advertised",
    "Docs need love",
    "Great UX, fast responses",
    "Used it to settle 3 bounties",
    "Contract audited? Not yet",
    "Très bien",
    "Nice — but the API changes often",
    "⚡ fast",
    "Would rate again",
    "Leader is responsive",
    "Could use more tests",
];

const GOAL_TITLES: &[&str] = &[
    "Migrate storage to Durable Objects",
    "100 projects indexed",
    "Draft",
    "Review by 2 agents",
    "Ship v1 to mainnet",
    "Reach 50 daily active agents",
    "Publish SDK on npm",
    "Audit the escrow contract",
    "Add sBTC support",
    "Write the docs — all of them",
    "Integrate with the AIBTC inbox",
    "First paying user",
];

const PR_PREFIX: &[&str] = &["fix", "feat", "docs", "chore", "refactor", "test", "perf"];

const PR_BODY: &[&str] = &[
    "add time budget to refresh endpoint",
    "typo",
    "retry transient timeouts",
    "handle 404 from GitHub",
    "support .git suffix in URLs",
    "bump wrangler",
    "render emoji in titles 🎉",
    "add search terms to items",
    "paginate the activity feed",
    "guard against empty titles",
    "cache agent lookups for 1h",
];

const PREVIEWS: &[&str] = &[
    "gm",
    "Listed my repo on aibtc-projects, check it out",
    "Demo is live at https://escrow-demo.pages.dev",
    "Anyone want to review my PR?",
    "Shipping the new dashboard tonight ⚡",
    "Can someone claim the oracle task?",
    "Thanks for the sats 🙏",
    "Le déploiement est terminé — merci !",
    "New release: v0.4.2 | changelog in the repo",
    "Who leads the bridge project now?",
];

pub(crate) const TOPICS: &[&str] = &[
    "aibtc",
    "cloudflare-pages",
    "bitcoin",
    "stacks",
    "clarity",
    "ai-agents",
    "mcp",
    "sbtc",
    "ordinals",
    "typescript",
    "rust",
    "defi",
];

pub(crate) const LABELS: &[&str] = &["bug", "enhancement", "spec", "good first issue", "help wanted", "docs"];

pub(crate) const ORGS: &[&str] = &[
    "aibtcdev",
    "example-org",
    "stacks-network",
    "hirosystems",
    "bitflow-finance",
    "agent-guild",
    "satoshi-labs",
    "open-agents",
];

pub(crate) const SITES: &[&str] = &["pages.dev", "vercel.app", "netlify.app", "xyz", "io", "dev", "com"];

pub(crate) const ODD_STATUSES: &[&str] =
    &["wip", "Done", "In Progress", "backlog", "idea", "planning", "review", "TODO", "todo ", "in_progress"];

pub(crate) fn agent_name(rng: &mut Rng) -> String {
    if rng.chance(0.04) {
        return (*rng.pick(ODD_NAMES)).to_string();
    }
    format!("{} {}", rng.pick(ADJ), rng.pick(NOUN))
}

pub(crate) fn login(rng: &mut Rng) -> String {
    let a = rng.pick(ADJ).to_lowercase();
    let b = rng.pick(NOUN).to_lowercase();
    match rng.below(4) {
        0 => format!("{a}-{b}"),
        1 => format!("{a}{b}{}", rng.below(1000)),
        2 => format!("{b}{}", rng.below(100)),
        _ => format!("{a}_{b}"),
    }
}

/// A project title: sometimes with `—`, `–`, `|`, an emoji or accents.
pub(crate) fn project_title(rng: &mut Rng) -> String {
    let a = rng.pick(PROJECT_A);
    let b = rng.pick(PROJECT_B);
    match rng.weighted(&[40, 12, 8, 8, 8, 4, 4, 4, 4]) {
        0 => format!("{a} {b}"),
        1 => format!("{a} {b} — {}", rng.pick(PROJECT_TAIL)),
        2 => format!("{a} – {b}"),
        3 => format!("{a} {b} | {}", rng.pick(PROJECT_TAIL)),
        4 => format!("{a} {b} {}", rng.pick(&["🚀", "🤖", "⚡", "₿", "🟧"])),
        5 => format!("Café {b}"),
        6 => format!("Überblick: {a} {b}"),
        7 => format!("{a} {b} (エージェント)"),
        _ => format!("  {a}  {b} ").trim().to_string(),
    }
}

pub(crate) fn description(rng: &mut Rng) -> String {
    if rng.chance(0.25) {
        return String::new();
    }
    let mut s = format!("{} {}{}", rng.pick(DESC_START), rng.pick(DESC_MIDDLE), rng.pick(DESC_END));
    let extra = rng.below(10);
    for _ in 0..extra {
        s.push(' ');
        s.push_str(&capitalize(rng.pick::<&str>(DESC_MIDDLE)));
        s.push('.');
    }
    s
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// A review: 1–280 characters, trimmed.
pub(crate) fn review(rng: &mut Rng) -> String {
    let mut s = (*rng.pick(REVIEW_PARTS)).to_string();
    let n = rng.below(6);
    for _ in 0..n {
        s.push_str(". ");
        s.push_str(rng.pick::<&str>(REVIEW_PARTS));
    }
    if rng.chance(0.02) {
        // Exactly at the 280-character limit.
        while s.chars().count() < 280 {
            s.push_str(" ok");
        }
        s = s.chars().take(280).collect::<String>().trim_end().to_string();
        while s.chars().count() < 280 {
            s.push('!');
        }
    }
    if rng.chance(0.05) {
        s = "👍".to_string();
    }
    s
}

/// A goal title: 1–140 characters, trimmed.
pub(crate) fn goal_title(rng: &mut Rng) -> String {
    let base = rng.pick(GOAL_TITLES);
    match rng.below(6) {
        0 => format!("{base} by end of March"),
        1 => format!("{base} (phase {})", rng.range(1, 4)),
        2 => format!("{base} — then {}", rng.pick(GOAL_TITLES).to_lowercase()),
        3 => format!("{base}: measured on the public dashboard, reviewed weekly by the leader"),
        _ => (*base).to_string(),
    }
}

pub(crate) fn pr_title(rng: &mut Rng) -> String {
    format!("{}: {}", rng.pick(PR_PREFIX), rng.pick(PR_BODY))
}

pub(crate) fn preview(rng: &mut Rng, titles: &[String]) -> String {
    if !titles.is_empty() && rng.chance(0.3) {
        let t = rng.pick(titles);
        if !t.is_empty() {
            return format!("Check out {t} — looks great");
        }
    }
    let mut s = (*rng.pick(PREVIEWS)).to_string();
    if rng.chance(0.2) {
        s.push(' ');
        s.push_str(rng.pick::<&str>(PREVIEWS));
    }
    s
}

/// A search term: lowercase, trimmed, longer than 2 characters.
pub(crate) fn search_term(rng: &mut Rng) -> String {
    let a = rng.pick(PROJECT_A).to_lowercase();
    let b = rng.pick(PROJECT_B).to_lowercase();
    match rng.below(6) {
        0 => a,
        1 => b,
        2 => format!("{a} {b}"),
        3 => format!("{a}-{b}"),
        4 => (*rng.pick(&["café bot", "überblick", "agent kit", "ai agent intelligence", "sats", "btc"])).to_string(),
        _ => rng.pick(TOPICS).to_string(),
    }
}

pub(crate) fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut dash = false;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
            dash = false;
        } else if !dash && !out.is_empty() {
            out.push('-');
            dash = true;
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("project");
    }
    out
}
