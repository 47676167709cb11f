"""Commands in pull request comments: what counts as a command, and who may make reviewbot
spend money. Pure: the GitHub edge's end-to-end tests are in test_conversation.py."""

from __future__ import annotations

import pytest

from reviewbot.commands import HELP, Author, Command, may_run, parse_command


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/reviewbot review", Command("review")),
        ("Thanks!\n\n/reviewbot   PLAN please", Command("plan")),
        ("/ReviewBot help", Command("help")),
        ("/reviewbot", Command("help")),
        ("/reviewbot make it faster", Command("help")),  # not a verb, not in a thread: the help
        ("/reviewbot ignore", Command("help")),  # ignore names a finding: only in its thread
        ("please run /reviewbot review", None),  # not at the start of a line
        ("/reviewbotreview", None),
        ("/reviewbot-review", None),
        ("> /reviewbot review", None),  # quoted
        ("```\n/reviewbot review\n```", None),  # in a code block
        ("~~~~\n/reviewbot review\n~~~\n/reviewbot plan\n~~~~", None),  # a shorter fence does not close it
        ("    /reviewbot review", None),  # indented code
        ("```\nx\n```\n/reviewbot plan", Command("plan")),
        ("/reviewbot review\n/reviewbot plan", Command("review")),  # the first command only
        ("", None),
    ],
)
def test_a_command_is_a_line_of_its_own(body: str, expected: Command | None) -> None:
    assert parse_command(body) == expected


def test_in_a_thread_other_words_are_a_question_and_ignore_counts() -> None:
    assert parse_command("/reviewbot ignore", in_thread=True) == Command("ignore")
    assert parse_command("/reviewbot dismiss", in_thread=True) == Command("ignore")
    asked = parse_command("/reviewbot why is this a race?\nthe lock is held", in_thread=True)
    assert asked == Command("ask", "why is this a race?")
    long = parse_command("/reviewbot " + "why " * 2000, in_thread=True)
    assert long is not None and len(long.question) == 2000


MEMBER = Author("alice", "MEMBER", is_bot=False)
STRANGER = Author("mallory", "NONE", is_bot=False)
CONTRIBUTOR = Author("carol", "CONTRIBUTOR", is_bot=False)
BOT = Author("github-actions[bot]", "NONE", is_bot=True)
OWNER_BOT = Author("renovate[bot]", "OWNER", is_bot=True)


@pytest.mark.parametrize(
    ("command", "author", "allowed"),
    [
        (Command("review"), MEMBER, True),
        (Command("review"), STRANGER, False),
        (Command("review"), CONTRIBUTOR, False),
        (Command("plan"), STRANGER, False),
        (Command("ask", "why"), STRANGER, False),
        (Command("help"), STRANGER, True),
        (Command("ignore"), STRANGER, False),
        (Command("ignore"), MEMBER, True),
        (Command("help"), BOT, False),
        (Command("review"), OWNER_BOT, False),  # bots never: no loops
    ],
)
def test_who_may_run_what(command: Command, author: Author, allowed: bool) -> None:
    assert may_run(command, author) is allowed


def test_the_allowed_associations_are_configurable() -> None:
    assert may_run(Command("review"), CONTRIBUTOR, ("OWNER", "MEMBER", "COLLABORATOR", "CONTRIBUTOR"))
    assert not may_run(Command("review"), MEMBER, ("OWNER",))


def test_the_help_text_names_every_verb_and_is_not_itself_a_command() -> None:
    for verb in ("review", "plan", "help", "ignore"):
        assert f"/reviewbot {verb}" in HELP
    assert parse_command(HELP) is None  # posted back, it must not trigger anything
