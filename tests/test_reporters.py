"""reporters: text, JSON, markdown and SARIF renderings of one hand-built Report, model
text safety in markdown, and the size cap with its "N more" line."""

from __future__ import annotations

import json
import re
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from reviewbot import __version__
from reviewbot.cost import CostRow, CostSummary
from reviewbot.findings import Finding
from reviewbot.outcome import CallRecord, Failover
from reviewbot.render import render_json, render_markdown, render_sarif, render_text
from reviewbot.render.safe import ZWJ, unsafe_nodes
from reviewbot.report import ChunkEntry, FileEntry, Report


def _finding(**kw: object) -> Finding:
    base = Finding(
        path="src/auth.py",
        line=42,
        side="RIGHT",
        severity="high",
        category="security",
        title="SQL built from user input",
        body="The query concatenates `name`.",
        model="openai/gpt-4o",
        chunk_id="c001",
        placement="inline",
        fingerprint="0123456789abcdef",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


FINDINGS = (
    _finding(start_line=40, suggestion='db.execute("SELECT 1 WHERE n = ?", (name,))'),
    _finding(
        path="src/util.py",
        line=7,
        severity="low",
        category="style",
        title="Shadowed builtin",
        body="`list` is shadowed.",
        model="openai/gpt-4o-mini",
        chunk_id="c002",
        fingerprint="fedcba9876543210",
    ),
    _finding(
        path="src/util.py",
        line=None,
        severity="medium",
        category="bug",
        title="Missing error handling",
        body="The file never closes its handle.",
        placement="general",
        model="openai/gpt-4o-mini",
        chunk_id="c002",
        anchor_note="line 900 is outside the diff",
        fingerprint="1111222233334444",
    ),
    _finding(
        path="src/auth.py",
        line=12,
        side="LEFT",
        severity="medium",
        category="bug",
        title="Removed check",
        body="The removed line validated input.",
        fingerprint="5555666677778888",
    ),
    _finding(
        path=None,
        line=None,
        severity="info",
        category="general",
        title="PR-wide note",
        body="Consider splitting this PR.",
        placement="general",
        fingerprint="9999aaaabbbbcccc",
    ),
)

COST = CostSummary(
    rows=(
        CostRow("openai/gpt-4o-mini", "cheap", 2, 12_000, 1_000, 900, 0.0025),
        CostRow("openai/gpt-4o", "frontier", 1, 4_000, 0, 600, 0.016),
    ),
    tiers=(("cheap", 0.0025), ("frontier", 0.016)),
    total_usd=0.0185,
    known_usd=0.0185,
    all_frontier_model="openai/gpt-4o",
    all_frontier_usd=0.0525,
    saving_pct=64.8,
)

FILES = (
    FileEntry(
        "src/auth.py",
        "modified",
        tier="frontier",
        score=80,
        reasons=("touches auth", "SQL string"),
        reviewed=True,
        chunks=("c001",),
    ),
    FileEntry(
        "src/util.py", "modified", tier="cheap", score=10, reasons=("routine change",), reviewed=True, chunks=("c002",)
    ),
    FileEntry("docs/guide.md", "modified", tier="cheap", score=2, reviewed=True, chunks=("c002",)),
    FileEntry("assets/logo.png", "modified", binary=True, skip_reason="binary file"),
    FileEntry("src/big.py", "modified", tier="cheap", score=30, skip_reason="every model failed", chunks=("c003",)),
)

CHUNKS = (
    ChunkEntry("c001", "frontier", ("src/auth.py",), 4_000, ("openai/gpt-4o",), "reviewed", "openai/gpt-4o"),
    ChunkEntry(
        "c002",
        "cheap",
        ("src/util.py", "docs/guide.md"),
        6_000,
        ("openai/gpt-4o-mini", "ollama_chat/qwen"),
        "reviewed",
        "openai/gpt-4o-mini",
    ),
    ChunkEntry(
        "c003",
        "cheap",
        ("src/big.py",),
        6_000,
        ("openai/gpt-4o-mini",),
        "failed",
        reason="every model failed: rate limited",
    ),
)

CALLS = (
    CallRecord(
        "k1",
        "c001",
        "openai/gpt-4o",
        "frontier",
        ("src/auth.py",),
        ("touches auth",),
        4_000,
        600,
        0,
        0.016,
        2_100,
        "ok",
        findings=2,
        endpoint_host="api.openai.com",
        started_at="2025-01-01T00:00:00Z",
    ),
    CallRecord(
        "k2",
        "c002",
        "openai/gpt-4o-mini",
        "cheap",
        ("src/util.py", "docs/guide.md"),
        (),
        6_000,
        450,
        1_000,
        0.0013,
        900,
        "ok",
        findings=2,
    ),
    CallRecord(
        "k3",
        "c003",
        "openai/gpt-4o-mini",
        "cheap",
        ("src/big.py",),
        (),
        6_000,
        450,
        None,
        0.0012,
        300,
        "error",
        error="rate limited",
    ),
)

REPORT = Report(
    source="examples/login-sql.diff",
    dry_run=False,
    files=FILES,
    chunks=CHUNKS,
    findings=FINDINGS,
    calls=CALLS,
    cost=COST,
    failovers=(Failover("c003", "openai/gpt-4o-mini", None, "rate limited"),),
    notes=("1 finding(s) below min_severity 'low' not shown",),
    overview="Adds a login endpoint.",
    budget={"max_usd": 1.0, "spent_usd": 0.0185},
)


# --- text ----------------------------------------------------------------------------------


def test_text_groups_findings_by_file_in_severity_order() -> None:
    text = render_text(REPORT)
    assert "5 findings: 1 high, 2 medium, 1 low, 1 info" in text
    auth = text.index("src/auth.py  [frontier · score 80 · touches auth, SQL string]")
    util = text.index("src/util.py  [cheap · score 10 · routine change]")
    pr = text.index("\nPull request\n")
    assert auth < util < pr
    assert re.search(r"  line 40-42 +HIGH +security +SQL built from user input", text)
    assert re.search(r"  line 12 \(old\) +MEDIUM +bug +Removed check", text)
    assert re.search(r"  file +MEDIUM +bug +Missing error handling", text)
    assert "note: line 900 is outside the diff" in text
    assert '| db.execute("SELECT 1 WHERE n = ?", (name,))' in text
    # Within src/util.py the medium finding comes before the low one.
    assert text.index("Missing error handling") < text.index("Shadowed builtin")
    assert "No findings in: docs/guide.md (cheap)" in text
    assert "\x1b[" not in text


def test_text_not_reviewed_failovers_cost_and_notes() -> None:
    text = render_text(REPORT)
    section = text[text.index("Not reviewed") :]
    assert "assets/logo.png: binary file" in section
    assert "chunk c003 (src/big.py): failed: every model failed: rate limited" in section
    assert "c003: openai/gpt-4o-mini -> (no model left) (rate limited)" in section
    row = next(ln for ln in section.splitlines() if ln.strip().startswith("openai/gpt-4o-mini"))
    assert row.split() == ["openai/gpt-4o-mini", "cheap", "2", "12,000", "1,000", "900", "$0.0025"]
    assert "per tier: cheap $0.0025, frontier $0.0160" in section
    assert "total $0.0185; all-frontier (openai/gpt-4o) $0.0525; saving 64.8%" in section
    assert "Budget\n  max_usd: $1.00\n  spent_usd: $0.0185\n" in section
    # Without a cap or a decision the budget is noise and is left out.
    idle: dict[str, object] = {
        "max_usd": None,
        "spent_usd": 0.0045,
        "max_input_tokens": None,
        "spent_input_tokens": 1_100,
        "refused": 0,
    }
    assert "Budget" not in render_text(replace(REPORT, budget=idle))
    assert "#### Budget" not in render_markdown(replace(REPORT, budget=idle))
    assert "  - 1 finding(s) below min_severity 'low' not shown" in section


def test_text_color_and_empty_verdict() -> None:
    colored = render_text(REPORT, color=True)
    assert "\x1b[1;31mHIGH" in colored and "\x1b[0m" in colored
    empty = render_text(replace(REPORT, findings=()), min_severity="medium")
    assert "No findings at or above medium" in empty and "Pull request" not in empty


def test_text_strips_terminal_escapes_from_model_text() -> None:
    evil = _finding(title="Clear \x1b[2Jscreen", body="line\rOVERWRITE \x1b]0;title\x07", suggestion="x\x1b[31m")
    text = render_text(replace(REPORT, findings=(evil,), overview="\x1b[1mbold"), color=False)
    assert "\x1b" not in text and "\r" not in text
    assert "Clear [2Jscreen" in text and "lineOVERWRITE" in text


def test_text_unknown_price_is_never_zero() -> None:
    cost = replace(
        COST,
        rows=(CostRow("ollama_chat/qwen", "cheap", 1, 100, 0, 10, None),),
        tiers=(("cheap", None),),
        total_usd=None,
        known_usd=0.0,
        saving_pct=None,
        all_frontier_usd=None,
    )
    text = render_text(replace(REPORT, cost=cost))
    assert "unknown" in text and "$0.0000" not in text


def test_dry_run_text_is_a_plan() -> None:
    plan_cost = replace(COST, estimated=True)
    chunks = tuple(replace(c, status="planned", model=None, reason=None, est_usd=0.004) for c in CHUNKS)
    report = replace(REPORT, dry_run=True, findings=(), calls=(), chunks=chunks, cost=plan_cost, failovers=())
    text = render_text(report)
    assert "dry run: no model was called" in text
    assert re.search(r"src/auth.py +frontier +score 80 +touches auth, SQL string", text)
    assert re.search(r"assets/logo.png +not reviewed: binary file", text)
    assert re.search(
        r"c002 +cheap +6,000 tokens +src/util.py, docs/guide.md +models: openai/gpt-4o-mini -> ollama_chat/qwen +est \$0.0040",
        text,
    )
    assert "ESTIMATED cost" in text
    assert "total (estimated) $0.0185; all-frontier (openai/gpt-4o) $0.0525; saving 64.8%" in text
    assert "HIGH" not in text


# --- JSON ----------------------------------------------------------------------------------

DOCUMENTED = {
    "": [
        "version",
        "tool",
        "source",
        "dry_run",
        "files",
        "chunks",
        "findings",
        "calls",
        "failovers",
        "cost",
        "budget",
        "notes",
        "overview",
    ],
    "files": [
        "path",
        "old_path",
        "status",
        "binary",
        "tier",
        "score",
        "reasons",
        "reviewed",
        "skip_reason",
        "chunks",
        "redactions",
        "rules",
    ],
    "chunks": ["id", "tier", "files", "tokens", "models", "status", "model", "reason", "est_usd", "context_tokens"],
    "findings": [
        "path",
        "line",
        "start_line",
        "side",
        "severity",
        "category",
        "title",
        "body",
        "suggestion",
        "model",
        "chunk_id",
        "placement",
        "anchor_note",
        "fingerprint",
    ],
    "calls": [
        "call_id",
        "chunk_id",
        "model",
        "tier",
        "files",
        "reasons",
        "input_tokens",
        "cached_tokens",
        "output_tokens",
        "usd",
        "latency_ms",
        "outcome",
        "error",
        "findings",
        "endpoint_host",
        "template_hash",
        "started_at",
    ],
    "failovers": ["chunk_id", "from_model", "to_model", "reason"],
    "cost": [
        "rows",
        "tiers",
        "total_usd",
        "known_usd",
        "all_frontier_model",
        "all_frontier_usd",
        "saving_pct",
        "estimated",
    ],
}


def test_json_round_trips_with_documented_keys_in_order() -> None:
    doc = json.loads(render_json(REPORT))
    assert list(doc) == DOCUMENTED[""]
    for key in ("files", "chunks", "findings", "calls", "failovers"):
        assert doc[key] and all(list(item) == DOCUMENTED[key] for item in doc[key]), key
    assert list(doc["cost"]) == DOCUMENTED["cost"]
    assert doc["tool"] == {"name": "reviewbot", "version": __version__}
    assert doc["version"] == REPORT.version and doc["dry_run"] is False
    assert doc["findings"][0]["start_line"] == 40 and doc["findings"][0]["fingerprint"] == "0123456789abcdef"
    assert doc["calls"][2]["cached_tokens"] is None and doc["calls"][2]["error"] == "rate limited"
    assert doc["cost"]["tiers"] == {"cheap": 0.0025, "frontier": 0.016}
    assert doc["cost"]["rows"][0]["input_tokens"] == 12_000
    assert doc["budget"] == {"max_usd": 1.0, "spent_usd": 0.0185}
    assert render_json(REPORT) == render_json(REPORT)


def test_json_format_doc_names_every_field() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "report-format.md").read_text()
    for keys in DOCUMENTED.values():
        for key in keys:
            assert f"`{key}`" in doc, key


# --- markdown ------------------------------------------------------------------------------


def test_markdown_sections_and_verdict() -> None:
    md = render_markdown(REPORT)
    assert "⚠️ **1 high, 2 medium, 1 low, 1 info findings** — 1 chunk not reviewed" in md
    assert "> Adds a login endpoint." in md
    assert "<details open><summary>🔴 <b>High (1)</b></summary>" in md
    assert "<details><summary>🟡 <b>Low (1)</b></summary>" in md
    assert "`src/auth.py:40-42`" in md and "`src/auth.py:12 (old)`" in md and "`src/util.py (file)`" in md
    assert "`PR-level`" in md
    assert "Files reviewed: 1 frontier, 2 cheap" in md
    assert "| `src/auth.py` | 80 | touches auth; SQL string |" in md
    assert "- `assets/logo.png` — binary file" in md
    assert "- chunk `c003` (`src/big.py`) — failed: every model failed: rate limited" in md
    assert "| `openai/gpt-4o-mini` | cheap | 2 | 12,000 | 1,000 | 900 | $0.0025 |" in md
    assert "| **Total** | | 3 | 16,000 | 1,000 | 1,500 | **$0.0185** |" in md
    assert "saving 64.8%" in md
    assert "#### Failovers" in md and "#### Budget" in md and "#### Notes" in md
    assert md.count("<details") == md.count("</details>")


def test_markdown_verdicts_for_no_findings_and_not_reviewed() -> None:
    clean = render_markdown(replace(REPORT, findings=(), chunks=CHUNKS[:2], files=FILES[:3]))
    assert "✅ **No findings at or above low**" in clean and "#### Findings" not in clean
    failed = tuple(replace(c, status="failed", reason="every model failed: rate limited") for c in CHUNKS)
    files = tuple(replace(f, reviewed=False, skip_reason=f.skip_reason or "every model failed") for f in FILES)
    md = render_markdown(replace(REPORT, findings=(), chunks=failed, files=files))
    assert "⛔ **Not reviewed:** every model failed: rate limited" in md


# Our own markup in the summary: the only raw HTML a judge may find there.
OWN_HTML = [
    r"<details( open)?>",
    r"<summary>.*</summary>",
    r"</details>",
    r"</?sub>",
    r"<details( open)?><summary>.*",
    r"<b>",
    r"</b>",
    r"</summary>",
]


def test_markdown_neutralises_mentions_html_and_fences() -> None:
    evil = _finding(
        title="Ping @octocat <img src=x onerror=alert(1)>",
        body="cc @github/security-team <script>alert(1)</script> ![pixel](https://evil.test/p.png)\n"
        "```python\nprint('x')\n</details>\n@still-code\n",  # the fence is never closed
        suggestion="a = '```'\n```\n@octocat",
    )
    md = render_markdown(replace(REPORT, findings=(evil,), overview="Thanks @octocat! <b>bold</b>"))
    # Rendered as GitHub would: nothing live outside code — no mention, image or foreign HTML.
    assert unsafe_nodes(md, OWN_HTML) == []
    assert f"@{ZWJ}octocat" in md and f"@{ZWJ}github/security-team" in md
    # Every fence opened inside a finding is closed before our own markup resumes.
    section = md[md.index("<details open>") : md.index("<details><summary>Files reviewed")]
    assert _open_fence(section) is None
    assert "print('x')" in section and "@still-code" in section  # code stays code
    assert "a = '```'\n  ```\n  @octocat" in md  # the suggestion, as code


def _open_fence(text: str) -> str | None:
    """The fence still open at the end of text, by CommonMark's rules: up to three spaces of
    indent; a backtick fence's info string has no backtick; a closing fence is the same
    character, at least as long, with nothing after it."""
    fence = None
    for line in text.splitlines():
        m = re.match(r"^ {0,3}(`{3,}|~{3,})(.*)$", line)
        if not m:
            continue
        run, rest = m.groups()
        if fence is None:
            if not (run[0] == "`" and "`" in rest):
                fence = run
        elif run[0] == fence[0] and len(run) >= len(fence) and not rest.strip():
            fence = None
    return fence


def test_markdown_stays_under_max_chars_and_counts_what_it_left_out() -> None:
    many = tuple(
        _finding(line=i, severity=sev, title=f"Finding {i}", body="x" * 300)
        for i, sev in enumerate(["high"] * 5 + ["medium"] * 40 + ["low"] * 200, start=1)
    )
    md = render_markdown(replace(REPORT, findings=many), max_chars=20_000)
    assert len(md) <= 20_000
    m = re.search(r"_… ([\d,]+) more findings left out to stay under 20,000 characters \(([^)]*)\)", md)
    assert m is not None
    left_out = int(m.group(1).replace(",", ""))
    shown = md.count("- **Finding ")
    assert shown + left_out == len(many) and left_out > 0
    # The lowest severity goes first: every high finding survives.
    assert all(f"**Finding {i}**" in md for i in range(1, 6))
    assert m.group(2).endswith("low") and "high" not in m.group(2)
    assert "<summary>🟠 <b>Medium (40)</b></summary>" in md
    low_shown = 200 - left_out
    assert f"<summary>🟡 <b>Low ({low_shown} of 200)</b></summary>" in md if low_shown else "Low (" not in md
    # With room to spare nothing is left out.
    assert "left out" not in render_markdown(replace(REPORT, findings=many), max_chars=200_000)


def test_markdown_hard_cap_when_the_tail_alone_is_too_big() -> None:
    notes = tuple(f"note {i} " + "y" * 400 for i in range(60))
    md = render_markdown(replace(REPORT, notes=notes), max_chars=5_000)
    assert len(md) <= 5_000 and "cut at 5,000 characters" in md
    files = tuple(
        FileEntry(f"pkg/{i:04d}/" + "d" * 200 + ".py", "added", tier="cheap", score=1, reviewed=True)
        for i in range(300)
    )
    full = render_markdown(replace(REPORT, files=files), max_chars=200_000)
    assert "_… 100 more files in the JSON report._" in full
    # Findings come first: a long file list shrinks before any finding is left out ...
    compact = render_markdown(replace(REPORT, files=files), max_chars=8_000)
    assert len(compact) <= 8_000 and "left out" not in compact and "cut at" not in compact
    assert "_… 285 more files in the JSON report._" in compact
    # ... and a cut through the file table still closes its <details>.
    cut = render_markdown(replace(REPORT, files=files), max_chars=2_500)
    assert len(cut) <= 2_500 and "cut at 2,500 characters" in cut
    assert cut.count("<details") == cut.count("</details>")


def test_markdown_dry_run_verdict() -> None:
    md = render_markdown(replace(REPORT, dry_run=True, findings=(), cost=replace(COST, estimated=True)))
    assert "🧪 **Dry run: no model was called** — 3 chunks planned, estimated $0.0185" in md
    assert "#### Estimated cost" in md and "Files planned:" in md


# --- SARIF ---------------------------------------------------------------------------------


def test_sarif_structure() -> None:
    doc = json.loads(render_sarif(REPORT))
    assert doc["version"] == "2.1.0" and "sarif" in doc["$schema"]
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "reviewbot" and driver["version"] == __version__ and driver["informationUri"]
    rule_ids = [r["id"] for r in driver["rules"]]
    assert rule_ids == sorted({f.category for f in FINDINGS})
    assert all(r["shortDescription"]["text"] for r in driver["rules"])
    results = run["results"]
    assert len(results) == len(FINDINGS)
    for res in results:
        assert res["ruleId"] in rule_ids and driver["rules"][res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["level"] in ("error", "warning", "note") and res["message"]["text"]
        assert len(res["partialFingerprints"]["reviewbot/v1"]) == 16
    high = next(r for r in results if r["properties"]["severity"] == "high")
    assert high["level"] == "error"
    assert high["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "src/auth.py", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 40, "endLine": 42},
    }
    assert high["message"]["text"].startswith("SQL built from user input\n\n")
    left = next(r for r in results if r["message"]["text"].startswith("Removed check"))
    assert left["level"] == "warning" and "region" not in left["locations"][0]["physicalLocation"]
    general = next(r for r in results if r["message"]["text"].startswith("Missing error handling"))
    assert "region" not in general["locations"][0]["physicalLocation"]
    pr_level = next(r for r in results if r["message"]["text"].startswith("PR-wide note"))
    assert "locations" not in pr_level and pr_level["level"] == "note"
    low = next(r for r in results if r["properties"]["severity"] == "low")
    assert low["level"] == "note" and low["properties"]["model"] == "openai/gpt-4o-mini"


def test_sarif_percent_encodes_paths() -> None:
    doc = json.loads(render_sarif(replace(REPORT, findings=(_finding(path="tests/in dex/ü.py"),))))
    uri = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "tests/in%20dex/%C3%BC.py"


# --- properties ----------------------------------------------------------------------------

_TOKENS = [*"ab @<>/`~\n!()[]|*_-# ", "img", "```", "````", "~~~", "<script>", "@octocat", "</details>", "  "]
_nasty = st.lists(st.sampled_from(_TOKENS), max_size=80).map("".join)


@given(
    st.lists(st.tuples(st.sampled_from(["critical", "high", "medium", "low", "info"]), _nasty, _nasty), max_size=40),
    st.integers(min_value=300, max_value=8_000),
)
@settings(max_examples=100, deadline=None)
def test_markdown_never_exceeds_max_chars(items: list[tuple[str, str, str]], max_chars: int) -> None:
    findings = tuple(_finding(severity=sev, title=title or "t", body=body) for sev, title, body in items)
    md = render_markdown(replace(REPORT, findings=findings), max_chars=max_chars)
    assert len(md) <= max_chars
