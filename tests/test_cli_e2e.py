"""The `reviewbot` command end to end, run as a user runs it: `python -m reviewbot` in a
subprocess, a config file in tmp_path, two models on two fake OpenAI-compatible servers on
127.0.0.1 (a cheap one and a frontier one). Asserts what reached each server (only its
tier's chunks), what was printed (findings, cost computed here from the usage the fakes
reported and the configured prices), exit codes, the audit log, and the error lines.

A run that calls a model imports litellm in its subprocess (~6 s of CPU here), so the few
real runs are started together, once per module (`real_runs`), each with its own fake servers,
and the tests then assert on their results; errors and dry runs import no litellm."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAIServer, FakeReply, estimate_prompt_tokens, unused_port

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"

CHEAP, FRONTIER = "openai/cheap-model", "openai/frontier-model"
CHEAP_KEY, FRONTIER_KEY = "sk-cheap-e2e-0123456789abcdef", "sk-frontier-e2e-0123456789abcdef"
# USD per million tokens (input, output), as written into the config below.
PRICES = {CHEAP: (0.5, 2.0), FRONTIER: (5.0, 20.0)}
TIMEOUT_S = 120  # generous: a hang is a failure, not a slow pass

SQL_FINDING = {
    "path": "app/auth.py",
    "line": 19,
    "side": "RIGHT",
    "severity": "high",
    "category": "security",
    "title": "SQL built with an f-string",
    "body": "username and password_hash are interpolated into SQL.",
}
OVERVIEW = "This change rewrites the login query."


# -- fakes ---------------------------------------------------------------------------------


def chunk_paths(request_json: dict[str, Any]) -> list[str]:
    """The files of the diff a review request carries (`### path` lines)."""
    user = request_json["messages"][-1]["content"]
    diff = user.split("<diff>", 1)[1] if "<diff>" in user else ""
    return [m.group(1) for m in re.finditer(r"^### (\S+)", diff, re.M)]


def is_overview(request_json: dict[str, Any]) -> bool:
    return str(request_json["messages"][0]["content"]).startswith("You write the overview")


@dataclass
class Model:
    """Answers as a model would and remembers the usage it reported for every request."""

    findings: Sequence[dict[str, Any]] = ()
    usage: list[tuple[int, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request_json: dict[str, Any]) -> FakeReply:
        if is_overview(request_json):
            content = OVERVIEW
        else:
            paths = set(chunk_paths(request_json))
            mine = [f for f in self.findings if f["path"] in paths]
            content = json.dumps({"summary": f"Changes {', '.join(sorted(paths))}.", "findings": mine})
        prompt, completion = estimate_prompt_tokens(request_json), max(1, len(content) // 4)
        with self.lock:
            self.usage.append((prompt, completion))
        return FakeReply.ok(content, prompt_tokens=prompt, completion_tokens=completion)

    def usd(self, model: str) -> float:
        rate_in, rate_out = PRICES[model]
        return sum(p * rate_in + c * rate_out for p, c in self.usage) / 1_000_000

    def usd_at_frontier(self) -> float:
        return sum(p * PRICES[FRONTIER][0] + c * PRICES[FRONTIER][1] for p, c in self.usage) / 1_000_000


@dataclass
class Setup:
    cheap: FakeOpenAIServer
    frontier: FakeOpenAIServer
    cheap_model: Model
    frontier_model: Model
    config: Path
    tmp: Path


def write_config(path: Path, cheap_base: str, frontier_base: str, extra: str = "") -> Path:
    path.write_text(
        f"""\
models:
  cheap: [{CHEAP}]
  frontier: [{FRONTIER}]
endpoints:
  {CHEAP}: {{api_base: "{cheap_base}", api_key_env: CHEAP_KEY, timeout: 10}}
  {FRONTIER}: {{api_base: "{frontier_base}", api_key_env: FRONTIER_KEY, timeout: 10}}
prices:
  {CHEAP}: {{input: {PRICES[CHEAP][0]}, output: {PRICES[CHEAP][1]}}}
  {FRONTIER}: {{input: {PRICES[FRONTIER][0]}, output: {PRICES[FRONTIER][1]}}}
{extra}""",
        encoding="utf-8",
    )
    return path


@contextmanager
def servers(tmp: Path) -> Iterator[Setup]:
    cheap_model, frontier_model = Model(), Model(findings=[SQL_FINDING])
    with FakeOpenAIServer(responder=cheap_model) as cheap, FakeOpenAIServer(responder=frontier_model) as frontier:
        config = write_config(tmp / "reviewbot.yml", cheap.base_url, frontier.base_url)
        yield Setup(cheap, frontier, cheap_model, frontier_model, config, tmp)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    with servers(tmp_path) as value:
        yield value


def clean_env(**extra: str) -> dict[str, str]:
    """The user's environment without any provider key, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_API_KEY")
        and not k.startswith(("REVIEWBOT_", "GITHUB_"))
        and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


KEYS = {"CHEAP_KEY": CHEAP_KEY, "FRONTIER_KEY": FRONTIER_KEY}


def reviewbot(
    *args: str, env: dict[str, str] | None = None, stdin: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reviewbot", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        env=env if env is not None else clean_env(**KEYS),
        cwd=cwd,
        timeout=TIMEOUT_S,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


def assert_clean(proc: subprocess.CompletedProcess[str]) -> None:
    """No traceback, and no key in anything the command printed."""
    assert "Traceback" not in proc.stderr, proc.stderr
    for key in (CHEAP_KEY, FRONTIER_KEY):
        assert key not in proc.stdout and key not in proc.stderr


def money(usd: float) -> str:
    """How the text report prints dollars under $1 (four decimals)."""
    return f"${usd:.4f}"


# -- real runs -----------------------------------------------------------------------------


@dataclass
class Run:
    setup: Setup
    code: int
    stdout: str
    stderr: str  # for the terminal run: everything the pseudo-terminal showed


Scenario = Callable[[Setup], Run]
SCENARIOS: dict[str, Scenario] = {}


def scenario(func: Scenario) -> Scenario:
    SCENARIOS[func.__name__] = func
    return func


def completed(s: Setup, proc: subprocess.CompletedProcess[str]) -> Run:
    return Run(s, proc.returncode, proc.stdout, proc.stderr)


@scenario
def risky(s: Setup) -> Run:
    return completed(
        s, reviewbot("review", str(EXAMPLES / "login-sql.diff"), "--config", str(s.config), "--fail-on", "high")
    )


@scenario
def routine_stdin(s: Setup) -> Run:
    return completed(
        s,
        reviewbot(
            "review",
            "-",
            "--config",
            str(s.config),
            "--format",
            "json",
            "--fail-on",
            "high",
            stdin=(EXAMPLES / "refactor.diff").read_bytes(),
        ),
    )


@scenario
def mixed_to_files(s: Setup) -> Run:
    return completed(
        s,
        reviewbot(
            "review",
            "--diff",
            str(EXAMPLES / "mixed-pr.diff"),
            "--config",
            str(s.config),
            "--format",
            "json",
            "--output",
            str(s.tmp / "report.json"),
            "--audit-log",
            str(s.tmp / "audit.jsonl"),
        ),
    )


@scenario
def all_refused(s: Setup) -> Run:
    # Nothing listens on either port: every request is refused.
    config = write_config(
        s.tmp / "refused.yml", f"http://127.0.0.1:{unused_port()}/v1", f"http://127.0.0.1:{unused_port()}/v1"
    )
    return completed(
        s, reviewbot("review", str(EXAMPLES / "mixed-pr.diff"), "--config", str(config), "--format", "json")
    )


@scenario
def git_sarif_terminal(s: Setup) -> Run:
    repo = s.tmp / "repo"
    (repo / "app").mkdir(parents=True)
    git(repo, "init", "-q")
    (repo / "app" / "db.py").write_text("def find(conn, name):\n    return None\n", encoding="utf-8")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    (repo / "app" / "db.py").write_text(
        "def find(conn, name):\n    return conn.execute(f\"SELECT * FROM users WHERE name = '{name}'\")\n",
        encoding="utf-8",
    )
    git(repo, "commit", "-q", "-am", "query")
    s.frontier_model.findings = [{**SQL_FINDING, "path": "app/db.py", "line": 2}]
    code, stdout, terminal = run_with_terminal_stderr(
        ["review", "--git", "HEAD~1..HEAD", "--config", str(s.config), "--format", "sarif"], cwd=repo
    )
    return Run(s, code, stdout, terminal)


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        timeout=30,
    )


def run_with_terminal_stderr(args: Sequence[str], cwd: Path) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal (so progress is shown) and stdout on a pipe."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "reviewbot", *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=slave,
            env=clean_env(**KEYS),
        )
        os.close(slave)
        shown: list[bytes] = []
        reader = threading.Thread(target=_drain, args=(master, shown), daemon=True)
        reader.start()
        stdout, _ = proc.communicate(timeout=TIMEOUT_S)
        reader.join(timeout=10)
    finally:
        os.close(master)
    return proc.returncode, stdout.decode(), b"".join(shown).decode(errors="replace")


def _drain(fd: int, into: list[bytes]) -> None:
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO once the child has closed its end
            return
        if not data:
            return
        into.append(data)


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """Every scenario at once, each with its own servers; the servers stay up (and keep
    their recorded requests) until the module's tests are done."""
    with ExitStack() as stack:
        setups = {name: stack.enter_context(servers(tmp_path_factory.mktemp(name))) for name in SCENARIOS}
        with ThreadPoolExecutor(max_workers=len(SCENARIOS)) as pool:
            futures = {name: pool.submit(run, setups[name]) for name, run in SCENARIOS.items()}
            yield {name: future.result() for name, future in futures.items()}


def reviewed_paths(server: FakeOpenAIServer) -> set[str]:
    return {p for r in server.chat_requests if not is_overview(r.body) for p in chunk_paths(r.body)}


def test_risky_diff_goes_only_to_frontier_text_report_and_fail_on(real_runs: dict[str, Run]) -> None:
    run = real_runs["risky"]
    s = run.setup
    assert run.code == 1, run.stderr  # a high finding with --fail-on high
    assert reviewed_paths(s.frontier) == {"app/auth.py", "app/passwords.py", "app/sso.py"}
    assert reviewed_paths(s.cheap) == set()
    assert all(r.body["model"] == "frontier-model" for r in s.frontier.chat_requests)
    # One chunk is the whole PR: its summary is the overview, with no request to the
    # summary model (models.summary: cheap).
    assert s.cheap.chat_requests == ()

    out = run.stdout
    assert "1 finding: 1 high" in out
    assert re.search(r"^app/auth\.py  \[frontier · score \d+ · ", out, re.M)
    assert re.search(r"line 19\s+HIGH\s+security\s+SQL built with an f-string", out)
    assert "Changes app/auth.py, app/passwords.py, app/sso.py." in out
    total = s.frontier_model.usd(FRONTIER) + s.cheap_model.usd(CHEAP)
    frontier_only = s.frontier_model.usd_at_frontier() + s.cheap_model.usd_at_frontier()
    saving = round((1 - total / frontier_only) * 100, 1)
    assert (f"total {money(total)}; all-frontier ({FRONTIER}) {money(frontier_only)}; saving {saving:.1f}%") in out
    # Not a terminal: the plan and progress as plain lines (no control codes), nothing else.
    lines = run.stderr.splitlines()
    assert lines[0].startswith("reviewbot: plan: ") and re.fullmatch(
        r"reviewbot: (\d+)/\1 chunks reviewed, \$[\d.]+ spent", lines[-1]
    )
    assert all(line.startswith("reviewbot: ") for line in lines) and not re.search(r"[\r\x1b]", run.stderr)
    assert CHEAP_KEY not in out and FRONTIER_KEY not in out


def test_routine_diff_from_stdin_goes_only_to_cheap_json_report(real_runs: dict[str, Run]) -> None:
    run = real_runs["routine_stdin"]
    s = run.setup
    assert run.code == 0, run.stderr  # no finding at or above high
    assert s.frontier.requests == ()
    assert reviewed_paths(s.cheap) == {"reports/totals.py", "reports/money.py", "reports/statement.py"}

    report = json.loads(run.stdout)
    assert report["source"] == "standard input" and report["dry_run"] is False
    assert report["findings"] == []
    assert {f["tier"] for f in report["files"]} == {"cheap"} and all(f["reviewed"] for f in report["files"])
    expected = s.cheap_model.usd(CHEAP)
    cost = report["cost"]
    assert cost["total_usd"] == pytest.approx(expected, abs=1e-6)
    (row,) = cost["rows"]
    assert row["model"] == CHEAP and row["requests"] == len(s.cheap.chat_requests)
    used = [sum(col) for col in zip(*s.cheap_model.usage, strict=True)]
    assert [row["input_tokens"], row["output_tokens"]] == used
    frontier_only = s.cheap_model.usd_at_frontier()
    assert cost["all_frontier_model"] == FRONTIER
    assert cost["all_frontier_usd"] == pytest.approx(frontier_only, abs=1e-6)
    assert cost["saving_pct"] == pytest.approx(round((1 - expected / frontier_only) * 100, 1))
    assert sum(c["usd"] for c in report["calls"]) == pytest.approx(expected, abs=1e-5)


def test_mixed_diff_splits_by_tier_output_file_and_audit_log(real_runs: dict[str, Run]) -> None:
    run = real_runs["mixed_to_files"]
    s = run.setup
    assert run.code == 0, run.stderr
    assert run.stdout == ""  # the report went to --output
    frontier, cheap = reviewed_paths(s.frontier), reviewed_paths(s.cheap)
    assert frontier == {".github/workflows/ci.yml"}
    assert cheap == {"README.md", "lib/pages.py", "lib/text.py"}
    # Two chunks: the overview (models.summary: cheap) sees their summaries, never the diff.
    (overview,) = [r.body for r in s.cheap.chat_requests if is_overview(r.body)]
    assert "<diff>" not in json.dumps(overview) and "Changes README.md, lib/pages.py" in json.dumps(overview)

    report = json.loads((s.tmp / "report.json").read_text(encoding="utf-8"))
    assert report["overview"] == OVERVIEW
    tiers = {f["path"]: f["tier"] for f in report["files"]}
    assert {p for p, t in tiers.items() if t == "frontier"} == frontier
    assert {p for p, t in tiers.items() if t == "cheap"} == cheap
    assert {p for p, t in tiers.items() if t is None} == {"docs/logo.png", "scripts/old_setup.sh"}
    rows = {r["model"]: r for r in report["cost"]["rows"]}
    assert rows[FRONTIER]["usd"] == pytest.approx(s.frontier_model.usd(FRONTIER), abs=1e-6)
    assert rows[CHEAP]["usd"] == pytest.approx(s.cheap_model.usd(CHEAP), abs=1e-6)
    assert rows[CHEAP]["requests"] + rows[FRONTIER]["requests"] == len(report["calls"])

    text = (s.tmp / "audit.jsonl").read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == len(report["calls"]) == len(s.cheap.chat_requests) + len(s.frontier.chat_requests)
    assert [a["call_id"] for a in lines] == [c["call_id"] for c in report["calls"]]
    assert len({a["run_id"] for a in lines}) == 1
    hosts = {f"127.0.0.1:{s.cheap.port}", f"127.0.0.1:{s.frontier.port}"}
    for entry in lines:
        assert entry["outcome"] == "ok" and "messages" not in entry and entry["endpoint_host"] in hosts
    assert CHEAP_KEY not in text and FRONTIER_KEY not in text
    assert "make dev" not in text  # a line of the diff: no prompt text without include_prompts


def test_every_model_call_failing_exits_3(real_runs: dict[str, Run]) -> None:
    run = real_runs["all_refused"]
    assert run.code == 3, run.stderr
    assert "Traceback" not in run.stderr
    report = json.loads(run.stdout)
    reviewable = [c for c in report["chunks"] if c["models"]]
    assert reviewable and all(c["status"] == "failed" for c in reviewable)
    assert all(c["reason"].startswith("not reviewed: every allowed model failed") for c in reviewable)
    assert report["calls"] and all(c["outcome"] in ("error", "failover") for c in report["calls"])
    assert all("Connection refused" in c["error"] for c in report["calls"])
    assert report["findings"] == [] and report["cost"]["total_usd"] == 0


def test_git_range_sarif_with_progress_only_on_stderr(real_runs: dict[str, Run]) -> None:
    run = real_runs["git_sarif_terminal"]
    assert run.code == 0, run.stderr
    sarif = json.loads(run.stdout)  # progress never mixes into the report
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    (result,) = sarif["runs"][0]["results"]
    assert result["level"] == "error" and result["ruleId"] == "security"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "app/db.py" and location["region"]["startLine"] == 2
    assert "chunks reviewed" in run.stderr and "chunks reviewed" not in run.stdout
    assert "Traceback" not in run.stderr
    assert reviewed_paths(run.setup.frontier) == {"app/db.py"}


# -- no model call ---------------------------------------------------------------------------


def test_missing_key_exits_2_naming_the_variable(setup: Setup) -> None:
    proc = reviewbot(
        "review", str(EXAMPLES / "login-sql.diff"), "--config", str(setup.config), env=clean_env(CHEAP_KEY=CHEAP_KEY)
    )

    assert_clean(proc)
    assert proc.returncode == 2
    first, *rest = proc.stderr.splitlines()
    assert first == f"reviewbot: error: no API key for {FRONTIER}: set FRONTIER_KEY"
    assert len(rest) == 1 and rest[0].startswith("hint:") and "--dry-run" in rest[0]
    assert proc.stdout == "" and setup.cheap.requests == () and setup.frontier.requests == ()


def test_dry_run_needs_no_key_and_shows_the_plan(setup: Setup) -> None:
    proc = reviewbot(
        "review", str(EXAMPLES / "mixed-pr.diff"), "--config", str(setup.config), "--dry-run", env=clean_env()
    )
    assert_clean(proc)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "dry run: no model was called" in out
    assert re.search(r"\.github/workflows/ci\.yml\s+frontier\s+score \d+\s+path matches CI workflow", out)
    assert re.search(r"lib/pages\.py\s+cheap\s+score 0\s+no risk signal", out)
    assert re.search(
        rf"c\d+\s+frontier\s+[\d,]+ tokens\s+\.github/workflows/ci\.yml\s+models: {FRONTIER}\s+est \$", out
    )
    assert "ESTIMATED cost" in out and "total (estimated) $" in out

    as_json = reviewbot(
        "review",
        str(EXAMPLES / "mixed-pr.diff"),
        "--config",
        str(setup.config),
        "--dry-run",
        "--format",
        "json",
        env=clean_env(),
    )
    assert_clean(as_json)
    plan = json.loads(as_json.stdout)
    assert plan["dry_run"] is True and plan["calls"] == [] and plan["cost"]["estimated"] is True
    planned = [c for c in plan["chunks"] if c["status"] == "planned"]
    assert {c["tier"] for c in planned} == {"cheap", "frontier"}
    assert plan["cost"]["total_usd"] == pytest.approx(sum(c["est_usd"] for c in planned), abs=1e-5)
    assert setup.cheap.requests == () and setup.frontier.requests == ()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("not-a-diff.txt", b"hello\nthis is not a diff\n", "the input is not a unified diff"),
        ("merge.diff", b"diff --cc app.py\nindex 1,2..3\n@@@ -1,1 -1,1 +1,1 @@@\n- a\n -b\n++c\n", "merge"),
        ("missing.diff", None, "diff file not found"),
    ],
)
def test_bad_input_exits_2_with_one_line(setup: Setup, name: str, content: bytes | None, message: str) -> None:
    path = setup.tmp / name
    if content is not None:
        path.write_bytes(content)
    proc = reviewbot("review", str(path), "--config", str(setup.config))

    assert_clean(proc)
    assert proc.returncode == 2
    first, *rest = proc.stderr.splitlines()
    assert first.startswith("reviewbot: error: ") and message in first.lower()
    assert all(line.startswith("hint: ") for line in rest) and len(rest) <= 1
    assert proc.stdout == "" and setup.frontier.requests == () and setup.cheap.requests == ()


def test_config_typo_exits_2_with_did_you_mean(setup: Setup) -> None:
    config = write_config(
        setup.tmp / "typo.yml", setup.cheap.base_url, setup.frontier.base_url, extra="reveiw:\n  fail_on: high\n"
    )
    proc = reviewbot("review", str(EXAMPLES / "refactor.diff"), "--config", str(config))

    assert_clean(proc)
    assert proc.returncode == 2
    first = proc.stderr.splitlines()[0]
    assert first.startswith("reviewbot: error: ") and "'reveiw'" in first and "did you mean 'review'" in first


def test_config_show_and_schema(setup: Setup) -> None:
    shown = reviewbot("config", "show", "--config", str(setup.config))
    assert_clean(shown)
    assert shown.returncode == 0, shown.stderr
    assert f"- {FRONTIER}" in shown.stdout and "api_key_env: FRONTIER_KEY" in shown.stdout
    assert "fail_on: none" in shown.stdout  # defaults are shown too

    schema = reviewbot("config", "schema")
    assert schema.returncode == 0
    doc = json.loads(schema.stdout)
    assert doc["$schema"].startswith("https://json-schema.org/") and "models" in doc["properties"]
    assert schema.stdout == (REPO / "reviewbot.schema.json").read_text(encoding="utf-8")


def test_help() -> None:
    proc = reviewbot("--help", env=clean_env())
    assert proc.returncode == 0
    assert "Usage: reviewbot" in proc.stdout and "review" in proc.stdout and "Exit codes" in proc.stdout
    review = reviewbot("review", "--help", env=clean_env())
    assert review.returncode == 0 and "--dry-run" in review.stdout and "--fail-on" in review.stdout
