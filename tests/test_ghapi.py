"""reviewbot/github/api.py and client.py against a fake GitHub on 127.0.0.1: reads, pagination, one review per run, one
summary comment, retries within a wait budget, errors, the request count, and markers trusted
only from the login the token posts as."""

from __future__ import annotations

import email.utils
import json
import socket
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import pytest
from fakes.github_server import FakeGitHub, synthetic_files

from reviewbot.diff import diff_from_patches
from reviewbot.errors import UsageError
from reviewbot.findings import Finding
from reviewbot.github.api import GitHubPR, authored_by
from reviewbot.github.errors import CannotWrite, GitHubError
from reviewbot.github.graphql import VIEWER_QUERY
from reviewbot.github.markers import SummaryState, extract_fingerprints, render_summary_marker
from reviewbot.github.retry import RetryPolicy
from reviewbot.github.review import ReviewComment, ReviewPayload, build_review

HEAD, BASE = "c" * 40, "b" * 40
PATCH = "@@ -1,3 +1,4 @@\n import os\n-x = 1\n+x = 2\n+y = 3\n print(x)"
FILES = [
    {
        "filename": "app.py",
        "status": "modified",
        "additions": 2,
        "deletions": 1,
        "changes": 3,
        "patch": PATCH,
        "blob_url": "https://example.invalid/blob",
    }
]


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub("octo", "demo") as server:
        server.add_pull(1, FILES, base_sha=BASE, head_sha=HEAD, title="Fix x", body="Because.")
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


BOT = "github-actions[bot]"  # who the fake's token posts as, unless a test says otherwise


RIGHT: Literal["RIGHT"] = "RIGHT"
LEFT: Literal["LEFT"] = "LEFT"


def client(gh: FakeGitHub, sleeps: Sleeps, number: int = 1, login: str | None = BOT, **policy: Any) -> GitHubPR:
    """A client that knows its login, as in the Action with the workflow's token; login=None
    makes it ask GitHub when it has to."""
    settings = {"backoff": 0.5, "secondary_wait": 5.0, "write_interval": 0.0, **policy}
    return GitHubPR(
        gh.token or "x", gh.full_name, number, gh.api_url, login=login, policy=RetryPolicy(sleep=sleeps, **settings)
    )


def payload(*comments: ReviewComment, run_id: str = "77-1") -> ReviewPayload:
    return ReviewPayload(HEAD, "COMMENT", f"Review\n\n<!-- reviewbot:run:{run_id} -->", comments, run_id=run_id)


GOOD = ReviewComment("app.py", 3, "RIGHT", "good one <!-- reviewbot:fp:g1 -->", fingerprint="g1")
STALE = ReviewComment("app.py", 40, "RIGHT", "stale line <!-- reviewbot:fp:s1 -->", fingerprint="s1")


# --- reads --------------------------------------------------------------------------------


def test_pull_info(gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.add_pull(2, FILES, head_repo="forker/demo", draft=True, author="alice")
    with client(gh, sleeps) as pr, client(gh, sleeps, number=2) as fork:
        info, forked = pr.pull_info(), fork.pull_info()
    assert (info.number, info.title, info.body, info.base_sha, info.head_sha) == (1, "Fix x", "Because.", BASE, HEAD)
    assert (info.base_ref, info.head_ref, info.author, info.draft) == ("main", "feature", "octocat", False)
    assert (info.head_repo_full_name, info.is_fork, info.changed_files) == ("octo/demo", False, 1)
    assert (forked.head_repo_full_name, forked.is_fork, forked.draft, forked.author) == (
        "forker/demo",
        True,
        True,
        "alice",
    )


def test_250_files_take_three_requests(gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.add_pull(3, synthetic_files(250))
    with client(gh, sleeps, number=3) as pr:
        files = pr.changed_files()
    assert [f["filename"] for f in files] == [f["filename"] for f in synthetic_files(250)]
    assert pr.requests_made == 3 and not pr.files_truncated
    calls = gh.requests_to("GET", "/repos/octo/demo/pulls/3/files")
    assert [c.query for c in calls] == [
        {"per_page": "100"},
        {"per_page": "100", "page": "2"},
        {"per_page": "100", "page": "3"},
    ]


def test_enterprise_api_prefix_and_truncation(sleeps: Sleeps) -> None:
    with FakeGitHub("corp", "app", prefix="/api/v3") as gh:
        gh.add_pull(5, synthetic_files(250))
        with client(gh, sleeps, number=5) as pr:
            assert pr.pull_info().changed_files == 250
            files = pr.changed_files(limit=150)
        assert gh.api_url.endswith("/api/v3")
    assert len(files) == 150 and pr.files_truncated
    assert len(gh.requests_to("GET", "/repos/corp/app/pulls/5/files")) == 2


def test_files_keep_only_the_diff_fields(gh: FakeGitHub, sleeps: Sleeps, shared_diffs: Path) -> None:
    items = json.loads((shared_diffs / "medium-pip-10202.files.json").read_text())
    gh.add_pull(4, items)
    with client(gh, sleeps, number=4) as pr:
        files = pr.changed_files()
    assert len(files) == len(items) == 24
    assert all("blob_url" not in f and "contents_url" not in f for f in files)
    typed = next(f for f in files if f["filename"].endswith("py.typed"))
    assert "patch" not in typed  # GitHub leaves patch out: the caller must not invent one
    renamed = next(f for f in files if f["status"] == "renamed")
    assert renamed["previous_filename"]


def test_config_read_at_the_base_sha(gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.set_content(".reviewbot.yml", "review:\n  max_inline: 5\n", ref=BASE)
    gh.set_content(".reviewbot.yml", "evil: true\n", ref=HEAD)
    gh.set_content("dir with space/é.txt", "ok", ref=BASE)
    with client(gh, sleeps) as pr:
        assert pr.file_at(".reviewbot.yml", BASE) == "review:\n  max_inline: 5\n"
        assert pr.file_at("missing.yml", BASE) is None
        assert pr.file_at("dir with space/é.txt", BASE) == "ok"
    assert gh.requests[0].query == {"ref": BASE}


def test_compare(gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.set_compare("a" * 40, HEAD, ["app.py", "lib.py"])
    gh.set_compare("d" * 40, HEAD, ["app.py"], status="diverged")  # force-push
    with client(gh, sleeps) as pr:
        assert pr.compare_files("a" * 40, HEAD) == ["app.py", "lib.py"]
        assert pr.compare_files("d" * 40, HEAD) is None
        assert pr.compare_files("e" * 40, HEAD) is None  # commit gone: 404


def test_existing_fingerprints_across_pages(gh: FakeGitHub, sleeps: Sleeps) -> None:
    for i in range(120):
        if i % 40 == 0:
            gh.add_review_comment(1, f"note {i}\n\n<!-- reviewbot:fp:f{i} -->", user=BOT)
        else:
            gh.add_review_comment(1, f"human {i}")
    with client(gh, sleeps) as pr:
        assert pr.existing_fingerprints() == {"f0", "f40", "f80"}
    assert pr.requests_made == 2 and pr.ignored_markers == 0


def test_fingerprints_in_review_bodies_count_when_asked_for(gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.add_review_comment(1, "inline\n\n<!-- reviewbot:fp:c1 -->", user=BOT)
    for i in range(130):  # two pages of reviews; ours carry a run marker
        gh.add_review(1, f"human review {i}")
    gh.add_review(
        1,
        "**reviewbot** …, so they are listed here:\n\n---\n`app.py` line 3\n\n"
        "x <!-- reviewbot:fp:b1 -->\n\n---\n`app.py` line 4\n\ny <!-- reviewbot:fp:b2 -->"
        "\n\n<!-- reviewbot:run:70-1 -->",
        user="github-actions[bot]",
    )
    gh.add_review(1, "quoting a marker without ours: <!-- reviewbot:fp:h1 -->", user=BOT)
    with client(gh, sleeps) as pr:
        assert pr.existing_fingerprints() == {"c1"}
        assert pr.requests_made == 1  # review bodies only when asked for
        assert pr.existing_fingerprints(reviews=True) == {"c1", "b1", "b2"}
    assert pr.requests_made == 1 + 1 + 2
    assert [r.query for r in gh.requests_to("GET", "/repos/octo/demo/pulls/1/reviews")] == [
        {"per_page": "100"},
        {"per_page": "100", "page": "2"},
    ]


# --- the summary comment ------------------------------------------------------------------


def test_summary_is_created_once_then_edited_in_place(gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.add_issue_comment(1, "LGTM from a human")
    first = "## reviewbot\n\nrun 1\n" + render_summary_marker(SummaryState(HEAD, runs=1, total_usd=0.05))
    with client(gh, sleeps) as pr:
        assert pr.find_summary_comment() is None
        url = pr.upsert_summary(first)
        assert pr.upsert_summary(first.replace("run 1", "run 1b")) == url
    second = "## reviewbot\n\nrun 2\n" + render_summary_marker(SummaryState("f" * 40, runs=2, total_usd=0.09))
    with client(gh, sleeps) as later:  # the next run finds it by its marker
        ref = later.find_summary_comment()
        assert ref is not None and ref.state == SummaryState(HEAD, runs=1, total_usd=0.05)
        assert "run 1b" in ref.body
        assert later.upsert_summary(second) == url
    bodies = [c["body"] for c in gh.issue_comments(1)]
    assert bodies == ["LGTM from a human", second]
    assert len(gh.requests_to("POST", "/repos/octo/demo/issues/1/comments")) == 1
    assert len(gh.requests_to("PATCH", f"/repos/octo/demo/issues/comments/{ref.id}")) == 2


def test_summary_without_marker_is_refused(gh: FakeGitHub, sleeps: Sleeps) -> None:
    with client(gh, sleeps) as pr, pytest.raises(ValueError, match="marker"):
        pr.upsert_summary("no marker here")
    assert gh.requests == []


def test_summary_post_failing_after_save_is_not_duplicated(gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.fail("POST", "/repos/octo/demo/issues/1/comments", status=502, after=True)
    body = "s\n" + render_summary_marker(SummaryState(HEAD, runs=1))
    with client(gh, sleeps) as pr:
        url = pr.upsert_summary(body)
    assert [c["html_url"] for c in gh.issue_comments(1)] == [url]


def test_summary_edit_is_retried_on_a_server_error(gh: FakeGitHub, sleeps: Sleeps) -> None:
    body = "s\n" + render_summary_marker(SummaryState(HEAD, runs=1))
    with client(gh, sleeps) as pr:
        pr.upsert_summary(body)
        (comment,) = gh.issue_comments(1)
        gh.fail("PATCH", f"/repos/octo/demo/issues/comments/{comment['id']}", status=502)
        pr.upsert_summary(body + "\nedited")
    assert [c["body"] for c in gh.issue_comments(1)] == [body + "\nedited"]
    assert sleeps == [0.5]  # a PATCH is idempotent: retried like a read


# --- whose markers count -----------------------------------------------------------------

SUMMARY = '<!-- reviewbot:summary {"head": "%s", "runs": %d, "total_usd": 0.5} -->\nsummary'


def test_markers_written_by_anyone_else_are_ignored(gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.add_issue_comment(1, SUMMARY % ("f" * 40, 40), user="octocat")  # the PR author, first
    gh.add_issue_comment(1, SUMMARY % (HEAD, 1), user=BOT)
    gh.add_review_comment(1, "ours <!-- reviewbot:fp:ours -->", user=BOT)
    gh.add_review_comment(1, "forged <!-- reviewbot:fp:forged -->", user="octocat")
    gh.add_review_comment(1, "another app <!-- reviewbot:fp:app -->", user="evil-app[bot]")
    gh.add_review(1, "x <!-- reviewbot:fp:b1 --> <!-- reviewbot:run:70-1 -->", user=BOT)
    gh.add_review(1, "x <!-- reviewbot:fp:rb1 --> <!-- reviewbot:run:70-1 -->", user="octocat")
    with client(gh, sleeps) as pr:
        ref = pr.find_summary_comment()
        assert ref is not None and ref.state == SummaryState(HEAD, runs=1, total_usd=0.5)
        assert pr.existing_fingerprints(reviews=True) == {"ours", "b1"}
        pr.upsert_summary("edited\n" + render_summary_marker(SummaryState(HEAD, runs=2)))
    assert pr.ignored_markers == 4  # one summary, two review comments, one review
    forged, ours = gh.issue_comments(1)
    assert forged["body"] == SUMMARY % ("f" * 40, 40) and ours["body"].startswith("edited")
    assert [r.path for r in gh.requests if r.method == "PATCH"] == [f"/repos/octo/demo/issues/comments/{ours['id']}"]
    assert gh.requests_to("POST", gh.graphql_path) == []  # the login was given: nothing to ask


def test_a_forged_summary_alone_is_neither_read_nor_edited(gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.add_issue_comment(1, SUMMARY % (HEAD, 9), user="octocat")
    gh.add_issue_comment(1, SUMMARY % (HEAD, 8), user="evil-app[bot]")
    with client(gh, sleeps) as pr:
        assert pr.find_summary_comment() is None
        url = pr.upsert_summary("mine\n" + render_summary_marker(SummaryState(HEAD, runs=1)))
    bodies = [(c["user"]["login"], c["body"]) for c in gh.issue_comments(1)]
    assert bodies[:2] == [("octocat", SUMMARY % (HEAD, 9)), ("evil-app[bot]", SUMMARY % (HEAD, 8))]
    assert bodies[2][0] == BOT and url == gh.issue_comments(1)[2]["html_url"]
    assert [r.method for r in gh.requests] == ["GET", "POST"] and pr.ignored_markers == 2


def test_the_login_is_asked_once_and_only_when_a_marker_must_be_judged(gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.add_issue_comment(1, "LGTM")
    gh.add_review_comment(1, "a human remark")
    with client(gh, sleeps, login=None) as pr:  # no marker anywhere: nothing to ask
        assert pr.find_summary_comment() is None and pr.existing_fingerprints(reviews=True) == set()
        assert pr.login is None and pr.requests_made == 3
    gh.add_issue_comment(1, SUMMARY % (HEAD, 1), user=BOT)
    gh.add_review_comment(1, "ours <!-- reviewbot:fp:c1 -->", user=BOT)
    gh.add_review(1, "x <!-- reviewbot:fp:b1 --> <!-- reviewbot:run:70-1 -->", user=BOT)
    with client(gh, sleeps, login=None) as pr:
        assert pr.find_summary_comment() is not None
        assert pr.existing_fingerprints(reviews=True) == {"c1", "b1"}
        assert pr.login == BOT and pr.requests_made == 3 + 1
    (asked,) = gh.requests_to("POST", gh.graphql_path)
    assert asked.body == {"query": VIEWER_QUERY}


def test_a_personal_token_trusts_its_user_and_not_the_actions_bot(sleeps: Sleeps) -> None:
    with FakeGitHub("octo", "demo", token="ghp_fake", bot_login="alice") as gh:
        gh.add_pull(1, FILES, base_sha=BASE, head_sha=HEAD)
        gh.add_review_comment(1, "<!-- reviewbot:fp:a1 -->", user="alice")
        gh.add_review_comment(1, "<!-- reviewbot:fp:g1 -->", user=BOT)
        with client(gh, sleeps, login=None) as pr:
            assert pr.existing_fingerprints() == {"a1"}
            assert (pr.login, pr.ignored_markers) == ("alice", 1)


def test_an_app_token_on_enterprise_asks_graphql_beside_the_rest_prefix(sleeps: Sleeps) -> None:
    with FakeGitHub("corp", "app", prefix="/api/v3", bot_login="reviewbot-app[bot]") as gh:
        gh.add_pull(1, FILES, base_sha=BASE, head_sha=HEAD)
        gh.add_issue_comment(1, SUMMARY % (HEAD, 3), user="reviewbot-app[bot]")
        gh.add_issue_comment(1, SUMMARY % (HEAD, 4), user=BOT)  # another workflow's bot: not us
        with client(gh, sleeps, login=None) as pr:
            ref = pr.find_summary_comment()
        assert ref is not None and ref.state is not None and ref.state.runs == 3
        assert pr.login == "reviewbot-app[bot]"
        assert gh.graphql_path == "/api/graphql" and len(gh.requests_to("POST", "/api/graphql")) == 1


def test_our_own_write_tells_the_login_without_asking(gh: FakeGitHub, sleeps: Sleeps) -> None:
    with client(gh, sleeps, login=None) as pr:
        pr.post_review(payload(GOOD))
        assert pr.login == BOT
        gh.add_issue_comment(1, SUMMARY % (HEAD, 1), user=BOT)
        assert pr.find_summary_comment() is not None
    assert gh.requests_to("POST", gh.graphql_path) == []


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (
            403,
            {"message": "Resource not accessible by integration"},
            "cannot tell which login this token posts as: GitHub POST /graphql: 403 Resource not accessible by integration",
        ),
        (
            200,
            {"errors": [{"message": "Something\nwent wrong"}]},
            "cannot tell which login this token posts as: GraphQL viewer: Something went wrong",
        ),
        (
            200,
            {"data": {"viewer": {"login": "not a login"}}},
            "cannot tell which login this token posts as: GraphQL viewer: no usable login ('not a login')",
        ),
    ],
)
def test_a_failed_login_lookup_is_a_one_line_service_error(
    gh: FakeGitHub, sleeps: Sleeps, status: int, body: dict[str, object], message: str
) -> None:
    gh.add_issue_comment(1, SUMMARY % (HEAD, 1), user=BOT)
    gh.fail("POST", gh.graphql_path, status=status, body=body)
    with client(gh, sleeps, login=None) as pr, pytest.raises(GitHubError) as caught:
        pr.find_summary_comment()
    assert not isinstance(caught.value, CannotWrite)  # a query is not a write
    assert caught.value.message == message and caught.value.exit_code == 3
    assert caught.value.hint and "--bot-login" in caught.value.hint and "github-actions[bot]" in caught.value.hint
    assert sleeps == []


def test_the_login_lookup_is_retried_like_a_read(gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.add_issue_comment(1, SUMMARY % (HEAD, 1), user=BOT)
    gh.fail("POST", gh.graphql_path, status=502)
    with client(gh, sleeps, login=None) as pr:
        assert pr.find_summary_comment() is not None
    assert sleeps == [0.5] and len(gh.requests_to("POST", gh.graphql_path)) == 2


@pytest.mark.parametrize("login", ["octo cat", "x[bot]]", "-lead", "a/b", "[bot]"])
def test_a_malformed_login_is_a_usage_error(gh: FakeGitHub, sleeps: Sleeps, login: str) -> None:
    with pytest.raises(UsageError, match="the bot login must be a GitHub login"):
        client(gh, sleeps, login=login)
    assert gh.requests == []


def test_authored_by_needs_the_login_and_the_kind_of_account() -> None:
    assert authored_by({"login": "GitHub-Actions[bot]", "type": "Bot"}, BOT)  # logins ignore case
    assert not authored_by({"login": BOT, "type": "User"}, BOT)
    assert authored_by({"login": "alice", "type": "User"}, "alice")
    assert not authored_by({"login": "alice", "type": "Organization"}, "alice")
    assert not authored_by({"login": "alice[bot]", "type": "Bot"}, "alice")
    assert not authored_by(None, BOT) and not authored_by({"type": "Bot"}, BOT)


# --- the review ---------------------------------------------------------------------------


def test_review_is_posted_once_with_its_comments(gh: FakeGitHub, sleeps: Sleeps) -> None:
    with client(gh, sleeps) as pr:
        result = pr.post_review(payload(GOOD))
    (review,) = gh.reviews(1)
    assert (result.review_id, result.html_url, result.inline_comments) == (review["id"], review["html_url"], 1)
    assert (review["state"], review["commit_id"]) == ("COMMENTED", HEAD)
    assert [(c["path"], c["line"], c["side"]) for c in gh.review_comments(1)] == [("app.py", 3, "RIGHT")]
    (sent,) = gh.requests_to("POST", "/repos/octo/demo/pulls/1/reviews")
    assert sent.body == payload(GOOD).to_json()
    with client(gh, sleeps) as later:
        assert later.existing_fingerprints() == {"g1"}


def test_422_is_retried_once_with_every_comment_in_the_body(gh: FakeGitHub, sleeps: Sleeps) -> None:
    with client(gh, sleeps) as pr:
        result = pr.post_review(payload(GOOD, STALE))
    assert result.in_body and result.inline_comments == 0
    assert result.rejection == "Unprocessable Entity (Pull request review thread line must be part of the diff)"
    (review,) = gh.reviews(1)
    assert GOOD.body in review["body"] and STALE.body in review["body"]
    assert "`app.py` line 40" in review["body"]
    assert gh.review_comments(1) == []
    posts = gh.requests_to("POST", "/repos/octo/demo/pulls/1/reviews")
    assert len(posts) == 2 and posts[1].body["comments"] == []
    with client(gh, sleeps) as later:  # the next run finds both in the body
        assert later.existing_fingerprints(reviews=True) == {"g1", "s1"}


def test_second_422_is_an_error(gh: FakeGitHub, sleeps: Sleeps) -> None:
    unknown = ReviewPayload("0" * 40, "COMMENT", "x <!-- reviewbot:run:1 -->", (GOOD,), run_id="1")
    with client(gh, sleeps) as pr, pytest.raises(GitHubError, match="422") as caught:
        pr.post_review(unknown)
    assert "commitOID is not part of the pull request" in caught.value.message
    assert "\n" not in caught.value.message
    assert len(gh.requests_to("POST", "/repos/octo/demo/pulls/1/reviews")) == 2 and gh.reviews(1) == []


def test_502_after_save_leaves_exactly_one_review(gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.fail("POST", "/repos/octo/demo/pulls/1/reviews", status=502, after=True)
    with client(gh, sleeps) as pr:
        result = pr.post_review(payload(GOOD))
    (review,) = gh.reviews(1)
    assert result.recovered and result.review_id == review["id"]
    assert len(gh.requests_to("POST", "/repos/octo/demo/pulls/1/reviews")) == 1
    assert [r.method for r in gh.requests] == ["POST", "GET"]


def test_502_before_save_posts_again_once(gh: FakeGitHub, sleeps: Sleeps) -> None:
    with client(gh, sleeps) as earlier:  # an earlier run's review must not count as ours
        earlier.post_review(payload(GOOD, run_id="76-1"))
    gh.fail("POST", "/repos/octo/demo/pulls/1/reviews", status=502, body="<html><h1>502 Bad Gateway</h1></html>")
    with client(gh, sleeps) as pr:
        result = pr.post_review(payload(GOOD))
    assert not result.recovered
    assert [r["body"].rsplit(":", 1)[-1] for r in gh.reviews(1)] == ["76-1 -->", "77-1 -->"]
    assert sleeps == [0.5]


def test_a_review_someone_else_wrote_with_our_run_id_is_not_taken_for_ours(gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.add_review(1, "copied <!-- reviewbot:run:77-1 -->", user="octocat")  # run ids are public
    gh.fail("POST", "/repos/octo/demo/pulls/1/reviews", status=502)  # GitHub saved nothing
    with client(gh, sleeps) as pr:
        result = pr.post_review(payload(GOOD))
    assert not result.recovered
    assert [r["user"]["login"] for r in gh.reviews(1)] == ["octocat", BOT]
    assert result.review_id == gh.reviews(1)[1]["id"] and len(gh.review_comments(1)) == 1


def test_persistent_502_on_review_is_an_error_after_one_repost(gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.fail("POST", "/repos/octo/demo/pulls/1/reviews", status=502, times=5, body="<h1>502 Bad Gateway</h1>")
    with client(gh, sleeps) as pr, pytest.raises(GitHubError) as caught:
        pr.post_review(payload(GOOD))
    assert caught.value.message == "GitHub POST /repos/octo/demo/pulls/1/reviews: 502 <h1>502 Bad Gateway</h1>"
    assert caught.value.status == 502 and caught.value.exit_code == 3
    assert len(gh.requests_to("POST", "/repos/octo/demo/pulls/1/reviews")) == 2


def test_read_only_token_raises_cannot_write(gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.read_only = True
    with client(gh, sleeps) as pr:
        assert pr.pull_info().number == 1  # reads still work
        with pytest.raises(CannotWrite, match="Resource not accessible by integration") as caught:
            pr.post_review(payload(GOOD))
        assert caught.value.hint and "annotations" in caught.value.hint
        with pytest.raises(CannotWrite):
            pr.upsert_summary(render_summary_marker(SummaryState(HEAD)))
    assert gh.reviews(1) == [] and gh.issue_comments(1) == []


# --- retries and rate limits --------------------------------------------------------------


def test_secondary_rate_limit_with_retry_after_is_honoured(gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.fail(
        "GET",
        "/repos/octo/demo/pulls/1/files",
        status=403,
        headers={"retry-after": "1"},
        body={"message": "You have exceeded a secondary rate limit"},
    )
    with client(gh, sleeps) as pr:
        files = pr.changed_files()
    assert [f["filename"] for f in files] == ["app.py"]
    assert sleeps == [1.0] and pr.requests_made == 2


def test_retry_after_really_waits(gh: FakeGitHub) -> None:
    # The tests below record the waits; by default they are real sleeps, of what was asked.
    assert RetryPolicy().sleep is time.sleep
    slept: list[float] = []
    gh.fail("GET", "/repos/octo/demo/pulls/1", status=429, headers={"retry-after": "1"})
    policy = RetryPolicy(write_interval=0, sleep=slept.append)
    with GitHubPR(gh.token or "", gh.full_name, 1, gh.api_url, policy=policy) as pr:
        assert pr.pull_info().head_sha == HEAD
    assert slept == [1.0]


NOW = 1_790_000_000.0  # the client's clock in the HTTP-date tests


@pytest.mark.parametrize(
    ("retry_after", "clock", "waited"),
    [
        (email.utils.formatdate(NOW + 7, usegmt=True), NOW, 7.0),  # "Mon, 21 Sep 2026 14:13:27 GMT"
        (email.utils.formatdate(NOW + 7, usegmt=True), NOW + 0.4, 7.0),  # whole seconds: rounded up
        (email.utils.format_datetime(datetime.fromtimestamp(NOW + 3, timezone.utc).replace(tzinfo=None)), NOW, 3.0),
        (email.utils.formatdate(NOW - 30, usegmt=True), NOW, 0.0),  # already past: at once
        ("soon, please", NOW, 5.0),  # unreadable: a secondary limit without a time (secondary_wait)
    ],
)
def test_retry_after_as_an_http_date(
    gh: FakeGitHub, sleeps: Sleeps, retry_after: str, clock: float, waited: float
) -> None:
    gh.fail(
        "GET",
        "/repos/octo/demo/pulls/1/files",
        status=403,
        headers={"retry-after": retry_after},
        body={"message": "You have exceeded a secondary rate limit"},
    )
    with client(gh, sleeps, clock=lambda: clock) as pr:
        files = pr.changed_files()
    assert [f["filename"] for f in files] == ["app.py"]
    assert sleeps == [waited] and pr.requests_made == 2


def test_retry_after_date_beyond_the_wait_budget_fails_fast(gh: FakeGitHub, sleeps: Sleeps) -> None:
    later = email.utils.formatdate(NOW + 3600, usegmt=True)
    gh.fail("POST", "/repos/octo/demo/pulls/1/reviews", status=429, headers={"retry-after": later})
    with (
        client(gh, sleeps, clock=lambda: NOW, max_total_wait=60) as pr,
        pytest.raises(GitHubError, match="a retry needs 3600s more than the 60s wait budget allows"),
    ):
        pr.post_review(payload(GOOD))
    assert sleeps == [] and gh.reviews(1) == []


def test_rate_limits_without_retry_after(gh: FakeGitHub, sleeps: Sleeps) -> None:
    reset = str(int(time.time()) + 3)
    gh.fail(
        "GET",
        "/repos/octo/demo/pulls/1",
        status=403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset},
        body={"message": "API rate limit exceeded for installation ID 1."},
    )
    gh.fail(
        "GET",
        "/repos/octo/demo/pulls/1",
        status=403,
        body={"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."},
    )
    gh.fail("GET", "/repos/octo/demo/pulls/1", status=429)
    with client(gh, sleeps) as pr:
        assert pr.pull_info().number == 1
    assert 2.0 <= sleeps[0] <= 4.5  # until the reset, plus a second
    assert sleeps[1:] == [5.0, 5.0]  # the policy's secondary_wait


def test_waits_beyond_the_budget_fail_fast(gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.fail(
        "POST",
        "/repos/octo/demo/pulls/1/reviews",
        status=403,
        headers={"retry-after": "3600"},
        body={"message": "You have exceeded a secondary rate limit"},
    )
    with client(gh, sleeps, max_total_wait=60) as pr, pytest.raises(GitHubError, match="wait budget") as caught:
        pr.post_review(payload(GOOD))
    assert not isinstance(caught.value, CannotWrite)
    assert sleeps == [] and gh.reviews(1) == []


def test_rate_limited_write_is_retried(gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.fail(
        "POST",
        "/repos/octo/demo/pulls/1/reviews",
        status=403,
        headers={"retry-after": "2"},
        body={"message": "You have exceeded a secondary rate limit"},
    )
    with client(gh, sleeps) as pr:
        assert not pr.post_review(payload(GOOD)).recovered
    assert sleeps == [2.0] and len(gh.reviews(1)) == 1


def test_server_errors_on_reads_back_off_then_give_up(gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.fail("GET", "/repos/octo/demo/pulls/1", status=503, times=2, body="<html>503 Service Unavailable</html>")
    with client(gh, sleeps) as pr:
        assert pr.pull_info().number == 1
    assert sleeps == [0.5, 1.0]
    gh.fail("GET", "/repos/octo/demo/pulls/1", status=500, times=9)
    with client(gh, sleeps, attempts=3) as pr, pytest.raises(GitHubError) as caught:
        pr.pull_info()
    assert caught.value.message == "GitHub GET /repos/octo/demo/pulls/1: 500 Server Error"
    assert pr.requests_made == 3


def test_unreachable_api_is_a_one_line_error(sleeps: Sleeps) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    policy = RetryPolicy(sleep=sleeps, backoff=0.25, write_interval=0)
    with GitHubPR("t", "octo/demo", 1, f"http://127.0.0.1:{port}", policy=policy, timeout=2) as pr:
        with pytest.raises(GitHubError, match="ConnectionError") as caught:
            pr.pull_info()
        assert caught.value.status is None and "\n" not in caught.value.message
        assert sleeps == [0.25, 0.5, 1.0] and pr.requests_made == 4
        with pytest.raises(GitHubError):
            pr.post_review(payload(GOOD, run_id=""))  # no run marker to look for: no second POST
        assert pr.requests_made == 5


def test_permission_errors_are_not_retried(gh: FakeGitHub, sleeps: Sleeps) -> None:
    policy = RetryPolicy(sleep=sleeps)
    with (
        GitHubPR("wrong", gh.full_name, 1, gh.api_url, policy=policy) as pr,
        pytest.raises(GitHubError, match="401 Bad credentials") as caught,
    ):
        pr.pull_info()
    assert caught.value.status == 401 and caught.value.hint
    assert sleeps == [] and pr.requests_made == 1
    assert all(r.headers["authorization"] == "REDACTED" for r in gh.requests)


# --- the whole exchange -------------------------------------------------------------------


def test_a_run_costs_pages_plus_six_requests(gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.add_pull(9, synthetic_files(250), base_sha=BASE, head_sha=HEAD)
    gh.set_content(".reviewbot.yml", "review: {}\n", ref=BASE)
    with client(gh, sleeps, number=9) as pr:
        info = pr.pull_info()
        pr.changed_files()
        pr.file_at(".reviewbot.yml", info.base_sha)
        pr.existing_fingerprints()
        pr.find_summary_comment()
        pr.post_review(payload(ReviewComment("src/mod_0007.py", 1, "RIGHT", "x")))
        pr.upsert_summary(render_summary_marker(SummaryState(info.head_sha, runs=1)))
    assert pr.requests_made == len(gh.requests) == 3 + 6


def test_built_review_is_accepted_by_github(gh: FakeGitHub, sleeps: Sleeps, shared_diffs: Path) -> None:
    """Every comment build_review lets through is one GitHub accepts (no 422)."""
    items = json.loads((shared_diffs / "medium-pip-10202.files.json").read_text())
    gh.add_pull(4, items, head_sha=HEAD)
    with client(gh, sleeps, number=4) as pr:
        files = pr.changed_files()
        try:
            diff = diff_from_patches(files)
        except NotImplementedError:
            pytest.skip("diff_from_patches is not implemented yet")
        findings = [
            Finding(
                path=fd.path,
                line=line,
                side=side,
                severity="medium",
                category="bug",
                title=f"{fd.path}:{line}",
                body="b",
                start_line=line - 3,
                placement="inline",
                fingerprint=f"{fd.path}:{side}:{line}",
                suggestion="pass" if side == "RIGHT" else None,
            )
            for fd in diff.files
            for side, lines in ((RIGHT, fd.right_lines), (LEFT, fd.left_lines))
            for line in sorted(lines)[:: max(1, len(lines) // 3)]
        ]
        built, rest = build_review(findings, diff, commit_id=HEAD, run_id="e2e", max_inline=60)
        result = pr.post_review(built)
    assert not result.in_body and result.inline_comments == len(built.comments) > 20
    assert len(gh.review_comments(4)) == len(built.comments)
    posted = set().union(*(extract_fingerprints(c["body"]) for c in gh.review_comments(4)))
    assert posted == {c.fingerprint for c in built.comments}
    assert len(rest) == len(findings) - len(built.comments)


# --- the fake itself behaves like GitHub where the client depends on it -------------------


def test_fake_paginates_and_rejects_like_github() -> None:
    import requests

    with FakeGitHub("octo", "demo", prefix="/api/v3") as gh:
        gh.add_pull(1, synthetic_files(250), head_sha=HEAD)
        auth = {"Authorization": f"token {gh.token}"}
        files = f"{gh.api_url}/repos/octo/demo/pulls/1/files"
        page = requests.get(files, params={"per_page": 100, "page": 2}, headers=auth, timeout=5)
        assert page.links["next"]["url"] == f"{files}?per_page=100&page=3"
        assert page.links["prev"]["url"] == f"{files}?per_page=100&page=1"
        assert set(page.links) == {"prev", "next", "last", "first"}
        assert len(page.json()) == 100
        assert requests.get(files, headers=auth, timeout=5).json()[29]["filename"] == "src/mod_0029.py"

        reviews = f"{gh.api_url}/repos/octo/demo/pulls/1/reviews"
        cases: list[tuple[dict[str, Any], str]] = [
            ({"event": "APPROVE", "commit_id": HEAD}, "GitHub Actions is not permitted to approve pull requests."),
            ({"event": "COMMENT", "body": "x" * 65_537}, "Body is too long (maximum is 65536 characters)"),
            (
                {
                    "event": "COMMENT",
                    "body": "b",
                    "comments": [{"path": "src/mod_0001.py", "line": 1, "side": "RIGHT", "body": "c", "start_line": 1}],
                },
                "Pull request review thread start line must precede the end line",
            ),
            (
                {"event": "COMMENT", "body": "b", "comments": [{"path": "nope.py", "line": 1, "body": "c"}]},
                "Path could not be resolved",
            ),
        ]
        for body, reason in cases:
            answer = requests.post(reviews, json=body, headers=auth, timeout=5)
            assert (answer.status_code, answer.json()["errors"]) == (422, [reason])
        assert gh.reviews(1) == []
        assert requests.get(files, timeout=5).status_code == 401
