"""What the run takes from the pull request's BASE commit (I/O: reads through the GitHub API,
writes the prompt templates to a fresh local folder): the config, the review rules file and
the prompt templates. A PR must not be able to change how it is reviewed (with
pull_request_target it would also get the secrets), so nothing of the PR head is read here."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..render.safe import inline_code

if TYPE_CHECKING:
    from ..config import Config
    from ..diff import Diff
    from .api import GitHubPR

DEFAULT_CONFIG = ".reviewbot.yml"
_PROMPT_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.j2")
MAX_PROMPT_FILES = 20


@dataclass(frozen=True)
class BaseSetup:
    """The effective config of the base commit and what the summary says about it: `about`
    items ("About this run") and `top` warnings (this PR changes the config, rules or prompts)."""

    config: Config
    notes: tuple[str, ...]  # for the report's notes (models chosen, ...)
    rules_file: tuple[str, str] | None  # (name, text) at the base commit
    about: tuple[str, ...]
    top: tuple[str, ...]


def load_base_setup(gh: GitHubPR, opts: dict[str, Any], base: str, diff: Diff, runner_temp: str | None) -> BaseSetup:
    """The config and prompts of the BASE commit: a PR must not be able to change how it is
    reviewed (with pull_request_target it would also get the secrets)."""
    from ..config import DEFAULT_INSTRUCTION_FILES, override
    from ..session import load_effective_config

    path = repo_path(opts.get("config_path") or DEFAULT_CONFIG, "config")
    # Like the CLI, accept .reviewbot.yaml too; the default rules files come in the same request.
    candidates = [path] if opts.get("config_path") else [path, ".reviewbot.yaml"]
    found = gh.files_at([*candidates, *DEFAULT_INSTRUCTION_FILES], base)
    path = next((c for c in candidates if found.get(c) is not None), path)
    text = found.get(path)
    where = f"base SHA `{base[:12]}`"
    named = {**opts, "config_path": f"{path} at base {base[:7]}"}
    config, notes = load_effective_config(named, text=text or "")
    about: list[str] = []
    top: list[str] = []
    rules = _rules_file(gh, config.review.instruction_files, found, base)
    if rules is not None:
        about.append(f"Review rules: {inline_code(rules[0])} from the base branch")
    source = (
        f"{inline_code(path)} from the base branch ({where})"
        if text is not None
        else f"defaults (no {inline_code(path)} at {where})"
    )
    about.append(f"Config: {source}")
    touched = {p for f in diff.files for p in (f.path, f.old_path) if p}
    if rules is not None and rules[0] in touched:
        top.append(f"> ⚠️ This PR changes {inline_code(rules[0])}: the new review rules apply after merge.")
    if path in touched:
        used = "the base branch's config" if text is not None else "the defaults (the base branch has none)"
        top.append(
            f"> ⚠️ This PR changes {inline_code(path)}: the new rules apply after merge; this review used "
            f"{used} (base SHA `{base[:12]}`)."
        )
    if config.prompts_dir:
        folder = repo_path(config.prompts_dir, "prompts_dir")
        local, fetched = fetch_prompts(gh, folder, base, runner_temp)
        config = override(config, {"prompts_dir": str(local)})
        shown = ", ".join(inline_code(n) for n in fetched) or "none found, built-in prompts used"
        about.append(f"Prompts: {inline_code(folder + '/')} from the base branch ({shown})")
        if any(p == folder or p.startswith(folder + "/") for p in touched):
            top.append(f"> ⚠️ This PR changes prompt templates in {inline_code(folder + '/')}: they apply after merge.")
    return BaseSetup(config, tuple(notes), rules, tuple(about), tuple(top))


def _rules_file(
    gh: GitHubPR, names: Sequence[str], found: Mapping[str, str | None], base: str
) -> tuple[str, str] | None:
    """The first instruction file of `names` at the base commit (fetched with the config when
    `names` are the defaults, else in one more request)."""
    wanted = [n for n in names if n.strip() and not n.startswith("/") and ".." not in PurePosixPath(n).parts]
    missing = [n for n in wanted if n not in found]
    if missing:
        found = {**found, **gh.files_at(missing, base)}
    return next(((n, t) for n in wanted if (t := found.get(n)) is not None), None)


def repo_path(value: str, what: str) -> str:
    """A repository-relative path: the contents API cannot leave the repository, but an
    absolute or `..` path is a mistake worth naming."""
    parts = PurePosixPath(value.replace("\\", "/")).parts
    if not parts or value.startswith("/") or ".." in parts:
        raise ConfigError(
            f"{what} must be a path inside the repository, got {value!r}", hint="e.g. .github/reviewbot-prompts"
        )
    return "/".join(p for p in parts if p != ".")


def fetch_prompts(gh: GitHubPR, folder: str, base: str, runner_temp: str | None) -> tuple[Path, list[str]]:
    """Copy the prompt templates of `folder` at the base commit into a fresh local folder.
    One listing tells which exist (includes `_*.j2` too); without it, the four known names."""
    from ..prompts import TEMPLATES

    names = gh.list_dir(folder, base)
    wanted = [n for n in (names if names is not None else TEMPLATES) if _PROMPT_FILE.fullmatch(n)]
    dest = Path(tempfile.mkdtemp(prefix="reviewbot-prompts-", dir=runner_temp))
    fetched = []
    for name in wanted[:MAX_PROMPT_FILES]:
        text = gh.file_at(f"{folder}/{name}", base)
        if text is not None:
            (dest / name).write_text(text, encoding="utf-8")
            fetched.append(name)
    return dest, fetched


__all__ = ["DEFAULT_CONFIG", "MAX_PROMPT_FILES", "BaseSetup", "fetch_prompts", "load_base_setup", "repo_path"]
