"""The audit log is written as calls finish: each line is on disk before the next request
goes out, so a run that is killed, interrupted or crashes keeps the lines of the calls it
already paid for. Real runs against a fake OpenAI-compatible server on 127.0.0.1: in-process
through runner.execute and the CLI, and as a `python -m reviewbot` subprocess that is killed
(SIGKILL) or interrupted (SIGINT) while a request is in flight."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cliutil import run_cli
from fakes.openai_server import FakeOpenAIServer, FakeReply, estimate_prompt_tokens

from reviewbot.audit import AuditLog
from reviewbot.diff import parse_diff
from reviewbot.errors import UsageError
from reviewbot.outcome import CallRecord
from reviewbot.session import execute, load_effective_config

KEY = "sk-audit-test-0123456789"
TIMEOUT_S = 120  # generous: a hang is a failure, not a slow pass
FILES = 5  # one chunk each (max_chunk_tokens is small), all on the cheap tier


def make_diff(files: int = FILES) -> str:
    """A `git diff` adding `files` Python files, each too large to share a chunk."""
    parts = []
    for f in range(files):
        lines = [ln for i in range(20) for ln in (f"def mod{f}_{i}(value):", f"    return value * {i} + {f}", "")]
        body = "".join(f"+{line}\n" for line in lines)
        parts.append(
            f"diff --git a/lib/mod{f}.py b/lib/mod{f}.py\nnew file mode 100644\nindex 0000000..1234567\n"
            f"--- /dev/null\n+++ b/lib/mod{f}.py\n@@ -0,0 +1,{len(lines)} @@\n{body}"
        )
    return "".join(parts)


def write_config(path: Path, base_url: str) -> Path:
    path.write_text(
        "models:\n  cheap: [openai/fake-cheap]\n  frontier: [openai/fake-frontier]\n"
        "endpoints:\n"
        f'  openai/fake-cheap: {{api_base: "{base_url}", api_key_env: AUDIT_KEY, timeout: {TIMEOUT_S}}}\n'
        f'  openai/fake-frontier: {{api_base: "{base_url}", api_key_env: AUDIT_KEY, timeout: {TIMEOUT_S}}}\n'
        "prices:\n  openai/fake-cheap: {input: 1.0, output: 2.0}\n  openai/fake-frontier: {input: 10.0, output: 20.0}\n"
        "review: {max_chunk_tokens: 500, concurrency: 1}\n",
        encoding="utf-8",
    )
    return path


class Gate:
    """A model that answers the first `open_for` requests at once and holds the next one until
    `release` is set; `held` is set when that request has arrived."""

    def __init__(self, open_for: int) -> None:
        self.open_for = open_for
        self.arrived = 0
        self.answered = 0
        self.held = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, request_json: dict[str, Any]) -> FakeReply:
        with self.lock:
            self.arrived += 1
            number = self.arrived
        if number > self.open_for:
            self.held.set()
            self.release.wait(TIMEOUT_S)
        content = json.dumps({"summary": f"request {number}", "findings": []})
        with self.lock:
            self.answered += 1
        return FakeReply.ok(content, prompt_tokens=estimate_prompt_tokens(request_json), completion_tokens=20)


def read_lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    assert text == "" or text.endswith("\n"), "every line is complete"
    return [json.loads(line) for line in text.splitlines()]


# --- in-process ---------------------------------------------------------------------------------


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeOpenAIServer, Gate]]:
    monkeypatch.setenv("AUDIT_KEY", KEY)
    gate = Gate(open_for=1_000)
    with FakeOpenAIServer(responder=gate) as server:
        yield server, gate


def test_each_line_is_on_disk_when_its_chunk_is_done_and_a_crash_keeps_them(
    tmp_path: Path, model: tuple[FakeOpenAIServer, Gate]
) -> None:
    server, _ = model
    cfg, notes = load_effective_config({"config_path": str(write_config(tmp_path / "c.yml", server.base_url))})
    audit = tmp_path / "audit.jsonl"
    audit.write_text('{"earlier": "run"}\n', encoding="utf-8")  # appended to, never truncated
    on_disk: list[int] = []

    def progress(done: int, total: int, spent: float) -> None:
        on_disk.append(len(read_lines(audit)) - 1)
        if done == 2:
            raise RuntimeError("the run crashes after its second chunk")

    with pytest.raises(RuntimeError, match="second chunk"):
        execute(
            parse_diff(make_diff()),
            cfg,
            source="t.diff",
            notes=notes,
            dry_run=False,
            audit_log=str(audit),
            progress=progress,
            run_id="run-1",
        )
    assert on_disk[:2] == [1, 2]  # chunk k done: k lines written, before the report exists
    lines = read_lines(audit)
    assert lines[0] == {"earlier": "run"}
    # Every request that was answered is in the log, including any the worker had started
    # before the crash reached the caller.
    assert len(lines) - 1 == len(server.chat_requests) >= 2
    assert [a["call_id"] for a in lines[1:]] == [f"call-{i:04d}" for i in range(1, len(lines))]
    assert {(a["run_id"], a["outcome"], a["model"]) for a in lines[1:]} == {("run-1", "ok", "openai/fake-cheap")}
    assert all(a["input_tokens"] > 0 and a["usd"] > 0 for a in lines[1:])


def test_a_finished_run_logs_every_call_once_in_report_order(
    tmp_path: Path, model: tuple[FakeOpenAIServer, Gate]
) -> None:
    server, _ = model
    path = write_config(tmp_path / "c.yml", server.base_url)
    path.write_text(path.read_text(encoding="utf-8").replace("concurrency: 1", "concurrency: 4"), encoding="utf-8")
    cfg, notes = load_effective_config({"config_path": str(path)})
    audit = tmp_path / "audit.jsonl"
    report = execute(
        parse_diff(make_diff()), cfg, source="t.diff", notes=notes, dry_run=False, audit_log=str(audit), run_id="run-2"
    )
    lines = read_lines(audit)
    assert [a["call_id"] for a in lines] == [c.call_id for c in report.calls]
    assert len(lines) == len(server.chat_requests) == len({a["call_id"] for a in lines}) > 3
    assert [a["tier"] for a in lines].count("summary") == 1  # the overview, after the chunks


def test_unwritable_audit_log_is_one_line_before_any_model_is_called(
    tmp_path: Path, model: tuple[FakeOpenAIServer, Gate], capsys: pytest.CaptureFixture[str]
) -> None:
    server, _ = model
    (tmp_path / "change.diff").write_text(make_diff(), encoding="utf-8")
    missing = tmp_path / "no-such-dir" / "audit.jsonl"
    code, out, err = run_cli(
        capsys,
        [
            "review",
            str(tmp_path / "change.diff"),
            "--config",
            str(write_config(tmp_path / "c.yml", server.base_url)),
            "--audit-log",
            str(missing),
            "--no-progress",
        ],
    )
    assert (code, out) == (2, "")
    assert err == f"reviewbot: error: cannot write the audit log {missing}: No such file or directory\n"
    assert server.requests == ()


def call(number: int) -> CallRecord:
    return CallRecord(
        f"call-{number:04d}", f"c{number:03d}", "openai/m", "cheap", ("a.py",), (), 10, 5, None, 0.1, 7, "ok"
    )


def test_each_call_is_written_once(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", "run-3")
    log.write(call(1))
    log.write(call(1))
    assert log.finish([call(1), call(2)]) == 2  # the second was never handed over: written now
    assert [a["call_id"] for a in read_lines(tmp_path / "audit.jsonl")] == ["call-0001", "call-0002"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_write_failing_mid_run_is_one_error_after_the_run() -> None:
    log = AuditLog("/dev/full", "run-4")  # opens, but every write fails: a full disk
    log.write(call(1))  # never raises into the reviewer's threads
    with pytest.raises(UsageError) as caught:
        log.finish([call(1), call(2)])
    assert caught.value.message == (
        "cannot write the audit log /dev/full: No space left on device (0 of 2 requests logged)"
    )


# --- a real process, killed or interrupted mid-run ----------------------------------------------


@dataclass
class Interrupted:
    code: int
    stderr: str
    lines: list[dict[str, Any]]
    gate: Gate
    requests: int


def start(tmp: Path, server: FakeOpenAIServer) -> tuple[subprocess.Popen[str], Path]:
    (tmp / "change.diff").write_text(make_diff(), encoding="utf-8")
    audit = tmp / "audit.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("REVIEWBOT_")}
    env.update(AUDIT_KEY=KEY, LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_LOG="CRITICAL", PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reviewbot",
            "review",
            str(tmp / "change.diff"),
            "--config",
            str(write_config(tmp / "c.yml", server.base_url)),
            "--audit-log",
            str(audit),
            "--no-progress",
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, audit


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Interrupted]]:
    """Two runs started together (each imports litellm): one killed with SIGKILL and one sent
    SIGINT while their third request is held by the model."""
    gates = {"kill": Gate(open_for=2), "sigint": Gate(open_for=2)}
    with FakeOpenAIServer(responder=gates["kill"]) as a, FakeOpenAIServer(responder=gates["sigint"]) as b:
        servers = {"kill": a, "sigint": b}
        procs = {name: start(tmp_path_factory.mktemp(name), servers[name]) for name in gates}
        try:
            results = {}
            for name, (proc, audit) in procs.items():
                gate = gates[name]
                if not gate.held.wait(TIMEOUT_S):
                    proc.kill()
                    pytest.fail(f"the {name} run never sent its third request: {proc.communicate()[1]}")
                if name == "kill":
                    proc.kill()  # a cancelled CI job: no handler runs, no buffer is flushed
                    proc.wait(TIMEOUT_S)
                    gate.release.set()
                else:
                    proc.send_signal(signal.SIGINT)  # Ctrl-C: the request in flight still finishes
                    gate.release.set()
                _, stderr = proc.communicate(timeout=TIMEOUT_S)
                results[name] = Interrupted(
                    proc.returncode, stderr, read_lines(audit), gate, len(servers[name].chat_requests)
                )
        finally:
            for gate in gates.values():
                gate.release.set()
            for proc, _ in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        yield results


def test_a_killed_run_keeps_the_lines_of_the_calls_it_finished(interrupted: dict[str, Interrupted]) -> None:
    run = interrupted["kill"]
    assert run.code == -signal.SIGKILL
    # Two requests were answered and reviewed before the third was sent: both are logged.
    assert [(a["call_id"], a["outcome"]) for a in run.lines] == [("call-0001", "ok"), ("call-0002", "ok")]
    assert [a["chunk_id"] for a in run.lines] == ["c001", "c002"]
    assert all(a["input_tokens"] > 0 and a["output_tokens"] == 20 and a["usd"] > 0 for a in run.lines)
    assert KEY not in json.dumps(run.lines)


def test_an_interrupted_run_logs_the_call_in_flight_and_stops(interrupted: dict[str, Interrupted]) -> None:
    run = interrupted["sigint"]
    assert run.code == 130 and "Traceback" not in run.stderr
    assert run.stderr.strip().startswith("reviewbot: ") and "\n" not in run.stderr.strip()  # one line
    # Ctrl-C cancels the request in flight (issue 10.13: no waiting up to the model timeout):
    # the calls answered before it are logged; chunks not started yet are not sent, and there
    # is no overview request.
    assert "in-flight model requests cancelled" in run.stderr
    assert len(run.lines) == run.requests - 1 >= 2
    assert run.requests < FILES
    assert [a["call_id"] for a in run.lines] == [f"call-{i:04d}" for i in range(1, len(run.lines) + 1)]
    assert {(a["outcome"], a["tier"]) for a in run.lines} == {("ok", "cheap")}
