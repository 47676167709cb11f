"""Model freedom end to end: a "cloud" and a "local" OpenAI-compatible fake server, the CLI
run in-process (`reviewbot.cli.main`, the console entry point) against them. Failover,
cooldown, authentication errors, budgets, compliance rules, allowed_providers, secret
redaction, key hygiene and the audit log, checked against what the fakes really received.

How the cloud fake stays "cloud" while running on this machine: both fakes listen on
127.0.0.1, but the config names the cloud one by a hostname, `api.cloud-fake.test` (the
reserved .test TLD never resolves for real), and these tests resolve that one name to
127.0.0.1 by monkeypatching `socket.getaddrinfo` for the test process. The product code is
untouched: providers.is_local and the router see a remote hostname, exactly as for a real
provider, while the HTTP client still reaches the fake. The local fake is configured as
`openai/local-coder` with its 127.0.0.1 api_base, which is what makes it local."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from cliutil import run_cli
from fakes.openai_server import FakeOpenAIServer, FakeReply, estimate_prompt_tokens, unused_port

from reviewbot.diff import parse_diff
from reviewbot.session import execute, load_effective_config

CLOUD_HOST = "api.cloud-fake.test"
CLOUD_A, CLOUD_B, LOCAL = "openai/cloud-a", "openai/cloud-b", "openai/local-coder"
CLOUD_KEY = "sk-cloud-Q7m2Xa9LkP4rT8vZ1cW5"
LOCAL_KEY = "sk-local-H3n6Yb2JdS9uF4gE7qR0"
# USD per million tokens (input, output).
PRICES = {CLOUD_A: (5.0, 20.0), CLOUD_B: (0.5, 2.0), LOCAL: (0.0, 0.0)}
OVERVIEW = "An overview of the change."


# -- the fakes -----------------------------------------------------------------------------


def is_overview(body: Mapping[str, Any]) -> bool:
    return str(body["messages"][0]["content"]).startswith("You write the overview")


def diff_paths(body: Mapping[str, Any]) -> list[str]:
    user = str(body["messages"][-1]["content"])
    diff = user.split("<diff>", 1)[1] if "<diff>" in user else ""
    return re.findall(r"^### (\S+)", diff, re.M)


@dataclass(frozen=True)
class Seen:
    model: str  # as on the wire: the provider prefix is stripped by litellm
    at: float  # time.monotonic() when the request arrived
    body: Mapping[str, Any]
    status: int
    usage: tuple[int, int] | None  # (prompt, completion) reported, None for errors


Behaviour = Callable[[Mapping[str, Any]], FakeReply]


@dataclass
class Fake:
    """A fake server's behaviour per model, scripted replies first, and a log of requests."""

    server: FakeOpenAIServer
    scripts: dict[str, list[FakeReply]] = field(default_factory=dict)
    always: dict[str, Behaviour] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, body: dict[str, Any]) -> FakeReply:
        model = str(body.get("model"))
        with self.lock:
            queue = self.scripts.get(model, [])
            reply = queue.pop(0) if queue else None
        if reply is None:
            reply = self.always[model](body) if model in self.always else self.answer(body)
        usage = None
        if reply.status == 200 and not reply.disconnect:
            usage = (estimate_prompt_tokens(body), max(1, len(reply.content) // 4))
            reply = FakeReply.ok(reply.content, prompt_tokens=usage[0], completion_tokens=usage[1], delay=reply.delay)
        with self.lock:
            self.seen.append(Seen(model, time.monotonic(), body, reply.status, usage))
        return reply

    def answer(self, body: Mapping[str, Any]) -> FakeReply:
        if is_overview(body):
            return FakeReply.ok(OVERVIEW)
        paths = set(diff_paths(body))
        mine = [f for f in self.findings if f["path"] in paths]
        return FakeReply.json({"summary": f"Changes {', '.join(sorted(paths))}.", "findings": mine})

    def reviews(self, model: str | None = None) -> list[Seen]:
        return [s for s in self.seen if not is_overview(s.body) and (model is None or s.model == model)]

    def raw(self) -> str:
        """Everything the server received, as text (message contents unescaped too)."""
        bodies = [r.body for r in self.server.requests]
        contents = [str(m.get("content")) for b in bodies if isinstance(b, dict) for m in b.get("messages", [])]
        return "\n".join([json.dumps(b, ensure_ascii=False) for b in bodies] + contents)

    def usd(self, model: str) -> float:
        """What the usage this fake reported costs at the configured prices."""
        rate_in, rate_out = PRICES[f"openai/{model}"]
        return (
            sum(s.usage[0] * rate_in + s.usage[1] * rate_out for s in self.seen if s.model == model and s.usage)
            / 1_000_000
        )


@dataclass
class World:
    cloud: Fake
    local: Fake
    tmp: Path
    capsys: pytest.CaptureFixture[str]
    local_base: str = ""

    def config(self, **sections: Any) -> Path:
        """A config file: the three models' endpoints and prices, plus `sections`."""
        cloud_base = f"http://{CLOUD_HOST}:{self.cloud.server.port}/v1"
        local_base = self.local_base or self.local.server.base_url
        data: dict[str, Any] = {
            "models": {"cheap": [CLOUD_B], "frontier": [CLOUD_A]},
            "endpoints": {
                CLOUD_A: {"api_base": cloud_base, "api_key_env": "CLOUD_KEY", "timeout": 5},
                CLOUD_B: {"api_base": cloud_base, "api_key_env": "CLOUD_KEY", "timeout": 5},
                LOCAL: {"api_base": local_base, "api_key_env": "LOCAL_KEY", "timeout": 5},
            },
            "prices": {m: {"input": i, "output": o} for m, (i, o) in PRICES.items()},
            "risk": {"escalate_paths": ["app/**"], "cheap_paths": ["lib/**", "docs/**"]},
        }
        for key, value in sections.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        path = self.tmp / f"config-{len(list(self.tmp.glob('config-*')))}.yml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    def diff(self, files: Mapping[str, Sequence[str]]) -> Path:
        path = self.tmp / f"change-{len(list(self.tmp.glob('change-*')))}.diff"
        path.write_text(make_diff(files), encoding="utf-8")
        return path

    def review(self, diff: Path, config: Path, *args: str) -> Result:
        """`reviewbot review DIFF --config CONFIG --format json --audit-log FILE ARGS`."""
        audit = self.tmp / f"audit-{len(list(self.tmp.glob('audit-*')))}.jsonl"
        argv = ["review", str(diff), "--config", str(config), "--format", "json", "--audit-log", str(audit), *args]
        code, out, err = run_cli(self.capsys, argv)
        audit_text = audit.read_text(encoding="utf-8") if audit.exists() else ""
        for key in (CLOUD_KEY, LOCAL_KEY):  # never printed, never logged
            assert key not in out and key not in err and key not in audit_text
        assert "Traceback" not in err
        report = json.loads(out) if out.startswith("{") else None
        lines = [json.loads(line) for line in audit_text.splitlines()]
        return Result(code, out, report, err, lines, audit_text)


@dataclass
class Result:
    code: int
    stdout: str
    report: dict[str, Any] | None
    stderr: str
    audit: list[dict[str, Any]]
    audit_text: str

    @property
    def json(self) -> dict[str, Any]:
        assert self.report is not None, self.stderr
        return self.report

    def chunk(self, path: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = [c for c in self.json["chunks"] if path in c["files"]]
        (chunk,) = found
        return chunk


def make_diff(files: Mapping[str, Sequence[str]]) -> str:
    """A `git diff` adding each file with the given lines."""
    parts = []
    for path, lines in files.items():
        body = "".join(f"+{line}\n" for line in lines)
        parts.append(
            f"diff --git a/{path} b/{path}\nnew file mode 100644\nindex 0000000..1234567\n"
            f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{body}"
        )
    return "".join(parts)


def code(name: str, n: int = 12) -> list[str]:
    """n small, distinct Python functions."""
    return [line for i in range(n) for line in (f"def {name}_{i}(value):", f"    return value * {i} + {i * 7}", "")]


@pytest.fixture
def world(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == CLOUD_HOST else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setenv("CLOUD_KEY", CLOUD_KEY)
    monkeypatch.setenv("LOCAL_KEY", LOCAL_KEY)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    cloud_server, local_server = FakeOpenAIServer(), FakeOpenAIServer()
    cloud, local = Fake(cloud_server), Fake(local_server)
    cloud_server.responder, local_server.responder = cloud, local
    with cloud_server, local_server:
        yield World(cloud, local, tmp_path, capsys)


def wire(model: str) -> str:
    return model.split("/", 1)[1]


# -- failover ------------------------------------------------------------------------------


def test_the_router_sees_a_cloud_and_a_local_model(world: World) -> None:
    from reviewbot.config import load_config
    from reviewbot.router import model_allowed

    cfg = load_config(world.config(compliance=[{"paths": ["secure/**"], "allow": "local"}]))
    assert model_allowed(LOCAL, "rule1", cfg) and not model_allowed(CLOUD_A, "rule1", cfg)


def test_rate_limit_fails_over_at_once(world: World) -> None:
    world.cloud.scripts[wire(CLOUD_B)] = [FakeReply.rate_limited(retry_after=30)]
    config = world.config(models={"cheap": [CLOUD_B, LOCAL], "summary": [LOCAL]})
    result = world.review(world.diff({"lib/util.py": code("util")}), config)

    assert result.code == 0, result.stderr
    assert len(world.cloud.reviews(wire(CLOUD_B))) == 1  # no second request to the primary
    assert len(world.local.reviews(wire(LOCAL))) == 1
    chunk = result.chunk("lib/util.py")
    assert chunk["status"] == "reviewed" and chunk["model"] == LOCAL
    (failover,) = result.json["failovers"]
    assert (failover["from_model"], failover["to_model"]) == (CLOUD_B, LOCAL)
    assert "rate_limit" in failover["reason"] and "429" in failover["reason"]
    outcomes = [(a["model"], a["outcome"]) for a in result.audit if a["tier"] != "summary"]
    assert outcomes == [(CLOUD_B, "failover"), (LOCAL, "ok")]


def test_server_error_is_retried_with_backoff_then_fails_over(world: World) -> None:
    world.cloud.scripts[wire(CLOUD_B)] = [FakeReply.server_error(), FakeReply.server_error()]
    config = world.config(models={"cheap": [CLOUD_B, LOCAL], "summary": [LOCAL]})
    result = world.review(world.diff({"lib/util.py": code("util")}), config)

    assert result.code == 0, result.stderr
    first, second = world.cloud.reviews(wire(CLOUD_B))
    assert second.at - first.at >= 0.25  # backoff_s 0.5 x jitter of at least 0.5
    # A plain 500 says nothing about the response format: JSON mode stays on (issue 10.5).
    assert "response_format" in first.body and "response_format" in second.body
    assert result.chunk("lib/util.py")["model"] == LOCAL
    (failover,) = result.json["failovers"]
    assert failover["from_model"] == CLOUD_B and "HTTP 500" in failover["reason"]
    outcomes = [(a["model"], a["outcome"]) for a in result.audit if a["tier"] != "summary"]
    assert outcomes == [(CLOUD_B, "error"), (CLOUD_B, "failover"), (LOCAL, "ok")]
    assert [a["error"] is not None for a in result.audit[:2]] == [True, True]


def test_a_hanging_model_times_out_then_fails_over(world: World) -> None:
    world.cloud.scripts[wire(CLOUD_B)] = [FakeReply.hang(30), FakeReply.hang(30)]
    config = world.config(
        models={"cheap": [CLOUD_B, LOCAL], "summary": [LOCAL]},
        endpoints={
            CLOUD_B: {
                "api_base": f"http://{CLOUD_HOST}:{world.cloud.server.port}/v1",
                "api_key_env": "CLOUD_KEY",
                "timeout": 1,
            }
        },
    )
    result = world.review(world.diff({"lib/util.py": code("util")}), config)

    # Both hangs would close only after 30 s: the reason "timeout" says the 1 s limit cut them.
    assert result.code == 0, result.stderr
    assert len(world.cloud.reviews(wire(CLOUD_B))) == 2
    assert result.chunk("lib/util.py")["model"] == LOCAL
    (failover,) = result.json["failovers"]
    assert failover["from_model"] == CLOUD_B and failover["reason"].startswith("timeout")
    assert [a["outcome"] for a in result.audit if a["model"] == CLOUD_B] == ["error", "failover"]


def test_a_failing_model_cools_down(world: World) -> None:
    world.cloud.always[wire(CLOUD_B)] = lambda body: FakeReply.server_error()
    config = world.config(
        models={"cheap": [CLOUD_B, LOCAL], "summary": [LOCAL]}, review={"concurrency": 1, "max_chunk_tokens": 500}
    )
    files = {f"lib/mod{i}.py": code(f"mod{i}", 14) for i in range(5)}
    result = world.review(world.diff(files), config)

    assert result.code == 0, result.stderr
    chunks = result.json["chunks"]
    assert len(chunks) >= 4 and all(c["status"] == "reviewed" and c["model"] == LOCAL for c in chunks)
    # Three failures in a row (ReviewSettings.cooldown_after) and the model rests for the run.
    assert len(world.cloud.reviews(wire(CLOUD_B))) == 3
    cooled = [f for f in result.json["failovers"] if f["reason"] == "cooled down after repeated failures"]
    assert len(cooled) == len(chunks) - 2
    assert all(f["from_model"] == CLOUD_B and f["to_model"] == LOCAL for f in result.json["failovers"])


def test_rejected_key_is_reported_with_its_variable(world: World) -> None:
    # A provider that echoes the key it rejected, as some do.
    echo = FakeReply.error(401, f"Incorrect API key provided: {CLOUD_KEY}.", "invalid_request_error", "invalid_api_key")
    world.cloud.always[wire(CLOUD_B)] = lambda body: echo
    config = world.config(models={"cheap": [CLOUD_B, LOCAL], "summary": [LOCAL]})
    result = world.review(world.diff({"lib/a.py": code("a"), "lib/b.py": code("b")}), config)

    assert result.code == 0, result.stderr
    notice = f"authentication failed for {CLOUD_B}: check CLOUD_KEY"
    assert notice in result.json["notes"]
    assert len(world.cloud.reviews()) == 1  # a rejected key is not tried again in this run
    assert all(c["model"] == LOCAL for c in result.json["chunks"])
    text = world.review(world.diff({"lib/c.py": code("c")}), config, "--format", "text")
    assert text.code == 0 and f"  - {notice}" in text.stdout.splitlines()


def test_every_allowed_model_down_exits_3(world: World) -> None:
    world.cloud.always[wire(CLOUD_B)] = lambda body: FakeReply.unavailable()
    config = world.config(models={"cheap": [CLOUD_B], "summary": [CLOUD_B]})
    result = world.review(world.diff({"lib/a.py": code("a")}), config)

    assert result.code == 3
    assert result.chunk("lib/a.py")["status"] == "failed"
    assert result.chunk("lib/a.py")["reason"].startswith("not reviewed: every allowed model failed")
    assert result.json["failovers"][-1]["to_model"] is None


# -- budget --------------------------------------------------------------------------------

BUDGET_FILES = {
    "app/auth.py": code("auth", 30),  # escalated to the frontier tier by the config
    **{f"lib/part{i}.py": code(f"part{i}", 14) for i in range(3)},
}


def plan_for(world: World, diff: Path, config: Path) -> dict[str, Any]:
    result = world.review(diff, config, "--dry-run")
    assert result.code == 0, result.stderr
    return result.json


@pytest.mark.parametrize("on_exceed", ["downgrade", "skip"])
def test_a_tiny_budget_is_never_exceeded(world: World, on_exceed: str) -> None:
    diff = world.diff(BUDGET_FILES)
    unlimited = plan_for(world, diff, world.config(review={"max_chunk_tokens": 500}))
    cap = round(unlimited["cost"]["total_usd"] / 4, 6)
    config = world.config(review={"max_chunk_tokens": 500}, budget={"max_usd": cap, "on_exceed": on_exceed})
    planned = plan_for(world, diff, config)
    result = world.review(diff, config)

    assert result.code == 0, result.stderr
    spent = sum(world.cloud.usd(wire(m)) for m in (CLOUD_A, CLOUD_B))
    assert 0 < spent <= cap
    assert sum(c["usd"] for c in result.json["calls"]) == pytest.approx(spent, abs=1e-5)
    assert result.json["budget"]["spent_usd"] == pytest.approx(spent)
    # The dry run shows exactly the decisions the run then makes.
    assert planned["budget"]["decisions"] == result.json["budget"]["decisions"]
    assert [(c["id"], c["files"], c["models"]) for c in planned["chunks"]] == [
        (c["id"], c["files"], c["models"]) for c in result.json["chunks"]
    ]
    decisions = result.json["budget"]["decisions"]
    if on_exceed == "downgrade":
        assert "app/auth.py: downgraded to cheap: estimated $" in decisions[0]
        assert world.cloud.reviews(wire(CLOUD_A)) == []  # the frontier model got nothing
        assert {p for s in world.cloud.reviews(wire(CLOUD_B)) for p in diff_paths(s.body)} >= {"app/auth.py"}
    else:
        assert all(": skipped: estimated $" in d for d in decisions)
        skipped = [c for c in result.json["chunks"] if c["status"] == "skipped"]
        assert skipped and all(c["reason"].startswith("skipped:") for c in skipped)
        # A chunk over the cap on its own goes; the cheaper ones skipped before it come back.
        alone_over = {c["id"] for c in unlimited["chunks"] if c["est_usd"] > cap}
        assert alone_over and {c["id"] for c in skipped} == alone_over
        sent = {p for s in world.cloud.reviews() for p in diff_paths(s.body)}
        assert not sent & {p for c in skipped for p in c["files"]}


def test_a_cap_the_plan_fits_in_reviews_every_planned_chunk(world: World) -> None:
    diff = world.diff(BUDGET_FILES)
    estimate = plan_for(world, diff, world.config(review={"max_chunk_tokens": 500}))["cost"]["total_usd"]
    # Above the plan's estimate, but below the worst case of one frontier request at the
    # default max_output_tokens (4,096 tokens at $20 per million is $0.08 alone).
    cap = round(estimate * 1.2, 6)
    config = world.config(review={"max_chunk_tokens": 500}, budget={"max_usd": cap})
    planned = plan_for(world, diff, config)
    result = world.review(diff, config)

    assert result.code == 0, result.stderr
    assert planned["budget"].get("decisions") is None  # the plan fits: nothing downgraded or skipped
    assert [c["status"] for c in result.json["chunks"]] == ["reviewed"] * len(planned["chunks"])
    spent = sum(world.cloud.usd(wire(m)) for m in (CLOUD_A, CLOUD_B))
    assert spent <= cap
    # What made it fit: the frontier requests asked for a shorter reply, not for nothing.
    frontier = [s.body["max_tokens"] for s in world.cloud.reviews(wire(CLOUD_A))]
    assert frontier and all(256 <= n < 4096 for n in frontier)


def test_budget_fail_refuses_before_any_request(world: World) -> None:
    diff = world.diff(BUDGET_FILES)
    config = world.config(budget={"max_usd": 0.000001, "on_exceed": "fail"})
    dry = world.review(diff, config, "--dry-run")
    real = world.review(diff, config)

    for result in (dry, real):
        assert result.code == 2 and result.report is None
        assert result.stderr.startswith("reviewbot: error: budget exceeded: estimated $")
    assert world.cloud.server.requests == () and world.local.server.requests == ()


# -- compliance ----------------------------------------------------------------------------

SECURE = {"secure/vault.py": ["import os", "", "def unseal(token):", "    return os.environ['VAULT_ROOT']"]}


@pytest.mark.parametrize("local_state", ["up", "500", "refused"])
def test_local_only_paths_never_reach_the_cloud(world: World, local_state: str) -> None:
    if local_state == "500":
        world.local.always[wire(LOCAL)] = lambda body: FakeReply.server_error()
    if local_state == "refused":
        world.local_base = f"http://127.0.0.1:{unused_port()}/v1"
    config = world.config(
        models={"cheap": [CLOUD_B, LOCAL], "frontier": [CLOUD_A], "summary": "cheap"},
        compliance=[{"paths": ["secure/**"], "allow": "local"}],
    )
    result = world.review(world.diff({**SECURE, "lib/util.py": code("util"), "app/login.py": code("login")}), config)

    assert result.code == 0, result.stderr
    assert "secure/" not in world.cloud.raw()  # not the code, not even the file name
    secure = result.chunk("secure/vault.py")
    assert secure["models"] == [LOCAL]
    assert result.chunk("lib/util.py")["model"] == CLOUD_B and result.chunk("app/login.py")["model"] == CLOUD_A
    if local_state == "up":
        assert secure["status"] == "reviewed" and secure["model"] == LOCAL
        assert {p for s in world.local.reviews() for p in diff_paths(s.body)} == {"secure/vault.py"}
    else:
        assert secure["status"] == "failed" and secure["reason"].startswith("not reviewed:")
        (entry,) = [f for f in result.json["files"] if f["path"] == "secure/vault.py"]
        assert entry["reviewed"] is False and entry["skip_reason"].startswith("not reviewed:")


def test_local_only_change_with_local_down_exits_3(world: World) -> None:
    world.local.always[wire(LOCAL)] = lambda body: FakeReply.server_error()
    config = world.config(
        models={"cheap": [CLOUD_B, LOCAL], "frontier": [CLOUD_A]},
        compliance=[{"paths": ["secure/**"], "allow": "local"}],
    )
    result = world.review(world.diff(SECURE), config)

    assert result.code == 3
    assert world.cloud.server.requests == ()
    assert result.chunk("secure/vault.py")["reason"].startswith("not reviewed: every allowed model failed")


def test_no_local_model_blocks_the_chunk(world: World) -> None:
    config = world.config(compliance=[{"paths": ["secure/**"], "allow": "local"}])
    result = world.review(world.diff({**SECURE, "lib/util.py": code("util")}), config)

    assert result.code == 0, result.stderr
    blocked = result.chunk("secure/vault.py")
    assert blocked["status"] == "skipped" and blocked["models"] == []
    assert blocked["reason"] == "not reviewed: local-only, no local model available"
    assert "secure/" not in world.cloud.raw()


def test_allowed_providers_filters_every_tier(world: World) -> None:
    # No ANTHROPIC_API_KEY is set: a model filtered out needs no key.
    config = world.config(
        models={"cheap": ["anthropic/claude-haiku-5-5", CLOUD_B], "frontier": ["anthropic/claude-opus-5-5"]},
        allowed_providers=["openai"],
    )
    result = world.review(world.diff({"lib/util.py": code("util"), "app/login.py": code("login")}), config)

    assert result.code == 0, result.stderr
    assert result.chunk("lib/util.py")["models"] == [CLOUD_B]
    frontier = result.chunk("app/login.py")
    assert frontier["models"] == [] and frontier["status"] == "skipped"
    assert frontier["reason"] == "not reviewed: no allowed model (allowed_providers)"
    assert {s.model for s in world.cloud.seen} == {wire(CLOUD_B)}
    assert {c["model"] for c in result.json["calls"]} == {CLOUD_B}


# -- secrets, keys and the audit log ---------------------------------------------------------

AWS_KEY = "AKIAZ7QWERTYUIOPLKJH"
GITHUB_TOKEN = "ghp_" + "Zx8Qw2Er4Ty6Ui8Op0As2Df4Gh6Jk8Lz1Xc3"
PASSWORD = "Tr0ub4dor&3-horse-Battery9"
KEY_LINE = "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWep4PAtGoSo7gF4pT1x9E6fA"
PRIVATE_KEY = [
    "-----BEGIN RSA PRIVATE KEY-----",
    KEY_LINE,
    "q2Yy8t0Pp1Rr3Ss5Uu7Ww9Yy1Aa3Cc5Ee7Gg9Ii1Kk3Mm5Oo7Qq9Ss1Uu3Ww5Y",
    "-----END RSA PRIVATE KEY-----",
]
BODY_AWS = "AKIAQ2WSX3EDC4RFV5TG"
BODY_TOKEN = "ghp_" + "Pl9Ok8Ij7Uh6Yg5Tf4Rd3Es2Wa1Qz0Xc9Vb8Nm7"
BODY_PASSWORD = "hunter2-Zq81-Mw93-Lx77"
SECRETS = (AWS_KEY, GITHUB_TOKEN, PASSWORD, KEY_LINE, BODY_AWS, BODY_TOKEN, BODY_PASSWORD)
SECRET_DIFF = {
    "app/settings.py": [
        f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"',
        f'GITHUB_TOKEN = "{GITHUB_TOKEN}"',
        f'db_password = "{PASSWORD}"',
        'DEPLOY_KEY = """',
        *PRIVATE_KEY,
        '"""',
    ],
    "lib/notes.py": [f"# token for the bot: {GITHUB_TOKEN}", "def notes():", "    return []"],
}
PR_BODY = f'Rotates credentials. Old key {BODY_AWS}, bot token {BODY_TOKEN}.\npassword = "{BODY_PASSWORD}"\n'


def test_secrets_in_the_diff_and_pr_text_never_leave(world: World) -> None:
    cfg, notes = load_effective_config(
        {
            "config_path": str(
                world.config(
                    models={"cheap": [LOCAL], "frontier": [CLOUD_A], "summary": [CLOUD_B]},
                    audit={"include_prompts": True},
                )
            )
        }
    )
    audit = world.tmp / "audit.jsonl"
    report = execute(
        parse_diff(make_diff(SECRET_DIFF)),
        cfg,
        source="secrets.diff",
        notes=notes,
        dry_run=False,
        audit_log=str(audit),
        pr_title=f"Rotate {BODY_TOKEN}",
        pr_body=PR_BODY,
    )

    assert world.cloud.reviews(wire(CLOUD_A)) and world.local.reviews(wire(LOCAL))
    sent = world.cloud.raw() + world.local.raw()
    for secret in SECRETS:
        assert secret not in sent
    for kind in ("aws-access-key", "github-token", "private-key", "password"):
        assert f"[REDACTED:{kind}#" in sent
    # The PR text reaches the model, with placeholders in place of its secrets.
    assert "Rotates credentials. Old key [REDACTED:aws-access-key#" in sent
    # The audit log holds the prompts as sent (include_prompts), so no secret either.
    logged = audit.read_text(encoding="utf-8")
    assert '"messages"' in logged and not any(secret in logged for secret in SECRETS)
    assert sum(f.redactions for f in report.files) >= 5
    for fake, key in ((world.cloud, CLOUD_KEY), (world.local, LOCAL_KEY)):
        assert all(r.sent_key(key) for r in fake.server.chat_requests)  # each got its own key only
    assert not any(r.sent_key(CLOUD_KEY) for r in world.local.server.requests)


def test_audit_lines_match_the_calls(world: World) -> None:
    world.cloud.scripts[wire(CLOUD_B)] = [FakeReply.rate_limited()]
    config = world.config(models={"cheap": [CLOUD_B, LOCAL], "frontier": [CLOUD_A], "summary": [CLOUD_A]})
    diff = world.diff({"lib/util.py": code("util"), "app/login.py": code("login")})
    result = world.review(diff, config)

    assert result.code == 0, result.stderr
    calls = result.json["calls"]
    assert len(result.audit) == len(calls) == len(world.cloud.seen) + len(world.local.seen)
    for line, call in zip(result.audit, calls, strict=True):
        for key in ("call_id", "chunk_id", "model", "tier", "files", "input_tokens", "output_tokens", "outcome"):
            assert line[key] == call[key]
        assert line["usd"] == pytest.approx(call["usd"]) if call["usd"] is not None else line["usd"] is None
        assert "messages" not in line and "reply" not in line
    by_outcome = {(a["model"], a["outcome"]) for a in result.audit}
    assert by_outcome == {(CLOUD_B, "failover"), (LOCAL, "ok"), (CLOUD_A, "ok")}
    # Tokens and dollars are the usage each fake reported, at the configured prices.
    ok = [a for a in result.audit if a["outcome"] == "ok"]
    reported = sorted(s.usage for f in (world.cloud, world.local) for s in f.seen if s.usage)
    assert sorted((a["input_tokens"], a["output_tokens"]) for a in ok) == reported
    for a in ok:
        rate_in, rate_out = PRICES[a["model"]]
        assert a["usd"] == pytest.approx((a["input_tokens"] * rate_in + a["output_tokens"] * rate_out) / 1e6)
    assert {tuple(a["files"]) for a in result.audit if a["tier"] != "summary"} == {("lib/util.py",), ("app/login.py",)}
    hosts = {a["model"]: a["endpoint_host"] for a in result.audit}
    assert hosts[CLOUD_A] == f"{CLOUD_HOST}:{world.cloud.server.port}"
    assert hosts[LOCAL] == f"127.0.0.1:{world.local.server.port}"
    assert "def util_0" not in result.audit_text  # no prompt text without include_prompts

    with_prompts = world.review(
        diff, world.config(models={"cheap": [LOCAL], "summary": [LOCAL]}, audit={"include_prompts": True})
    )
    logged = [a for a in with_prompts.audit if a["tier"] == "cheap"]
    seen = world.local.reviews()[-len(logged) :]
    assert [a["messages"] for a in logged] == [s.body["messages"] for s in seen]
    assert [json.loads(a["reply"]) for a in logged] == [{"summary": "Changes lib/util.py.", "findings": []}]


# -- nothing reviewed is never green ---------------------------------------------------------


def test_every_review_call_failing_asks_no_overview_and_says_not_reviewed(world: World) -> None:
    for model in (CLOUD_A, CLOUD_B):
        world.cloud.always[wire(model)] = lambda body: (
            FakeReply.ok(OVERVIEW) if is_overview(body) else FakeReply.server_error()
        )
    config = world.config(models={"cheap": [CLOUD_B], "frontier": [CLOUD_A], "summary": "cheap"})
    diff = world.diff({"lib/util.py": code("util"), "app/login.py": code("login")})
    result = world.review(diff, config, "--fail-on", "none")

    assert result.code == 3
    assert not any(is_overview(s.body) for s in world.cloud.seen)  # no overview of nothing
    assert result.json["overview"] is None
    assert "reviewbot: error: not reviewed: " in result.stderr
    code_, text, _ = run_cli(world.capsys, ["review", str(diff), "--config", str(config)])
    assert code_ == 3 and text.startswith("Not reviewed: ")
    assert "No findings at or above" not in text


def test_a_budget_that_skips_every_chunk_is_not_a_clean_review(world: World) -> None:
    config = world.config(budget={"max_input_tokens": 1, "on_exceed": "skip"})
    result = world.review(world.diff({"lib/util.py": code("util")}), config)

    assert world.cloud.server.requests == ()
    assert result.code == 3 and all(c["status"] == "skipped" for c in result.json["chunks"])
    assert "not reviewed: " in result.stderr


def test_compliance_blocking_every_chunk_is_not_a_clean_review(world: World) -> None:
    config = world.config(compliance=[{"paths": ["secure/**"], "allow": "local"}])
    result = world.review(world.diff(SECURE), config)

    assert result.code == 3 and world.cloud.server.requests == ()
    assert "local-only, no local model available" in result.stderr
