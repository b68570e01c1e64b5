#!/usr/bin/env python3
"""Builds examples/v1-dump.json (and examples/v1-legacy-dump.json) from tests/fixtures/v1,
in the `wrangler kv bulk put` format. Values are compact JSON, as v1's JSON.stringify wrote
them. Agent-cache expirations are fixed far enough ahead (2036) for local KV to keep them and
below 2038, which local KV cannot store."""
import json, pathlib, sys

root = pathlib.Path(__file__).resolve().parent.parent
fixtures = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root / "tests" / "fixtures" / "v1"

def value(name):
    return json.dumps(json.loads((fixtures / name).read_text()), separators=(",", ":"), ensure_ascii=False)

def dump(items_file):
    return [
        {"key": "roadmap:agent-cache:bc1q7zpy3kpxjzrfctz4en9k2h5sp8nwhctgz54sn5", "value": value("agent_cache_resolveGithubUser.json"), "expiration": 2100003600},
        {"key": "roadmap:agent-cache:bc1qqaxq5vxszt0lzmr9gskv4lcx7jzrg772s4vxpp", "value": value("agent_cache_getAgent.json"), "expiration": 2100000000},
        {"key": "roadmap:events", "value": value("events.json")},
        {"key": "roadmap:github-map", "value": value("github_map.json")},
        {"key": "roadmap:github-scan", "value": value("github_scan.json")},
        {"key": "roadmap:items", "value": value(items_file)},
        {"key": "roadmap:mention-scan", "value": value("mention_scan.json")},
        {"key": "roadmap:message-archive", "value": value("message_archive.json")},
    ]

for out, items in [("v1-dump.json", "items.json"), ("v1-legacy-dump.json", "items_legacy_v1.json")]:
    (root / "examples" / out).write_text(json.dumps(dump(items), indent=2, ensure_ascii=False) + "\n")
    print("wrote examples/" + out)
