"""Support (pure): the repository's own review rules. `review.instructions`, the first
instruction file found (`review.instruction_files`: REVIEW.md, AGENTS.md,
.github/copilot-instructions.md by default) and `review.path_instructions` become the
maintainers' rules of a run: trusted text (read from the base branch in Actions, like the
config), kept apart from the PR's untrusted text in the prompt, capped in tokens with a note
when cut. Path rules reach only the chunks whose files match their glob."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .ignore import glob_match

Count = Callable[[str], int]


@dataclass(frozen=True)
class PathRule:
    label: str  # what the report calls it: "path_instructions[0] (src/api/**)"
    globs: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class RuleSet:
    general: str  # review.instructions and the instruction file, capped; "" when none
    sources: tuple[str, ...]  # where `general` came from, e.g. ("review.instructions", "AGENTS.md")
    path_rules: tuple[PathRule, ...] = ()
    notes: tuple[str, ...] = ()  # "… cut to N tokens"

    def for_paths(self, paths: Iterable[str]) -> tuple[PathRule, ...]:
        wanted = tuple(paths)
        return tuple(r for r in self.path_rules if any(glob_match(p, g) for p in wanted for g in r.globs))


NO_RULES = RuleSet("", ())


def build_rules(
    instructions: str,
    path_instructions: Sequence[tuple[Sequence[str], str]],
    instruction_file: tuple[str, str] | None,
    max_tokens: int,
    count: Count,
) -> RuleSet:
    """`instruction_file` is (name, text) as read at the edge; `path_instructions` are
    (globs, text) in config order. `max_tokens` caps the general text and each path rule."""
    notes: list[str] = []
    parts: list[str] = []
    sources: list[str] = []
    for source, text in (("review.instructions", instructions), *([instruction_file] if instruction_file else [])):
        if text.strip():
            parts.append(text.strip())
            sources.append(source)
    general = _cap("\n\n".join(parts), max_tokens, count, " and ".join(sources), notes)
    rules = []
    for i, (globs, text) in enumerate(path_instructions):
        label = f"path_instructions[{i}] ({', '.join(globs)})"
        if text.strip():
            rules.append(PathRule(label, tuple(globs), _cap(text.strip(), max_tokens, count, label, notes)))
    return RuleSet(general, tuple(sources), tuple(rules), tuple(notes))


def _cap(text: str, max_tokens: int, count: Count, what: str, notes: list[str]) -> str:
    if not text or count(text) <= max_tokens:
        return text
    # Cut on a line boundary: halve until under the cap, then grow back line by line.
    lines = text.splitlines()
    keep = len(lines)
    while keep > 1 and count("\n".join(lines[:keep])) > max_tokens:
        keep //= 2
    while keep < len(lines) and count("\n".join(lines[: keep + 1])) <= max_tokens:
        keep += 1
    cut = "\n".join(lines[:keep])
    if count(cut) > max_tokens:  # one very long line
        cut = cut[: max_tokens * 3]
    notes.append(f"the review rules from {what} were cut to {max_tokens} tokens (review.max_instruction_tokens)")
    return cut
