"""reviewbot eval: the scoring arithmetic, checked exactly with a fake model that answers from
the labels (all found / none found / noisy / shifted lines), through the real pipeline
(plan_review → run_review: chunking, prompts, parsing, anchoring)."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from shareddata import missing

from reviewbot.calling import Target
from reviewbot.config import Config
from reviewbot.diff import parse_diff
from reviewbot.errors import UsageError
from reviewbot.eval.cache import CachingClient
from reviewbot.eval.cases import Case, load_cases
from reviewbot.eval.matching import MatchSettings
from reviewbot.eval.run import EvalSettings, Policy, run_eval
from reviewbot.llm import LLMError, LLMRequest, LLMResponse

CASES = Path(__file__).parent / "eval_cases"
AACR = Path(__file__).resolve().parents[2] / "shared" / "data" / "eval" / "aacr"
CHEAP = "openai/fake-cheap"
PRICE_IN, PRICE_OUT = 1.0, 2.0  # USD per million tokens


@dataclass
class LabelModel:
    """An LLMClient that answers from the cases' labels. mode: all (one finding on each
    label's first line), none, noisy (all + one finding on a must-not-flag line and one on an
    unlabelled changed line), shifted (each finding `shift` lines below the label)."""

    cases: list[Case]
    mode: str = "all"
    shift: int = 0
    requests: list[LLMRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def complete(self, request: LLMRequest) -> LLMResponse:
        with self.lock:
            self.requests.append(request)
        text = request.messages[-1]["content"]
        files = set(re.findall(r"^### (\S+)", text, re.M))
        findings: list[dict[str, object]] = []
        for case in self.cases:
            if self.mode == "none":
                break
            for label in case.labels:
                r = label.region
                if r.path in files and _shown(text, r.path, r.start + self.shift):
                    findings.append(_finding(r.path, r.start + self.shift, label.category, "high"))
            if self.mode == "noisy":
                for region in case.must_not_flag:
                    if region.path in files:
                        findings.append(_finding(region.path, region.start, "style", "low"))
        body = json.dumps({"summary": "changes", "findings": findings})
        return LLMResponse(text=body, input_tokens=1000, output_tokens=100, finish_reason="stop", latency_ms=7)


def _shown(text: str, path: str, line: int) -> bool:
    section = text.split(f"### {path}", 1)[1].split("\n### ", 1)[0]
    return re.search(rf"^{line}[ +]", section, re.M) is not None


def _finding(path: str, line: int, category: str, severity: str) -> dict[str, object]:
    return {
        "path": path,
        "line": line,
        "side": "RIGHT",
        "severity": severity,
        "category": category,
        "title": f"A real problem in {path} at line {line}",
        "body": "Explained well enough to act on.",
    }


def policy(name: str = "cheap-only", **review: object) -> Policy:
    return Policy(
        name,
        Config.model_validate(
            {
                "models": {"cheap": [CHEAP], "frontier": [CHEAP], "summary": "cheap"},
                "endpoints": {CHEAP: {"api_base": "http://127.0.0.1:9/v1"}},
                "prices": {CHEAP: {"input": PRICE_IN, "output": PRICE_OUT}},
                "review": {"concurrency": 2, **review},
            }
        ),
    )


def targets(config: Config, plan: object) -> object:
    return lambda model: Target(model, "http://127.0.0.1:9/v1", None, {}, 5.0, "127.0.0.1:9", None)


def run(mode: str, cases: list[Case], *, shift: int = 0, tolerance: int = 1, **kw: object):  # type: ignore[no-untyped-def]
    model = LabelModel(cases, mode, shift)
    result = run_eval(
        cases,
        [policy()],
        model,
        targets,  # type: ignore[arg-type]
        EvalSettings(concurrency=4, match=MatchSettings(tolerance=tolerance), **kw),  # type: ignore[arg-type]
    )
    return result, model


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return load_cases([CASES])


def changed_lines(cases: list[Case]) -> int:
    return sum(f.additions + f.deletions for c in cases for f in parse_diff(c.diff).files)


def test_cases_load_from_yaml_and_jsonl(cases: list[Case]) -> None:
    assert [c.id for c in cases] == ["sql-login", "tiny-a", "tiny-clean"]
    sql = cases[0]
    assert [(lb.region.start, lb.region.end, lb.min_severity) for lb in sql.labels] == [
        (18, 19, "high"),
        (30, 30, "medium"),
    ]
    assert sql.must_not_flag[0].start == 3 and sql.source and sql.source["licence"] == "MIT"


def test_every_label_found_scores_full_recall_and_precision(cases: list[Case]) -> None:
    result, _ = run("all", cases)
    [p] = result.policies
    s = p.scores
    assert (s.labels, s.found, s.findings, s.matched) == (3, 3, 3, 3)
    assert s.recall == 1.0 and s.precision == 1.0 and s.f1 == 1.0
    assert s.noise_per_100 == 0.0 and s.false_alarms == 0
    assert s.changed_lines == changed_lines(cases)
    assert p.by_category == (("bug", 1, 1), ("security", 2, 2))
    assert p.by_severity == (("high", 1, 1), ("medium", 2, 2))


def test_nothing_found_scores_zero_recall_and_no_precision(cases: list[Case]) -> None:
    result, _ = run("none", cases)
    s = result.policies[0].scores
    assert (s.found, s.findings) == (0, 0)
    assert s.recall == 0.0 and s.precision is None and s.f1 is None and s.noise_per_100 == 0.0


def test_noise_and_false_alarms_are_counted_per_100_changed_lines(cases: list[Case]) -> None:
    result, _ = run("noisy", cases)
    s = result.policies[0].scores
    # 3 labels found, plus one finding on each case's must-not-flag line (sql-login, tiny-clean).
    assert (s.found, s.findings, s.matched, s.false_alarms) == (3, 5, 3, 2)
    assert s.precision == pytest.approx(3 / 5)
    assert s.noise_per_100 == pytest.approx(100 * 2 / changed_lines(cases))
    assert s.f1 == pytest.approx(2 * 0.6 * 1.0 / 1.6)


def test_shifted_lines_match_only_within_the_tolerance(cases: list[Case]) -> None:
    sql = [c for c in cases if c.id == "sql-login"]
    near, _ = run("shifted", sql, shift=1, tolerance=1)
    assert near.policies[0].scores.found == 2
    far, _ = run("shifted", sql, shift=3, tolerance=1)
    s = far.policies[0].scores
    # Line 21 is 2 below the first label (18-19) and line 33 is 3 below 30: neither matches.
    assert (s.found, s.matched) == (0, 0) and s.findings == 2
    wide, _ = run("shifted", sql, shift=3, tolerance=3)
    assert wide.policies[0].scores.found == 2


def test_a_label_is_matched_once_and_a_finding_counts_once() -> None:
    diff = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1,1 +1,3 @@\n x = 1\n+y = 2\n+z = 3\n"
    case = load_cases_from_text(
        [
            {
                "id": "dup",
                "diff": diff,
                "labels": [
                    {"path": "a.py", "line": 2, "category": "bug", "severity": "low", "description": "one"},
                    {"path": "a.py", "line": 3, "category": "bug", "severity": "low", "description": "two"},
                ],
            }
        ]
    )
    result, _ = run("all", case, tolerance=5)
    s = result.policies[0].scores
    assert (s.found, s.findings, s.matched) == (2, 2, 2)  # each finding went to its nearest label


def test_spend_and_per_model_breakdown_come_from_the_calls(cases: list[Case]) -> None:
    result, model = run("all", cases)
    p = result.policies[0]
    calls = len(model.requests)
    assert p.spend.calls == calls and p.spend.failed_calls == 0
    assert p.spend.input_tokens == 1000 * calls and p.spend.output_tokens == 100 * calls
    assert p.spend.usd == pytest.approx(calls * (1000 * PRICE_IN + 100 * PRICE_OUT) / 1e6)
    [by_model] = p.by_model
    assert by_model.name == CHEAP and by_model.scores.found == 3 and by_model.scores.labels == 3
    assert result.models["cheap-only"] == (CHEAP,) and result.version
    assert len(result.prompt_hashes["cheap-only"]) == 12


def test_the_whole_evaluation_never_spends_more_than_its_cap(cases: list[Case]) -> None:
    one_call = (1000 * PRICE_IN + 100 * PRICE_OUT) / 1e6
    result, model = run("all", cases, budget_usd=one_call * 1.5)
    assert result.budget_spent_usd <= one_call * 1.5
    assert len(model.requests) < len(cases)


def test_the_reply_cache_replays_offline_with_no_new_call(cases: list[Case], tmp_path: Path) -> None:
    live = LabelModel(cases, "all")
    first = run_eval(
        cases,
        [policy()],
        CachingClient(live, tmp_path),
        targets,  # type: ignore[arg-type]
        EvalSettings(concurrency=2),
    )
    calls = len(live.requests)
    replay = CachingClient(None, tmp_path, offline=True)
    second = run_eval(cases, [policy()], replay, targets, EvalSettings(concurrency=2))  # type: ignore[arg-type]
    assert replay.misses == 0 and replay.hits == calls
    assert second.policies[0].scores == first.policies[0].scores


def test_a_cache_miss_offline_is_a_failed_call_not_a_clean_review(cases: list[Case], tmp_path: Path) -> None:
    replay = CachingClient(None, tmp_path / "empty", offline=True)
    result = run_eval(cases[:1], [policy()], replay, targets, EvalSettings())  # type: ignore[arg-type]
    p = result.policies[0]
    assert p.spend.failed_calls >= 1 and p.scores.found == 0
    with pytest.raises(LLMError):
        replay.complete(LLMRequest("m", ({"role": "user", "content": "x"},), 10, 1.0))


@pytest.mark.parametrize(
    "text, message",
    [
        ("id: x\nlabels: []\n", "needs `diff`"),
        ("id: x\ndiff: ''\nlabels: [{path: a.py, line: 0}]\n", "1-based"),
        ("id: x\ndiff: ''\nlabels: [{path: a.py, line: 2, severity: urgent}]\n", "severity 'urgent'"),
        ("id: x\ndiff: ''\nlabelz: []\n", "unknown key 'labelz'"),
    ],
)
def test_bad_case_files_are_one_line_usage_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match=re.escape(message)):
        load_cases([path])


def test_aacr_cases_are_read_in_place_with_rejected_comments() -> None:
    if not AACR.is_dir():
        missing("../shared/data/eval/aacr")
    cases = load_cases([AACR])
    assert len(cases) == 40
    labels = sum(len(c.labels) for c in cases)
    rejected = sum(len(c.rejected) for c in cases)
    assert (labels, rejected) == (302, 118)
    assert {lb.category for c in cases for lb in c.labels} <= {"bug", "security", "performance", "maintainability"}


def load_cases_from_text(items: list[dict[str, object]]) -> list[Case]:
    import tempfile

    folder = Path(tempfile.mkdtemp())
    (folder / "cases.jsonl").write_text("\n".join(json.dumps(i) for i in items))
    return load_cases([folder])


@dataclass
class SchemaRefusingModel(LabelModel):
    """llama.cpp's server: OpenAI's json_schema answers 500 naming response_format."""

    refused: int = 0

    def complete(self, request: LLMRequest) -> LLMResponse:
        if (request.response_format or {}).get("type") == "json_schema":
            with self.lock:
                self.refused += 1
            raise LLMError("server", "HTTP 500: response_format.type: Input should be 'text' or 'json_object'")
        return super().complete(request)


def test_a_refused_json_mode_is_asked_once_per_policy_not_once_per_case(cases: list[Case]) -> None:
    model = SchemaRefusingModel(cases, "all")
    result = run_eval(
        cases,
        [policy(), policy("second")],
        model,
        targets,  # type: ignore[arg-type]
        EvalSettings(concurrency=1),
    )
    assert len(cases) > 1 and model.refused == 2  # one refusal per policy, then the lower mode
    for p in result.policies:
        assert p.scores.found == p.scores.labels and p.spend.failed_calls == 1
