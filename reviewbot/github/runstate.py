"""What one run learned and did (data only): the `Run` that the review flow (run.py) fills and
the publishing (publish.py) reads for the summary comment, the step summary and the outputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Config
    from ..diff import Diff
    from .events import Context
    from .markers import SummaryState
    from .records import PullInfo

Echo = Callable[[str], None]  # where the run's log lines go (click.echo)


@dataclass
class Run:
    """What one run learned and did, gathered for the summary comment and the outputs. The
    flow adds to `top` and `about`, lowers `config` to the PR's spend cap and sets `since` and
    `unchanged` for an incremental review; the rest is fixed once the run starts."""

    ctx: Context
    opts: dict[str, Any]
    info: PullInfo
    head: str
    base: str
    diff: Diff  # the whole PR
    config: Config
    notes: list[str]  # for the report's notes (models chosen, ...)
    top: list[str] = field(default_factory=list)  # lines under the verdict
    about: list[str] = field(default_factory=list)  # "About this run" items
    previous: SummaryState | None = None
    has_summary: bool = False
    previous_body: str = ""
    unchanged: tuple[str, ...] = ()
    since: str = ""
    rules_file: tuple[str, str] | None = None  # (name, text) at the base commit


__all__ = ["Echo", "Run"]
