"""Conversation end to end: `issue_comment` and `pull_request_review_comment` events through
`reviewbot github`, against the fake GitHub and the fake model server of test_action_e2e (the
one harness). Each event type, who may make reviewbot spend, bots never obeyed, feedback that
sticks, and the GitHub requests each costs."""
# ruff: noqa: F811 — the harness's fixtures are imported from test_action_e2e and used by name

from __future__ import annotations

from typing import Any

import pytest
from fakes.openai_server import FakeReply
from mdcheck import assert_inert
from test_action_e2e import AUTH, BASE, BOT, HEAD, HEAD2, Harness, config_yaml, gh, h, llm  # noqa: F401  (fixtures)

from reviewbot.commands import HELP
from reviewbot.github.conversation import REPLY_MARKER
from reviewbot.github.markers import extract_fingerprints, parse_summary_state

ISSUE_COMMENTS = "/repos/octo/demo/issues/1/comments"


def issue_comment(
    h: Harness,
    body: str,
    *,
    login: str = "alice",
    association: str = "MEMBER",
    kind: str = "User",
    action: str = "created",
    on_pr: bool = True,
) -> dict[str, Any]:
    issue: dict[str, Any] = {"number": 1}
    if on_pr:
        issue["pull_request"] = {"url": f"{h.gh.api_url}/repos/octo/demo/pulls/1"}
    seeded = h.gh.add_issue_comment(1, body, user=login, association=association)
    h.gh.requests.clear()  # seeding is the test's, not reviewbot's
    return {
        "name": "issue_comment",
        "payload": {"action": action, "issue": issue, "comment": {**seeded, "user": {"login": login, "type": kind}}},
    }


def thread_comment(
    h: Harness, body: str, root: int, *, login: str = "alice", association: str = "MEMBER"
) -> dict[str, Any]:
    reply = h.gh.add_review_comment(
        1, body, path="app/auth.py", line=18, user=login, in_reply_to=root, association=association
    )
    return {
        "name": "pull_request_review_comment",
        "payload": {
            "action": "created",
            "pull_request": {"number": 1, "head": {"sha": HEAD}, "base": {"sha": "b2" * 20}},
            "comment": {**reply, "user": {"login": login, "type": "User"}},
        },
    }


def our_auth_comment(h: Harness) -> dict[str, Any]:
    return next(
        c for c in h.gh.review_comments(1) if "SQL built from user input" in c["body"] and c["user"]["login"] == BOT
    )


def replies(h: Harness) -> list[str]:
    return [c["body"] for c in [*h.gh.issue_comments(1), *h.gh.review_comments(1)] if REPLY_MARKER in c["body"]]


def test_help_is_answered_for_anyone_with_one_request(h: Harness) -> None:
    result = h.run(event=issue_comment(h, "/reviewbot help", login="drive-by", association="NONE"))
    assert result.code == 0 and result.outputs["skipped"] == "true"
    (reply,) = replies(h)
    assert HELP in reply
    assert len(h.gh.requests) == 1 and h.llm.chat_requests == ()


def test_a_stranger_cannot_make_reviewbot_spend(h: Harness) -> None:
    result = h.run(event=issue_comment(h, "/reviewbot review", login="mallory", association="CONTRIBUTOR"))
    assert result.code == 0
    assert h.llm.chat_requests == () and h.gh.reviews(1) == []
    (reply,) = replies(h)
    assert "Only the repository's owners, members, collaborators can ask reviewbot to review" in reply
    assert len(h.gh.requests) == 3  # the pull request, the base commit's config, the reply


@pytest.mark.parametrize(
    "event",
    [
        {"login": "github-actions[bot]", "kind": "Bot", "association": "NONE"},
        {"login": "renovate[bot]", "kind": "Bot", "association": "OWNER"},  # an owner's bot is still a bot
    ],
)
def test_a_bot_comment_never_triggers_anything(h: Harness, event: dict[str, Any]) -> None:
    result = h.run(event=issue_comment(h, "/reviewbot review", **event))
    assert result.code == 0 and "bots are never obeyed" in result.stdout
    assert h.gh.requests == [] and h.llm.chat_requests == ()


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"on_pr": False}, "not on a pull request"),
        ({"action": "edited"}, "is not a new comment"),
    ],
)
def test_other_comments_are_skipped_without_a_request(h: Harness, kwargs: dict[str, Any], why: str) -> None:
    result = h.run(event=issue_comment(h, "/reviewbot review", **kwargs))
    assert result.code == 0 and why in result.stdout and h.gh.requests == []


def test_a_member_asks_for_a_full_review_under_the_command_cap(h: Harness) -> None:
    result = h.run(event=issue_comment(h, "/reviewbot review"))
    assert result.code == 0 and result.outputs["skipped"] == "false"
    assert len(h.gh.reviews(1)) == 1 and len(h.gh.issue_comments(1)) == 2  # the command, one summary
    body = h.summary()["body"]
    assert "this review may spend at most $0.5000 (conversation.max_usd_per_command)" in body
    command_id = h.gh.issue_comments(1)[0]["id"]
    assert len(h.gh.requests_to("POST", f"/repos/octo/demo/issues/comments/{command_id}/reactions")) == 1
    assert len(h.gh.requests) <= 10, [f"{r.method} {r.path}" for r in h.gh.requests]


def test_plan_is_posted_as_a_reply_without_a_model_call(h: Harness) -> None:
    result = h.run(event=issue_comment(h, "Could you?\n\n/reviewbot plan"))
    assert result.code == 0 and h.llm.chat_requests == ()
    (reply,) = replies(h)
    assert "app/auth.py" in reply and "Estimated cost" in reply
    assert h.gh.reviews(1) == []  # a plan posts no review and leaves the summary alone
    assert len(h.gh.requests) == 4


def test_ignore_in_a_findings_thread_silences_it_for_the_rest_of_the_pull_request(h: Harness) -> None:
    assert h.run().code == 0
    root = our_auth_comment(h)
    (print_,) = extract_fingerprints(root["body"])
    h.gh.requests.clear()
    h.gh.permissions["alice"] = "write"
    result = h.run(event=thread_comment(h, "/reviewbot ignore", root["id"]))
    assert result.code == 0 and len(h.gh.requests) == 7  # with the permission of alice
    state = parse_summary_state(h.summary()["body"])
    assert state is not None and state.ignored == (print_,)
    assert any("Ignored: reviewbot will not post this finding again" in r for r in replies(h))
    # The next push: the same finding is found again, never posted or listed again.
    h.gh.pulls[1].commits.append(HEAD)
    h.gh.pulls[1].head_sha = HEAD2
    later = h.run("--full", event=h.event(action="synchronize", head=HEAD2))
    assert later.code == 0
    summary = h.summary()["body"]
    assert "Dismissed on this pull request: 1 finding" in summary and "1 of them found again" in summary
    assert AUTH["title"] not in summary.split("About this run")[0]
    assert sum(AUTH["title"] in c["body"] for c in h.gh.review_comments(1)) == 1  # only the first, ever


def test_a_thumbs_down_by_a_maintainer_dismisses_a_finding_too(h: Harness) -> None:
    assert h.run().code == 0
    h.gh.permissions["maria"] = "write"
    h.gh.add_reaction(our_auth_comment(h), "-1", "maria")
    assert h.run("--full").code == 0
    assert "Dismissed on this pull request: 1 finding" in h.summary()["body"]


@pytest.mark.parametrize("who", ["octocat", "stranger", "helper[bot]"])
def test_a_thumbs_down_by_someone_without_write_access_dismisses_nothing(h: Harness, who: str) -> None:
    # The PR's author, a passer-by, a bot (even one with write access): none can silence a finding.
    h.gh.permissions["helper[bot]"] = "write"
    assert h.run().code == 0
    h.gh.add_reaction(our_auth_comment(h), "-1", who)
    assert h.run("--full").code == 0
    body = h.summary()["body"]
    assert "Dismissed on this pull request" not in body and AUTH["title"] in body.split("About this run")[0]


def test_a_member_without_write_access_cannot_ignore_a_finding(h: Harness) -> None:
    assert h.run().code == 0
    root = our_auth_comment(h)
    h.run(event=thread_comment(h, "/reviewbot ignore", root["id"], login="reader", association="MEMBER"))
    state = parse_summary_state(h.summary()["body"])
    assert state is not None and state.ignored == ()
    assert any("Only someone with write access" in r for r in replies(h))


def test_a_stranger_cannot_ignore_a_finding(h: Harness) -> None:
    assert h.run().code == 0
    root = our_auth_comment(h)
    h.run(event=thread_comment(h, "/reviewbot ignore", root["id"], login="mallory", association="NONE"))
    state = parse_summary_state(h.summary()["body"])
    assert state is not None and state.ignored == ()


def test_a_question_in_a_findings_thread_gets_a_safe_answer_there(h: Harness) -> None:
    assert h.run().code == 0
    root = our_auth_comment(h)
    before = len(h.llm.chat_requests)
    h.llm.responder = lambda body: FakeReply.ok(
        "Yes: ![x](https://evil.example/p.png) @octocat the query takes `username` from the form.",
        prompt_tokens=400,
        completion_tokens=40,
    )
    h.gh.requests.clear()
    result = h.run(event=thread_comment(h, "Is this reachable from the login form?", root["id"]))
    assert result.code == 0 and len(h.gh.requests) == 8  # a page of review comments, one of the files
    (request,) = h.llm.chat_requests[before:]
    user = request.body["messages"][-1]["content"]
    assert "<question>\nIs this reachable from the login form?\n</question>" in user and AUTH["title"] in user
    answer = next(c for c in h.gh.review_comments(1) if REPLY_MARKER in c["body"])
    assert answer["in_reply_to_id"] == root["id"] and "the query takes" in answer["body"]
    assert_inert(answer["body"])  # no live mention or image from the model's text
    state = parse_summary_state(h.summary()["body"])
    assert state is not None and state.total_usd > 0  # the answer counts toward the PR's cap


def test_a_question_on_someone_elses_thread_is_left_alone(h: Harness) -> None:
    assert h.run().code == 0
    human = h.gh.add_review_comment(1, "nit: rename this", path="app/auth.py", line=18, user="bob")
    result = h.run(event=thread_comment(h, "Why?", human["id"]))
    assert result.code == 0 and "not a reviewbot finding" in result.stdout and replies(h) == []


def test_an_outdated_findings_thread_is_resolved_and_counted(h: Harness) -> None:
    assert h.run().code == 0
    root = our_auth_comment(h)
    root["line"] = None  # a later commit changed the line: GitHub marks the comment outdated
    assert h.run("--full").code == 0
    assert h.gh.resolved_threads == {f"PRRT_{root['id']}"}
    assert "Outdated: 1 earlier finding on lines a later commit changed; 1 thread resolved" in h.summary()["body"]


def test_the_verdict_is_the_whole_pull_requests_until_the_finding_is_ignored(h: Harness) -> None:
    # fail_on: high and a high finding on app/auth.py. Later runs that review only part of the
    # PR (a push touching another file, a push touching nothing reviewable, a re-run on the
    # same head) keep the check failing while that finding stands; `/reviewbot ignore` by a
    # member clears it.
    h.gh.set_content(".reviewbot.yml", config_yaml(h.llm.base_url, extra="review:\n  fail_on: high\n"), ref=BASE)
    assert h.run().code == 1
    pull = h.gh.pulls[1]
    pull.head_sha, pull.commits = HEAD2, [HEAD]
    h.gh.set_compare(HEAD, HEAD2, ["app/sso.py"])
    partial = h.run(event=h.event(action="synchronize", head=HEAD2, before=HEAD, after=HEAD2))
    assert partial.code == 1, partial.stdout
    assert "from earlier reviews still stand on files this run did not review" in h.summary()["body"]
    state = parse_summary_state(h.summary()["body"])
    assert state is not None and [(e[1], e[2]) for e in state.standing] == [("app/auth.py", "high")]
    assert h.run(event=h.event(action="reopened", head=HEAD2)).code == 1  # a free re-run: same verdict
    h.gh.permissions["alice"] = "write"
    h.run(event=thread_comment(h, "/reviewbot ignore", our_auth_comment(h)["id"]))
    assert h.run(event=h.event(action="reopened", head=HEAD2)).code == 0
