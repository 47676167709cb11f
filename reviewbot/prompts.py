"""Stage 5a (pure): prompts. Input: Jinja2 templates (built in, or overridden one by one from
`prompts_dir`) and a chunk, a repair request or per-chunk summaries. Output: chat messages,
the JSON Schema of a review reply and the OpenAI-style `response_format` asking for it.
The system message is rendered once and is byte-identical for every chunk, so providers
can cache the prefix; everything that varies goes in the user message after it."""

from __future__ import annotations

import copy
import difflib
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import jinja2
import jinja2.meta
from jinja2.sandbox import SandboxedEnvironment

import reviewbot

from .chunker import Chunk
from .errors import ConfigError
from .textutil import defuse_prompt_tags

Message = dict[str, str]
TEMPLATES: tuple[str, ...] = ("system.j2", "chunk.j2", "repair.j2", "summary.j2", "answer.j2")
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")
CATEGORIES: tuple[str, ...] = (
    "security", "bug", "concurrency", "error-handling", "performance", "api", "data", "tests",
    "maintainability", "style", "docs",
)  # fmt: skip
# What each template may use (named in errors so a template author knows what is there).
_VARIABLES: Mapping[str, str] = {
    "system.j2": "instructions (the maintainers' general rules; the same for every chunk)",
    "chunk.j2": "chunk (id, tier, group, files, text, tokens, risk), files, pr_title, pr_body, rules (path rules: globs, text), second_look (the reply may ask for a frontier review)",
    "repair.j2": "error",
    "summary.j2": "blocks system and user; chunk_summaries, counts, files, max_files, omitted",
    "answer.j2": "blocks system and user; finding (path, line, severity, title, body), hunk, thread (author, text pairs), question",
}

# Bounds on untrusted or unbounded inputs to the prompt.
MAX_PR_TITLE_CHARS = 300
MAX_PR_BODY_CHARS = 4_000
MAX_SUMMARY_ITEMS = 80
MAX_SUMMARY_CHARS = 600
MAX_SUMMARY_FILES = 60
MAX_ANSWER_HUNK_CHARS = 6_000  # a review thread's diff_hunk can be a whole file
MAX_THREAD_ITEMS, MAX_THREAD_CHARS = 10, 1_500
# Appended when a custom template does not place the maintainers' rules itself, so a
# prompts_dir written before rules existed cannot silently drop them.
_RULES_BLOCK = "\n<maintainer_rules>\n{text}\n</maintainer_rules>\n"
_SECOND_LOOK_BLOCK = (
    '\nIf this chunk needs a deeper review than you can give here, add "needs_frontier": '
    '"<the reason, one sentence>" to your reply; otherwise leave it out.\n'
)
_CONTEXT_BLOCK = (
    "\n<context>\nCode around the change, for reference only: report nothing on these lines.\n{text}\n</context>\n"
)

_FINDING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "File path as written after ###."},
        "line": {"type": "integer", "description": "Last line of the problem, on `side`."},
        "start_line": {"type": "integer", "description": "First line of a multi-line problem."},
        "side": {"type": "string", "enum": ["RIGHT", "LEFT"]},
        "severity": {"type": "string", "enum": list(SEVERITIES)},
        "category": {"type": "string", "description": "One of: " + ", ".join(CATEGORIES)},
        "title": {"type": "string"},
        "body": {"type": "string"},
        "suggestion": {
            "type": "string",
            "description": "Replacement text for exactly the RIGHT lines start_line..line.",
        },
    },
    "required": ["path", "line", "side", "severity", "category", "title", "body"],
}
# No additionalProperties/minimum/$schema: several providers reject them in response_format.
REPLY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "description": "What this chunk changes, 1-2 sentences."},
        "findings": {"type": "array", "items": _FINDING_SCHEMA},
        "needs_frontier": {"type": "string", "description": "Only when a deeper review is needed: why."},
    },
    "required": ["summary", "findings"],
}


def response_format(mode: Literal["json_schema", "json_object_schema", "json_object", "none"]) -> dict[str, Any] | None:
    """The response_format for a mode (the reviewer steps down the list when a server
    rejects one): OpenAI's json_schema (vLLM, Ollama, LM Studio), llama.cpp's json_object with
    the schema inside, plain JSON mode. `strict` is off: strict mode forbids optional properties."""
    if mode == "json_schema":
        schema = copy.deepcopy(REPLY_SCHEMA)
        return {
            "type": "json_schema",
            "json_schema": {"name": "review", "schema": schema, "strict": False},
        }
    if mode == "json_object_schema":
        return {"type": "json_object", "schema": copy.deepcopy(REPLY_SCHEMA)}
    if mode == "json_object":
        return {"type": "json_object"}
    return None


def builtin_prompts_dir() -> Path:
    """The templates shipped with reviewbot: inside the installed package (hatchling
    force-includes the top-level prompts/ as reviewbot/prompts), else the checkout's prompts/."""
    package = Path(reviewbot.__file__).resolve().parent
    for candidate in (package / "prompts", package.parent / "prompts"):
        if (candidate / "system.j2").is_file():
            return candidate
    raise ConfigError(
        f"reviewbot's prompt templates are missing (looked in {package / 'prompts'})",
        hint="reinstall reviewbot; the wheel must contain reviewbot/prompts/*.j2",
    )


def _check_user_dir(prompts_dir: str) -> Path:
    folder = Path(prompts_dir).expanduser()
    if not folder.is_dir():
        raise ConfigError(
            f"prompts_dir {prompts_dir!r} is not a folder",
            hint=f"create it with any of {', '.join(TEMPLATES)}, or remove prompts_dir",
        )
    # A misspelt name would be silently ignored; `_name.j2` files are allowed as includes.
    names = (p.name for p in folder.glob("*.j2") if not p.name.startswith("_"))
    for extra in sorted(name for name in names if name not in TEMPLATES):
        close = difflib.get_close_matches(extra, TEMPLATES, n=1)
        raise ConfigError(
            f"prompts_dir has {extra}, which reviewbot does not use",
            hint=f"did you mean {close[0]}?" if close else f"templates are {', '.join(TEMPLATES)}",
        )
    return folder


def _fence_rules(text: str) -> str:
    """Trusted, but still kept inside its block: a closing tag in it is escaped."""
    return defuse_prompt_tags(text.strip())


def _clip(text: str | None, limit: int) -> str | None:
    if not text or not text.strip():
        return None
    text = defuse_prompt_tags(text.strip())
    return text if len(text) <= limit else text[:limit] + f"\n[... {len(text) - limit} more characters cut]"


MAX_TEMPLATE_VALUE = 1_000_000  # characters or items an operator in a template may produce


class _BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox, with `*` and `**` bounded: `{{ "a" * 10**10 }}` in a prompt template
    is a config error, not a gigabyte of memory or an hour of CPU."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise jinja2.exceptions.SecurityError(f"exponent {right} is too large for a template")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                sized = isinstance(seq, (str, list, tuple)) and isinstance(times, int)
                if sized and len(seq) * times > MAX_TEMPLATE_VALUE:
                    raise jinja2.exceptions.SecurityError("a repeated value too large for a template")
        return super().call_binop(context, operator, left, right)


def admits(cascade: bool | int, chunk: Chunk) -> bool:
    """review.cascade lets this chunk ask: a cheap one (at or above the score, when one is set)."""
    if chunk.tier != "cheap" or cascade is False:
        return False
    return cascade is True or chunk.risk >= cascade


class PromptSet:
    """The four templates of one run, loaded and checked up front."""

    def __init__(
        self, env: jinja2.Environment, sources: Mapping[str, Path], instructions: str = "", cascade: bool | int = False
    ) -> None:
        self._env = env
        self.cascade = cascade  # review.cascade: which cheap chunks may ask for a second look
        self.instructions = _fence_rules(instructions)
        self.sources = dict(sources)  # template name -> file it was loaded from
        self._templates = {name: self._load(name) for name in TEMPLATES}
        for name in ("summary.j2", "answer.j2"):
            for block in ("system", "user"):
                if block not in self._templates[name].blocks:
                    raise ConfigError(
                        f"prompt template {self.sources[name]} has no {{% block {block} %}}",
                        hint=f"{name} needs two blocks: system and user",
                    )
        self.system = self._render("system.j2", {"instructions": self.instructions})
        if self.instructions and not self._uses("system.j2", "instructions"):
            self.system += _RULES_BLOCK.format(text=self.instructions)
        # Every template the loader can reach (includes too), the overriding one per name.
        digest = hashlib.sha256()
        loader = env.loader
        assert loader is not None
        for name in sorted(env.list_templates(extensions=["j2"])):
            digest.update(f"{name}\0{loader.get_source(env, name)[0]}\0".encode())
        self._hash = digest.hexdigest()[:12]

    @classmethod
    def load(cls, prompts_dir: str | None = None, instructions: str = "", cascade: bool | int = False) -> PromptSet:
        """Built-in templates, each overridden by a same-named file in `prompts_dir`;
        `instructions`: the maintainers' general review rules (trusted); `cascade`:
        review.cascade (cheap chunks it admits are told they may ask for a frontier review)."""
        folders = [_check_user_dir(prompts_dir)] if prompts_dir else []
        folders.append(builtin_prompts_dir())
        sources = {name: next(f / name for f in folders if (f / name).is_file()) for name in TEMPLATES}
        env = _BoundedSandbox(  # templates may come from the reviewed repository
            loader=jinja2.FileSystemLoader([str(f) for f in folders], encoding="utf-8"),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        return cls(env, sources, instructions, cascade)

    def _source(self, name: str) -> str:
        loader = self._env.loader
        assert loader is not None
        return loader.get_source(self._env, name)[0]

    def _uses(self, name: str, variable: str) -> bool:
        return variable in jinja2.meta.find_undeclared_variables(self._env.parse(self._source(name)))

    @property
    def template_hash(self) -> str:
        """First 12 hex digits of sha256 over the templates in use (for the audit log)."""
        return self._hash

    def _load(self, name: str) -> jinja2.Template:
        try:
            return self._env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigError(
                f"prompt template {self.sources[name]}:{exc.lineno}: {exc.message}",
                hint="fix the Jinja2 syntax, or delete the file to use the built-in template",
            ) from exc

    def _render(self, name: str, values: Mapping[str, Any], block: str | None = None) -> str:
        template = self._templates[name]
        try:
            if block is None:
                return template.render(values)
            render_block: Callable[[Any], Any] = template.blocks[block]
            return "".join(render_block(template.new_context(dict(values))))
        except jinja2.UndefinedError as exc:
            raise ConfigError(
                f"prompt template {self.sources[name]} uses an undefined variable: {exc.message}",
                hint=f"{name} can use: {_VARIABLES[name]}",
            ) from exc
        except jinja2.TemplateError as exc:
            raise ConfigError(
                f"prompt template {self.sources[name]} failed: {exc}",
                hint=f"{name} can use: {_VARIABLES[name]}",
            ) from exc
        except (ArithmeticError, ValueError, TypeError, LookupError, AttributeError, RecursionError) as exc:
            # {{ 1/0 }}, {{ "x"|int(base=99) }}…: the template's error, not reviewbot's
            raise ConfigError(
                f"prompt template {self.sources[name]} failed while rendering: {type(exc).__name__}: {exc}",
                hint=f"{name} can use: {_VARIABLES[name]}",
            ) from exc

    def review_messages(
        self, chunk: Chunk, *, pr_title: str | None = None, pr_body: str | None = None
    ) -> tuple[Message, ...]:
        """System (identical for every chunk) + user (the PR text as untrusted data, the chunk)."""
        # The diff and the code context are the PR's text: no tag in them may end their block
        # or pose as another (the maintainers' rules).
        chunk = replace(chunk, text=defuse_prompt_tags(chunk.text), context=defuse_prompt_tags(chunk.context))
        user = self._render(
            "chunk.j2",
            {
                "chunk": chunk,
                # One line per path: a line break in a file name must not forge prompt text.
                "files": [p.replace("\r", "\\r").replace("\n", "\\n") for p in chunk.files],
                "pr_title": _clip(pr_title and " ".join(pr_title.split()), MAX_PR_TITLE_CHARS),
                "pr_body": _clip(pr_body, MAX_PR_BODY_CHARS),
                "rules": [{"globs": list(r.globs), "text": _fence_rules(r.text)} for r in chunk.rules],
                "second_look": self.may_ask_second_look(chunk),
            },
        )
        if self.may_ask_second_look(chunk) and not self._uses("chunk.j2", "second_look"):
            user += _SECOND_LOOK_BLOCK
        if chunk.rules and not self._uses("chunk.j2", "rules"):
            user += _RULES_BLOCK.format(text="\n\n".join(_fence_rules(r.text) for r in chunk.rules))
        if chunk.context and "chunk.context" not in self._source("chunk.j2"):
            user += _CONTEXT_BLOCK.format(text=chunk.context)
        return ({"role": "system", "content": self.system}, {"role": "user", "content": user})

    def may_ask_second_look(self, chunk: Chunk) -> bool:
        """review.cascade admits this chunk: a cheap one (at or above the score, when one is set)."""
        return admits(self.cascade, chunk)

    def repair_messages(self, messages: Sequence[Message], bad_reply: str, error: str) -> tuple[Message, ...]:
        """The original conversation, the unusable reply, and a request to resend valid JSON."""
        request = self._render("repair.j2", {"error": " ".join(error.split()) or "not valid JSON"})
        return (
            *(dict(m) for m in messages),
            {"role": "assistant", "content": bad_reply},
            {"role": "user", "content": request},
        )

    def answer_messages(
        self, finding: Mapping[str, object], hunk: str, thread: Sequence[tuple[str, str]], question: str
    ) -> tuple[Message, ...]:
        """System + user for an answer in a finding's thread: the finding (ours), the hunk, the
        thread and the question (theirs: untrusted, capped, unable to close their tags)."""
        values = {
            "finding": {k: _clip(str(v), MAX_PR_BODY_CHARS) if isinstance(v, str) else v for k, v in finding.items()},
            "hunk": _clip(hunk, MAX_ANSWER_HUNK_CHARS) or "",
            "thread": [
                (" ".join(a.split())[:80], _clip(t, MAX_THREAD_CHARS) or "") for a, t in thread[-MAX_THREAD_ITEMS:]
            ],
            "question": _clip(question, MAX_THREAD_CHARS) or "",
        }
        return (
            {"role": "system", "content": self._render("answer.j2", values, "system").strip() + "\n"},
            {"role": "user", "content": self._render("answer.j2", values, "user").strip() + "\n"},
        )

    def summary_messages(
        self,
        chunk_summaries: Sequence[tuple[str, str]],
        counts: Mapping[str, int],
        files: Sequence[str],
    ) -> tuple[Message, ...]:
        """System + user for the PR overview. `chunk_summaries` are (label, summary) pairs,
        e.g. (chunk id, the model's summary); `counts` are findings per severity."""
        items = [(label, " ".join(text.split())[:MAX_SUMMARY_CHARS]) for label, text in chunk_summaries]
        ordered = sorted(counts.items(), key=lambda kv: (_rank(kv[0]), kv[0]))
        values = {
            "chunk_summaries": items[:MAX_SUMMARY_ITEMS],
            "omitted": max(0, len(items) - MAX_SUMMARY_ITEMS),
            "counts": [(severity, n) for severity, n in ordered if n > 0],
            "files": list(files),
            "max_files": MAX_SUMMARY_FILES,
        }
        return (
            {
                "role": "system",
                "content": self._render("summary.j2", values, "system").strip() + "\n",
            },
            {"role": "user", "content": self._render("summary.j2", values, "user").strip() + "\n"},
        )

    def overhead_tokens(self, count: Callable[[str], int]) -> int:
        """Tokens of the review messages around an empty chunk (no PR text): what a chunk
        budget must leave free for the prompt itself."""
        empty = Chunk(id="c000", tier="cheap", group="", files=(), text="", tokens=0, risk=0)
        return sum(count(m["content"]) for m in self.review_messages(empty))


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


__all__ = [
    "CATEGORIES",
    "MAX_PR_BODY_CHARS",
    "REPLY_SCHEMA",
    "SEVERITIES",
    "TEMPLATES",
    "PromptSet",
    "builtin_prompts_dir",
    "response_format",
]
