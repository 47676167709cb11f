"""The GitHub Action's pieces (reviewbot/github/events, outputs, summary, base_commit, run): the Actions environment and event payloads, output and step-summary
files, workflow commands, the summary layout, prompt fetching from the base commit, and the
error paths of `reviewbot github` (one line, an `::error::` annotation, exit 2)."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fakes.github_server import FakeGitHub, Response

from reviewbot.cli import main
from reviewbot.errors import ConfigError, UsageError
from reviewbot.github.api import GitHubPR
from reviewbot.github.base_commit import fetch_prompts
from reviewbot.github.events import Event, PullTarget, Skip, pull_target, read_context, read_event
from reviewbot.github.outputs import (
    STEP_SUMMARY_LIMIT,
    append_step_summary,
    command,
    format_outputs,
    write_outputs,
)
from reviewbot.github.retry import RetryPolicy
from reviewbot.github.review import MAX_BODY
from reviewbot.github.run import run_action
from reviewbot.github.summary import compose_summary

BASE, HEAD = "b" * 40, "c" * 40


def pr_event(action: str = "opened", name: str = "pull_request") -> Event:
    return Event(name, {"action": action, "pull_request": {"number": 7, "head": {"sha": HEAD}, "base": {"sha": BASE}}})


# --- events -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pull_request", "pull_request_target"])
@pytest.mark.parametrize("action", ["opened", "synchronize", "reopened", "ready_for_review"])
def test_pull_request_actions_review_the_payload_head(name: str, action: str) -> None:
    assert pull_target(pr_event(action, name), None) == PullTarget(7, HEAD, BASE)


@pytest.mark.parametrize("action", ["closed", "edited", "labeled", "converted_to_draft", ""])
def test_other_pull_request_actions_are_skipped(action: str) -> None:
    target = pull_target(pr_event(action), None)
    assert isinstance(target, Skip) and f"action '{action}' is not reviewed" in target.reason


def test_other_events_are_skipped_with_the_reason() -> None:
    target = pull_target(Event("push", {"ref": "refs/heads/main"}), None)
    assert isinstance(target, Skip)
    assert target.reason.startswith("event 'push' is not a pull request event")


def test_workflow_dispatch_takes_the_number_from_the_option_then_the_inputs() -> None:
    dispatch = Event("workflow_dispatch", {"inputs": {"pr-number": "12"}})
    assert pull_target(dispatch, None) == PullTarget(12)
    assert pull_target(dispatch, 5) == PullTarget(5)
    assert pull_target(Event("workflow_dispatch", {"inputs": {"pr_number": 3}}), None) == PullTarget(3)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "workflow_dispatch needs a pull request number"),
        ({"inputs": {"pr-number": ""}}, "workflow_dispatch needs a pull request number"),
        ({"inputs": {"pr-number": "#12"}}, "pr-number must be a number, got '#12'"),
    ],
)
def test_workflow_dispatch_without_a_usable_number_is_a_usage_error(payload: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        pull_target(Event("workflow_dispatch", payload), None)


def test_a_pull_request_payload_without_a_number_is_an_error() -> None:
    with pytest.raises(UsageError, match=r"no pull_request\.number"):
        pull_target(Event("pull_request", {"action": "opened", "pull_request": {}}), None)


def test_read_event_reads_the_payload(tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps({"action": "opened"}), encoding="utf-8")
    event = read_event({"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(path)}, None)
    assert event == Event("pull_request", {"action": "opened"})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the event payload"),
        ("{not json", "cannot read the event payload"),
        ("[1, 2]", "is not a JSON object"),
    ],
)
def test_unreadable_event_payloads_are_usage_errors(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "event.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        read_event({"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(path)}, None)


def test_outside_actions_a_pr_number_is_needed() -> None:
    with pytest.raises(UsageError, match="GITHUB_EVENT_NAME is not set"):
        read_event({}, None)
    assert read_event({}, 4) == Event("manual", {})
    assert pull_target(Event("manual", {}), 4) == PullTarget(4)
    with pytest.raises(UsageError, match="GITHUB_EVENT_PATH is not set"):
        read_event({"GITHUB_EVENT_NAME": "pull_request"}, None)


def test_read_context_defaults_and_enterprise() -> None:
    env = {
        "GITHUB_TOKEN": "t",
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_RUN_ID": "99",
        "GITHUB_RUN_ATTEMPT": "2",
        "GITHUB_OUTPUT": "/out",
        "GITHUB_STEP_SUMMARY": "/sum",
        "RUNNER_TEMP": "/tmp/r",
    }
    ctx = read_context(env)
    assert (ctx.api_url, ctx.run_id, ctx.output, ctx.step_summary, ctx.runner_temp) == (
        "https://api.github.com",
        "99-2",
        "/out",
        "/sum",
        "/tmp/r",
    )
    ghe = read_context({**env, "GITHUB_API_URL": "https://ghe.example.com/api/v3", "GITHUB_RUN_ATTEMPT": ""})
    assert (ghe.api_url, ghe.run_id) == ("https://ghe.example.com/api/v3", "99-1")
    assert re.fullmatch(r"[0-9a-f]{12}", read_context({"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "o/r"}).run_id)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GITHUB_REPOSITORY": "o/r"}, "GITHUB_TOKEN is not set"),
        ({"GITHUB_TOKEN": "t"}, "GITHUB_REPOSITORY is not set"),
    ],
)
def test_read_context_needs_token_and_repository(env: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        read_context(env)


# --- output files and workflow commands ---------------------------------------------------------


def test_outputs_are_name_value_lines_and_heredocs_for_line_breaks() -> None:
    text = format_outputs({"findings": "3", "skipped": "false", "note": "a\nb"})
    lines = text.splitlines()
    assert lines[:2] == ["findings=3", "skipped=false"]
    delimiter = lines[2].split("<<", 1)[1]
    assert lines[2] == f"note<<{delimiter}" and lines[3:] == ["a", "b", delimiter]
    assert delimiter.startswith("ghadelimiter_") and delimiter not in "a\nb"


def test_write_outputs_appends_and_ignores_a_missing_path(tmp_path: Path) -> None:
    path = tmp_path / "out"
    path.write_text("earlier=1\n", encoding="utf-8")
    write_outputs(str(path), {"cost-usd": "0.5"})
    write_outputs(None, {"cost-usd": "0.5"})
    assert path.read_text(encoding="utf-8") == "earlier=1\ncost-usd=0.5\n"


def test_step_summary_is_appended_and_capped_at_one_mebibyte(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    append_step_summary(str(path), "# first")
    append_step_summary(str(path), "é" * STEP_SUMMARY_LIMIT)  # two bytes each
    data = path.read_bytes()
    assert data.startswith(b"# first\n")
    assert len(data) - len(b"# first\n") <= STEP_SUMMARY_LIMIT
    assert data.decode("utf-8").endswith("cut to fit GitHub's 1 MiB step summary._\n\n")


def test_a_write_failure_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot write GITHUB_OUTPUT"):
        write_outputs(str(tmp_path / "missing" / "out"), {"a": "b"})


def test_workflow_commands_escape_line_breaks_and_percent() -> None:
    assert command("notice", "50% done\nnext") == "::notice::50%25 done%0Anext"


# --- the summary layout -----------------------------------------------------------------------


def fake_report(max_chars: int) -> str:
    body = "### reviewbot\n\n✅ **No findings at or above low**\n\n#### Cost\n\nNo model requests.\n"
    return body + "x" * max(0, max_chars - len(body) - 1) + "\n"


def test_summary_puts_top_lines_under_the_verdict_and_sections_after() -> None:
    text = compose_summary(
        lambda n: "### reviewbot\n\n⛔ **Not reviewed:** x\n\n#### Cost\n",
        ["> note"],
        ["#### A\n\n- a", "", "#### B"],
        marker="<!-- m -->",
    )
    assert text == (
        "<!-- m -->\n### reviewbot\n\n⛔ **Not reviewed:** x\n\n> note\n\n#### Cost\n\n#### A\n\n- a\n\n#### B\n"
    )


def test_summary_fits_githubs_limit_whatever_the_sections() -> None:
    sections = ["#### Unchanged\n\n" + "\n".join(f"- `src/{i:05}.py`" for i in range(5_000))]
    text = compose_summary(fake_report, ["> top"] * 3, sections, marker="<!-- reviewbot:summary {} -->")
    assert len(text) <= MAX_BODY
    assert "cut to stay under GitHub's comment size limit" in text
    assert text.startswith("<!-- reviewbot:summary {} -->\n### reviewbot\n\n✅")


# --- prompts from the base commit ---------------------------------------------------------------


class ListingGitHub(FakeGitHub):
    """The fake, plus folder listings on the contents API (type "file"/"dir" entries)."""

    def __init__(self) -> None:
        super().__init__("octo", "demo")
        self.folders: dict[tuple[str, str], list[str]] = {}

    def _get_content(self, m: re.Match[str], q: dict[str, str], body: Any) -> Response:
        key = (urllib.parse.unquote(m[1]).strip("/"), q.get("ref", "main"))
        if key in self.folders:
            items = [{"type": "file", "name": n, "path": f"{key[0]}/{n}"} for n in self.folders[key]]
            return 200, [*items, {"type": "dir", "name": "nested", "path": f"{key[0]}/nested"}], {}
        return super()._get_content(m, q, body)


@pytest.fixture
def listing() -> Iterator[ListingGitHub]:
    server = ListingGitHub()
    server.start()
    try:
        server.add_pull(1, [], base_sha=BASE, head_sha=HEAD)
        yield server
    finally:
        server.stop()


def client(gh: FakeGitHub) -> GitHubPR:
    return GitHubPR(
        gh.token or "", gh.full_name, 1, gh.api_url, policy=RetryPolicy(sleep=lambda s: None, write_interval=0.0)
    )


def test_prompts_are_fetched_by_listing_the_base_folder(listing: ListingGitHub, tmp_path: Path) -> None:
    listing.folders[("prompts", BASE)] = ["system.j2", "_rules.j2", "README.md", "x y.j2"]
    listing.set_content("prompts/system.j2", "base system {% include '_rules.j2' %}", ref=BASE)
    listing.set_content("prompts/_rules.j2", "rules", ref=BASE)
    listing.set_content("prompts/system.j2", "head system", ref=HEAD)
    with client(listing) as gh:
        folder, fetched = fetch_prompts(gh, "prompts", BASE, str(tmp_path))
    assert fetched == ["system.j2", "_rules.j2"]
    assert folder.parent == tmp_path
    assert sorted(p.name for p in folder.iterdir()) == ["_rules.j2", "system.j2"]
    assert (folder / "system.j2").read_text(encoding="utf-8") == "base system {% include '_rules.j2' %}"
    paths = [r.path for r in listing.requests]
    assert paths == [
        "/repos/octo/demo/contents/prompts",
        "/repos/octo/demo/contents/prompts/system.j2",
        "/repos/octo/demo/contents/prompts/_rules.j2",
    ]
    assert {r.query["ref"] for r in listing.requests} == {BASE}


def test_without_a_listing_the_known_templates_are_tried(tmp_path: Path) -> None:
    with FakeGitHub("octo", "demo") as fake:
        fake.add_pull(1, [], base_sha=BASE, head_sha=HEAD)
        fake.set_content("p/chunk.j2", "chunk", ref=BASE)
        with client(fake) as gh:
            folder, fetched = fetch_prompts(gh, "p", BASE, str(tmp_path))
        tried = [r.path.rsplit("/", 1)[1] for r in fake.requests[1:]]
    assert fetched == ["chunk.j2"] and [p.name for p in folder.iterdir()] == ["chunk.j2"]
    assert tried == ["system.j2", "chunk.j2", "repair.j2", "summary.j2", "answer.j2"]


# --- error paths of the command ---------------------------------------------------------------


@pytest.fixture
def actions_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps({"action": "opened", "pull_request": {"number": 1, "head": {"sha": HEAD}, "base": {"sha": BASE}}}),
        encoding="utf-8",
    )
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/demo")
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out"))
    return tmp_path


def test_missing_token_is_one_line_an_error_annotation_and_exit_2(
    actions_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["github"])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2
    assert out.startswith("::error::reviewbot: GITHUB_TOKEN is not set (pass `github-token:")
    assert err.splitlines()[0] == "reviewbot: error: GITHUB_TOKEN is not set"


def test_a_bad_config_at_base_names_the_commit(
    actions_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeGitHub("octo", "demo") as fake:
        fake.add_pull(1, [], base_sha=BASE, head_sha=HEAD)
        fake.set_content(".reviewbot.yml", "reveiw: {}\n", ref=BASE)
        monkeypatch.setenv("GITHUB_API_URL", fake.api_url)
        monkeypatch.setenv("GITHUB_TOKEN", fake.token or "")
        with pytest.raises(SystemExit) as exit_info:
            main(["github"])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2
    assert out.startswith("::error::reviewbot: .reviewbot.yml at base bbbbbbb")
    assert ".reviewbot.yml at base bbbbbbb" in err and "review" in err


def test_a_moved_head_is_left_to_the_newer_run(actions_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[str] = []
    with FakeGitHub("octo", "demo") as fake:
        fake.add_pull(1, [], base_sha=BASE, head_sha="d" * 40)
        env = {
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(actions_env / "event.json"),
            "GITHUB_REPOSITORY": "octo/demo",
            "GITHUB_TOKEN": fake.token or "",
            "GITHUB_API_URL": fake.api_url,
            "GITHUB_OUTPUT": str(actions_env / "out"),
        }
        assert run_action({}, env=env, echo=lines.append) == 0
        assert [r.path for r in fake.requests] == ["/repos/octo/demo/pulls/1"]
    assert lines == [
        "::notice::reviewbot: skipped: the PR head moved from ccccccc to ddddddd since this "
        "event; the run for that push reviews it"
    ]
    assert (actions_env / "out").read_text(encoding="utf-8").endswith("skipped=true\n")


@pytest.mark.parametrize("value", ["/etc/prompts", "../outside", "a/../../b"])
def test_prompts_dir_outside_the_repository_is_a_config_error(value: str) -> None:
    from reviewbot.github.base_commit import repo_path as _repo_path

    with pytest.raises(ConfigError, match="must be a path inside the repository"):
        _repo_path(value, "prompts_dir")
    assert _repo_path("./.github//prompts/", "prompts_dir") == ".github/prompts"


# --- whose markers count ------------------------------------------------------------------------


def test_the_action_names_the_actions_bot_only_for_the_workflows_own_token() -> None:
    action = yaml.safe_load((Path(__file__).resolve().parents[1] / "action.yml").read_text(encoding="utf-8"))
    env = action["runs"]["steps"][-1]["env"]
    # Another token (a GitHub App's, a personal one) posts as someone else: then it is asked.
    assert env["REVIEWBOT_BOT_LOGIN"] == (
        "${{ inputs.bot-login || (inputs.github-token == github.token && 'github-actions[bot]') || '' }}"
    )
    assert env["GITHUB_TOKEN"] == "${{ inputs.github-token }}"


def test_a_malformed_bot_login_is_one_line_and_exit_2(
    actions_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeGitHub("octo", "demo") as fake:
        fake.add_pull(1, [], base_sha=BASE, head_sha=HEAD)
        monkeypatch.setenv("GITHUB_API_URL", fake.api_url)
        monkeypatch.setenv("GITHUB_TOKEN", fake.token or "")
        monkeypatch.setenv("REVIEWBOT_BOT_LOGIN", "github actions")
        with pytest.raises(SystemExit) as exit_info:
            main(["github"])
        assert fake.requests == []
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2
    assert out.startswith("::error::reviewbot: the bot login must be a GitHub login, got 'github actions'")
    assert err.splitlines()[0] == "reviewbot: error: the bot login must be a GitHub login, got 'github actions'"


def test_a_failed_login_lookup_stops_the_run_before_anything_is_posted(
    actions_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeGitHub("octo", "demo", bot_login="reviewbot-app[bot]") as fake:
        fake.add_pull(1, [], base_sha=BASE, head_sha=HEAD)
        fake.add_issue_comment(1, '<!-- reviewbot:summary {"head": "", "runs": 1} -->', user="reviewbot-app[bot]")
        fake.fail(
            "POST",
            fake.graphql_path,
            status=403,
            body={"message": "Resource not accessible by integration"},
            match="viewer",
        )
        monkeypatch.setenv("GITHUB_API_URL", fake.api_url)
        monkeypatch.setenv("GITHUB_TOKEN", fake.token or "")
        with pytest.raises(SystemExit) as exit_info:
            main(["github"])
        # Only questions: the config's (one GraphQL read), then the login's.
        assert [r.method for r in fake.requests if r.method != "GET"] == ["POST", "POST"]
        assert all(r.path == fake.graphql_path for r in fake.requests if r.method == "POST")
    out, err = capsys.readouterr()
    assert exit_info.value.code == 3
    message = (
        "cannot tell which login this token posts as: GitHub POST /graphql: 403 Resource not accessible by integration"
    )
    assert out.startswith(f"::error::reviewbot: {message} (name it with --bot-login")
    assert err.splitlines() == [
        f"reviewbot: error: {message}",
        "hint: name it with --bot-login (REVIEWBOT_BOT_LOGIN): github-actions[bot] for the "
        "workflow's GITHUB_TOKEN, <app-slug>[bot] for a GitHub App, else the token's user",
    ]


# --- supply chain: what runs with the token is pinned ------------------------------------------

_ROOT = Path(__file__).resolve().parents[1]
_WORKFLOWS = [
    _ROOT / "action.yml",
    *sorted((_ROOT / ".github" / "workflows").glob("*.yml")),
    *sorted((_ROOT / "examples" / "workflows").glob("*.yml")),
]


def _steps(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if "runs" in data:
        return list(data["runs"]["steps"])
    return [step for job in data["jobs"].values() for step in job.get("steps", [])]


def test_every_uses_is_pinned_by_commit_sha_with_its_version() -> None:
    pinned = re.compile(r"^\s*-?\s*uses: ([\w.-]+/[\w.-]+)@([0-9a-f]{40}) # v\d+\.\d+\.\d+\b")
    for path in _WORKFLOWS:
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.match(r"^\s*-?\s*uses: ", line) and "uses: ./" not in line:
                assert pinned.match(line), f"{path.name}: {line.strip()}"


def test_setup_python_leaves_the_callers_python_and_checkouts_keep_no_credentials() -> None:
    for path in _WORKFLOWS:
        for step in _steps(path):
            uses = step.get("uses", "")
            if uses.startswith("actions/setup-python@") and path.name == "action.yml":
                assert step["with"]["update-environment"] is False
            if uses.startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, path.name


def test_the_install_is_hash_locked_build_backend_included_with_no_fallback() -> None:
    (install,) = [s for s in _steps(_ROOT / "action.yml") if "pip install" in s.get("run", "")]
    script = install["run"]
    assert "||" not in script  # never falls back to an unpinned install
    lines = [ln for ln in script.splitlines() if "pip install" in ln]
    assert all("--require-hashes" in ln for ln in lines[:2])
    assert "requirements-build.lock" in lines[0] and "requirements.lock" in lines[1]
    assert "--no-deps --no-build-isolation" in lines[2]
    lock = (_ROOT / "requirements-build.lock").read_text(encoding="utf-8")
    assert re.search(r"^hatchling==\S+ \\\n\s+--hash=sha256:", lock, re.M)
    # Every package in it carries hashes (pip --require-hashes refuses the file otherwise).
    assert all("--hash=sha256:" in block for block in re.split(r"\n(?=\S)", lock.strip()) if "==" in block)


def test_the_readme_example_runs_one_review_per_pr_at_a_time() -> None:
    readme = (_ROOT / "README.md").read_text(encoding="utf-8")
    example = readme.split("## Use in GitHub Actions", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    assert yaml.safe_load(example.replace("<full commit SHA>", "0" * 40))["concurrency"] == {
        "group": "reviewbot-${{ github.event.pull_request.number }}",
        "cancel-in-progress": False,
    }
