"""Conversation (pure): what a comment on a pull request asks reviewbot to do, and whether
its author may make reviewbot spend money. Platform-neutral: the GitHub edge
(`reviewbot/github/`) reads the event, this module decides, the edge acts.

A command is a line of its own starting with `/reviewbot` (outside code blocks and quotes):

    /reviewbot review     a full review of the current head
    /reviewbot plan       the dry run (files, tiers, reasons, estimated cost) as a reply
    /reviewbot help       what reviewbot answers to
    /reviewbot ignore     (in a finding's thread) silence that finding for the rest of the PR
    /reviewbot <question> (in a finding's thread) an answer from the model, in the thread

The comment's text is data: only the first command line counts, its arguments are never
executed or interpreted beyond the verb, and the question goes to a model as untrusted text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Verb = Literal["review", "plan", "help", "ignore", "ask"]
PAID: frozenset[Verb] = frozenset({"review", "plan", "ask"})  # plan is free today, but runs our code
# GitHub's author_association values that may trigger paid work by default.
DEFAULT_ALLOWED = ("OWNER", "MEMBER", "COLLABORATOR")
MAX_QUESTION_CHARS = 2_000

_LINE = re.compile(r"^[ \t]{0,3}/reviewbot(?![\w-])[ \t]*(?P<rest>.*)$", re.IGNORECASE | re.MULTILINE)
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
_VERBS: dict[str, Verb] = {
    "review": "review",
    "plan": "plan",
    "help": "help",
    "ignore": "ignore",
    "dismiss": "ignore",
    "resolve": "ignore",
}


@dataclass(frozen=True)
class Command:
    verb: Verb
    question: str = ""  # for "ask": the user's words after /reviewbot, one paragraph, capped

    @property
    def paid(self) -> bool:
        return self.verb in PAID


def parse_command(body: str, *, in_thread: bool = False) -> Command | None:
    """The command in a comment, or None. In a review thread (`in_thread`) anything after
    `/reviewbot` that is not a verb is a question; elsewhere it gets the help text."""
    for line in _visible_lines(body):
        match = _LINE.match(line)
        if match is None:
            continue
        rest = " ".join(match.group("rest").split())
        word = rest.split(" ", 1)[0].lower() if rest else ""
        verb = _VERBS.get(word)
        if verb == "ignore" and not in_thread:
            return Command("help")  # ignore names a finding: only in its thread
        if verb is not None:
            return Command(verb)
        if in_thread and rest:
            return Command("ask", rest[:MAX_QUESTION_CHARS])
        return Command("help")
    return None


def _visible_lines(body: str) -> list[str]:
    """Lines outside fenced code and block quotes: a quoted or pasted `/reviewbot review`
    (e.g. from this help text) is not a command."""
    out: list[str] = []
    fence: str | None = None
    for line in body.replace("\r\n", "\n").split("\n"):
        opener = _FENCE.match(line)
        if fence is not None:
            if opener and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence):
                fence = None
            continue
        if opener:
            fence = opener.group(1)
            continue
        if line.lstrip().startswith(">") or line.startswith(("    ", "\t")):
            continue
        out.append(line)
    return out


@dataclass(frozen=True)
class Author:
    login: str
    association: str  # GitHub's author_association: OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, NONE...
    is_bot: bool  # a Bot account or "<slug>[bot]": never obeyed (no loops between bots)


def may_run(command: Command, author: Author, allowed: tuple[str, ...] = DEFAULT_ALLOWED) -> bool:
    """Bots never; paid work only for the allowed associations; help and ignore for anyone
    who may comment (ignore changes what is posted, never what is spent)."""
    if author.is_bot:
        return False
    if command.paid or command.verb == "ignore":
        return author.association.upper() in {a.upper() for a in allowed}
    return True


HELP = """reviewbot answers to a line starting with `/reviewbot` in a pull request comment:

- `/reviewbot review`: a full review of the current head
- `/reviewbot plan`: the plan (files, tiers, reasons, estimated cost), without calling a model
- `/reviewbot help`: this text

In the thread of one of its inline comments:

- `/reviewbot ignore`: that finding is not posted again on this pull request
- `/reviewbot <your question>`: an answer about that finding, in the thread

Reviews and answers cost money: only repository owners, members and collaborators can ask for them."""
