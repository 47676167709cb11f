"""The terminal experience: `config show` with its sources, click usage errors in our format,
--debug keeping the exit code, `-o -`, no doubled status words, an empty diff without a key,
Ctrl-C, progress, and the limits on config size and user regexes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cliutil import run_cli

from reviewbot.render.common import without_status

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
KEY_VARS = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "OPENROUTER_API_KEY", "OLLAMA_API_BASE")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in [*KEY_VARS, *(n for n in os.environ if n.startswith("REVIEWBOT_"))]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_config_show_applies_variables_and_names_each_source(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "team.yml"
    config.write_text("models:\n  frontier: [openai/big]\nreview:\n  fail_on: high\n", encoding="utf-8")
    monkeypatch.setenv("REVIEWBOT_CONFIG", str(config))
    monkeypatch.setenv("REVIEWBOT_BUDGET_USD", "0.25")
    monkeypatch.setenv("REVIEWBOT_CHEAP_MODEL", "openai/small")

    code, out, err = run_cli(capsys, ["config", "show", "--min-severity", "high"])

    assert code == 0, err
    sources = dict(line[3:].split(None, 1) for line in out.splitlines() if line.startswith("#   "))
    assert sources["models.frontier"] == f"{config} (via REVIEWBOT_CONFIG)"
    assert sources["review.fail_on"] == f"{config} (via REVIEWBOT_CONFIG)"
    assert sources["budget.max_usd"] == "REVIEWBOT_BUDGET_USD"
    assert sources["models.cheap"] == "REVIEWBOT_CHEAP_MODEL"
    assert sources["review.min_severity"] == "--min-severity"
    body = out[out.index("models:") :]
    assert "max_usd: 0.25" in body and "- openai/small" in body and "- openai/big" in body
    assert "fail_on: high" in body and "min_severity: high" in body


def test_config_show_without_anything_says_all_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, ["config", "show"])
    assert code == 0
    listed = [line.split()[1] for line in out.splitlines() if line.startswith("#   ")]
    assert listed == ["models.cheap", "models.frontier"]  # only the default models, from the environment
    assert "because no provider key was found" in out


def test_bad_variable_is_named_in_one_line_and_hint(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REVIEWBOT_FAIL_ON", "hgh")
    code, out, err = run_cli(capsys, ["review", "--diff", str(EXAMPLES / "refactor.diff"), "--dry-run"])
    assert code == 2 and out == ""
    first, second = err.splitlines()
    assert first.startswith("reviewbot: error: invalid value in the environment variable REVIEWBOT_FAIL_ON: ")
    assert "'hgh'" in first
    assert second.startswith("hint: ") and "REVIEWBOT_FAIL_ON" in second


@pytest.mark.parametrize("argv", [["review", "--bogus"], ["review", "--format", "yaml", "x.diff"], ["nosuch"]])
def test_click_usage_errors_use_our_format(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run_cli(capsys, argv)
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith("reviewbot: error: ") and lines[1].startswith("hint: see `reviewbot")
    assert "Usage:" not in err and "Try " not in err


def test_debug_shows_the_traceback_and_keeps_the_exit_code(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, ["--debug", "review", "--diff", str(tmp_path / "missing.diff")])
    assert code == 2
    assert "Traceback" in err and "reviewbot: error: " in err


def test_dash_output_is_standard_output(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run_cli(
        capsys, ["review", "--diff", str(EXAMPLES / "refactor.diff"), "--dry-run", "--format", "json", "-o", "-"]
    )
    assert code == 0, err
    assert json.loads(out)["dry_run"] is True
    assert not (tmp_path / "-").exists()


def test_empty_diff_needs_no_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "empty.diff").write_bytes(b"")
    code, out, err = run_cli(capsys, ["review", "--diff", str(tmp_path / "empty.diff")])
    assert code == 0, err
    assert "no API key" not in err and "no model requests" in out


def test_status_words_are_not_doubled() -> None:
    assert without_status("skipped: over budget") == "over budget"
    assert (
        without_status("not reviewed: every allowed model failed (timeout)") == "every allowed model failed (timeout)"
    )
    assert without_status("not reviewed: skipped: the budget; not reviewed: blocked") == "the budget; blocked"
    assert without_status("a reason with skipped: inside") == "a reason with skipped: inside"


# -- Ctrl-C ------------------------------------------------------------------------------------

STALL_MODEL = "openai/stalling-model"


def stalling_config(path: Path, api_base: str, timeout: float = 60) -> Path:
    path.write_text(
        f"models:\n  cheap: [{STALL_MODEL}]\n  frontier: [{STALL_MODEL}]\n"
        f'endpoints:\n  {STALL_MODEL}: {{api_base: "{api_base}", api_key_env: STALL_KEY, timeout: {timeout}}}\n'
        f"prices:\n  {STALL_MODEL}: {{input: 1.0, output: 2.0}}\n",
        encoding="utf-8",
    )
    return path


def test_ctrl_c_cancels_in_flight_requests_and_exits_130(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from fakes.openai_server import FakeOpenAIServer, FakeReply

    def stall(request_json: dict[str, object]) -> FakeReply:
        return FakeReply.slow(60, "{}")

    with FakeOpenAIServer(responder=stall) as server:
        config = stalling_config(tmp_path / "c.yml", server.base_url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWBOT_") and not k.endswith("_API_KEY")}
        env.update(STALL_KEY="sk-stall-0123456789", LITELLM_LOCAL_MODEL_COST_MAP="True")
        audit = tmp_path / "audit.jsonl"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reviewbot",
                "review",
                "--diff",
                str(EXAMPLES / "mixed-pr.diff"),
                "--config",
                str(config),
                "--audit-log",
                str(audit),
                "--no-progress",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        try:
            deadline = time.monotonic() + 60
            while not server.requests and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.05)
            assert server.requests, "no request reached the stalling server"
            time.sleep(0.3)  # the request is in flight
            sent = time.monotonic()
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
            elapsed = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 130, err
    assert elapsed < 5, (
        f"took {elapsed:.1f} s to stop (the model timeout is 60 s)"
    )  # ~0.05 s: see benchmarks/interrupt.py
    assert out == ""
    assert err.splitlines() == [
        f"reviewbot: interrupted: in-flight model requests cancelled; finished calls are in {audit}"
    ]
    assert "Traceback" not in err


# -- hostile config and text (issue 9.7) ---------------------------------------------------------


def test_catastrophic_user_regex_cannot_hang_the_plan() -> None:
    import time

    from reviewbot.config import RiskConfig
    from reviewbot.diff import parse_diff
    from reviewbot.risk import assess

    line = "a" * 5_000 + "!"  # `(a+)+$` backtracks ~2^5000 times on this with `re`
    diff = parse_diff(f"--- a/x.py\n+++ b/x.py\n@@ -0,0 +1,2 @@\n+{line}\n+ok = 1\n".encode())
    rules = RiskConfig(escalate_patterns=["(a+)+$", r"ok = \d"])
    start = time.monotonic()
    risk = assess(diff.files[0], rules)
    elapsed = time.monotonic() - start
    assert elapsed < 10  # bounded by USER_REGEX_TIMEOUT_S (0.25 s) per pattern and file
    assert risk.tier == "frontier"
    assert any("'(a+)+$' (config) gave up after" in r and "escalated to be safe" in r for r in risk.reasons)
    assert any(r"matches 'ok = \d' (config)" in r for r in risk.reasons)  # the others still run


def test_config_file_size_is_capped(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from reviewbot.config import MAX_CONFIG_BYTES, load_config
    from reviewbot.errors import ConfigError

    big = tmp_path / "big.yml"
    big.write_text("# padding\n" * (MAX_CONFIG_BYTES // 10 + 1), encoding="utf-8")
    code, out, err = run_cli(capsys, ["config", "show", "--config", str(big)])
    assert code == 2 and out == ""
    assert err.splitlines()[0] == f"reviewbot: error: {big}: larger than 256 KiB"
    with pytest.raises(ConfigError, match="larger than"):
        load_config(".reviewbot.yml", text="x: 1\n" * MAX_CONFIG_BYTES)
    small = tmp_path / "small.yml"
    small.write_text("review:\n  fail_on: high\n", encoding="utf-8")
    assert load_config(small).review.fail_on == "high"


HOSTILE = "\x1b]0;pwned\x07\x9b31m\u202egnp.exe\u202c\x85\u2066x\u2069"


def test_terminal_output_has_no_c1_controls_or_bidi(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = f"app/{HOSTILE}.py"
    diff = tmp_path / "hostile.diff"
    diff.write_text(f"--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-a\n+b\n", encoding="utf-8")
    code, out, err = run_cli(capsys, ["review", "--diff", str(diff), "--dry-run"])
    assert code == 0, err
    bad = [ch for ch in out + err if ch in "\x1b\x07\x9b\x85\u202e\u202c\u2066\u2069"]
    assert bad == [] and "gnp.exe" in out


# -- progress -------------------------------------------------------------------------------------


def test_progress_on_a_non_terminal_is_plain_lines_plan_first(tmp_path: Path) -> None:
    import os
    import re
    import subprocess
    import sys

    from fakes.openai_server import FakeOpenAIServer, FakeReply

    with FakeOpenAIServer(responder=lambda _: FakeReply.ok('{"summary": "ok", "findings": []}')) as server:
        config = stalling_config(tmp_path / "c.yml", server.base_url)
        config.write_text(config.read_text() + "budget:\n  max_usd: 2\n", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWBOT_") and not k.endswith("_API_KEY")}
        env.update(STALL_KEY="sk-stall-0123456789", LITELLM_LOCAL_MODEL_COST_MAP="True", NO_COLOR="1")
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "reviewbot",
                "review",
                "--diff",
                str(EXAMPLES / "mixed-pr.diff"),
                "--config",
                str(config),
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env=env,
            timeout=120,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    plan = re.fullmatch(
        r"reviewbot: plan: (\d+) files \((.+)\), (\d+) chunks? to review, "
        r"estimated \$[\d.]+, cap \$2\.00",
        lines[0],
    )
    assert plan is not None, lines[0]
    chunks = int(plan.group(3))
    assert lines[-1].startswith(f"reviewbot: {chunks}/{chunks} chunks reviewed, $")
    assert all(
        re.fullmatch(r"reviewbot: \d+/\d+ chunks reviewed, \$[\d.]+ spent(, about \d+ s left)?", ln) for ln in lines[1:]
    )
    assert not re.search(r"[\r\x1b]", proc.stderr)
    assert json.loads(proc.stdout)["dry_run"] is False


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_report_that_cannot_be_written_is_one_line_and_exit_2() -> None:
    import os
    import subprocess
    import sys

    example = Path(__file__).resolve().parents[1] / "examples" / "login-sql.diff"
    with open("/dev/full", "w") as full:
        run = subprocess.run(
            [sys.executable, "-m", "reviewbot", "review", "--diff", str(example), "--dry-run"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "NO_COLOR": "1"},
            timeout=120,
            check=False,
        )
    assert run.returncode == 2, run.stderr
    assert "cannot write the report to standard output" in run.stderr
    assert "internal error" not in run.stderr and "Traceback" not in run.stderr
