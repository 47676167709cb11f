"""Support (pure): the one owner of turning untrusted text into GitHub markdown or terminal
text. Untrusted means written by a model or taken from the pull request (paths, the title).
Markdown is neutralised on a parsed document (markdown-it-py, CommonMark plus GFM tables and
strikethrough), not by patching regexes: the text is parsed, code stays code (re-fenced by
us), and everything else is rebuilt from the parsed text with every character that could start
markup escaped, so no @-mention, image, raw HTML, hidden marker, heading or list survives.
`unsafe_nodes` parses what we would post and lists anything live: the tests' judge."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

# A zero-width joiner after "@" keeps the text readable and the mention inert: GitHub links
# @login and @org/team only when the name follows the "@" directly.
ZWJ = "\u200d"
ZWSP = "\u200b"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 but \t and \n, DEL, C1
# Bidi embeddings, overrides and isolates (CVE-2021-42574, "Trojan Source"), and marks.
# Unicode's line and paragraph separators: Python's splitlines() breaks on them, markdown does
# not; text that holds one must not become two lines for one reader and one for the other.
_SEPARATORS = re.compile("[\u2028\u2029]")
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]")
# What can make inline text live, escaped wherever it stands: code spans, links and images
# ("[", "]"), raw HTML and autolinks ("<"), entities ("&#64;" is "@"), table cells ("|").
# Emphasis, strikethrough and math cannot ping, embed or run anything and stay readable.
# "@" is handled apart (see ZWJ).
_INLINE_SPECIAL = re.compile(r"([\\`\[\]<&|])")
# What turns a line into a block when it starts one; digits then "." or ")" open an ordered list.
_BLOCK_START = frozenset("#>+-=*_~")
_ORDERED = re.compile(r"(\d{1,9})[.)]")
_MENTION_AT = re.compile(r"(?<![A-Za-z0-9])@(?=[A-Za-z0-9])")  # "_a_@x": emphasis can end right before "@"
_SAFE_INFO = re.compile(r"[^A-Za-z0-9_+#.-]")


# --- code -----------------------------------------------------------------------------------


def longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def show_controls(text: str) -> str:
    """Control characters (newlines too), bidi controls and zero-width characters made
    visible as escapes: `docs/x\\n# hi.md` shows what the path really holds."""

    def one(m: re.Match[str]) -> str:
        ch = m.group(0)
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(
            ch, f"\\u{ord(ch):04x}" if ord(ch) > 0xFF else f"\\x{ord(ch):02x}"
        )

    return re.sub(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u061c]", one, text)


def inline_code(text: str, *, in_table: bool = False) -> str:
    """An inline code span that shows exactly `text` (controls escaped): the fence is longer
    than any backtick run inside, padded when the text starts or ends with a backtick. Inside
    a GFM table a `|` would end the cell, so there it is escaped (GitHub unescapes it)."""
    text = break_markers(show_controls(text))
    if in_table:
        text = text.replace("|", "\\|")
    if not text:
        return '`""`'
    fence = "`" * (longest_backtick_run(text) + 1)
    pad = " " if text[0] == "`" or text[-1] == "`" or (text[0] == " " and text[-1] == " ") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def code_block(text: str, info: str = "") -> str:
    """A fenced block that `text` cannot close; hidden-marker look-alikes inside it broken."""
    text = _SEPARATORS.sub("\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    body = break_markers(_CONTROL.sub("", text)).rstrip("\n")
    fence = "`" * max(3, longest_backtick_run(body) + 1)
    return f"{fence}{_SAFE_INFO.sub('', info)[:20]}\n{body}\n{fence}"


def break_markers(text: str) -> str:
    """reviewbot's hidden markers (`<!-- reviewbot:… -->`) are read back from its own
    comments: text that only looks like one must not be taken for one. Every comment opener
    in untrusted text is broken (a zero-width space inside it), wherever lines are later
    joined or split, so no `<!--` of ours is ever forged."""
    return text.replace("<!--", "<!-" + ZWSP + "-")


# --- prose ----------------------------------------------------------------------------------


def escape_text(text: str, *, line_start: bool = False) -> str:
    """Plain text, rendered as itself: every character that could start markup escaped, "@"
    made inert, controls and bidi controls dropped. `line_start`: also what starts a block."""
    text = _BIDI.sub("", _CONTROL.sub("", _SEPARATORS.sub(" ", text)))
    text = break_markers(_MENTION_AT.sub("@" + ZWJ, _INLINE_SPECIAL.sub(r"\\\1", text)))
    if line_start:
        text = text.lstrip(" \t")
        ordered = _ORDERED.match(text)
        if ordered:  # "1." / "1)" would start an ordered list
            text = text[: ordered.end(1)] + "\\" + text[ordered.end(1) :]
        elif text[:1] in _BLOCK_START:  # a heading, quote, list item, rule, fence, underline
            text = "\\" + text
    return text


def one_line(text: str, limit: int = 300) -> str:
    """Untrusted text on one line of markdown (a title, a reason, a PR title): whitespace
    runs become one space, cut at `limit` characters, rendered as plain text."""
    flat = " ".join(_BIDI.sub("", _CONTROL.sub(" ", text)).split())
    if len(flat) > limit:
        flat = flat[: max(limit - 1, 0)] + "…"
    return escape_text(flat, line_start=True)


MAX_HREF_CHARS = 200  # a link's target shown as code: long ones (and many of them) cut


def prose(text: str, max_chars: int = 4_000) -> str:
    """Multi-line model text (a finding's body, an overview) as safe markdown: paragraphs,
    list items, inline code, emphasis and fenced code blocks kept; everything else rendered
    as the text it is. Links show their target as code; images become their alt text.

    At most `max_chars` characters come OUT, so no caller ever has to cut the result (a cut
    inside one of our code spans would bring what it guards back to life): escaping and link
    targets can make the markdown many times longer than the text, so the text is shortened
    until its rendering fits."""
    text = _SEPARATORS.sub("\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    budget = max_chars
    for _ in range(8):
        cut = text if len(text) <= budget else text[: max(budget - 1, 0)] + "…"
        out = _prose(cut)
        if len(out) <= max_chars:
            return out
        budget = min(budget, len(cut)) * max_chars * 9 // (10 * len(out))
        if budget < 20:
            break
    flat = one_line(text, max(max_chars // 3, 1))  # escaping at most triples a character
    return flat if len(flat) <= max_chars else ""


def _prose(text: str) -> str:
    blocks: list[str] = []
    item_prefix = ""
    for token in _parser().parse(text):
        kind = token.type
        if kind in ("fence", "code_block"):
            info = token.info.split()[0] if token.info.strip() else ""
            # A ```suggestion block is a one-click commit on GitHub: only reviewbot's own
            # anchored suggestion may be one, never a fence inside the model's prose.
            blocks.append(code_block(token.content, "" if info.lower().startswith("suggestion") else info))
        elif kind == "list_item_open":
            item_prefix = "- "
        elif kind == "inline":
            line = _inline(token.children or [])
            if line:
                blocks.append(item_prefix + line if item_prefix else line)
            item_prefix = ""
        elif kind == "html_block":
            lines = [escape_text(ln, line_start=True) for ln in token.content.splitlines() if ln.strip()]
            if lines:
                blocks.append(" ".join(lines))
    return "\n\n".join(blocks)


def _inline(children: Sequence[Any]) -> str:
    parts: list[str] = []
    for child in children:
        kind = child.type
        if kind == "text":
            parts.append(escape_text(child.content, line_start=not parts))
        elif kind == "code_inline":
            parts.append((ZWSP if not parts else "") + inline_code(child.content))
        elif kind in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif kind in ("strong_open", "strong_close"):
            parts.append("**")
        elif kind in ("em_open", "em_close"):
            parts.append("_")
        elif kind in ("s_open", "s_close"):
            parts.append("~~")
        elif kind == "link_close":
            href = _pending_href(children, child)
            shown = href if len(href) <= MAX_HREF_CHARS else href[: MAX_HREF_CHARS - 1] + "…"
            parts.append(f" ({inline_code(shown)})" if href else "")
        elif kind == "image":
            alt = "".join(c.content for c in child.children or [] if c.type == "text")
            parts.append(escape_text(f"[image: {alt}]" if alt else "[image]", line_start=not parts))
        elif kind in ("html_inline", "html_block"):
            parts.append(escape_text(child.content, line_start=not parts))
    return "".join(parts).strip()


def _pending_href(children: Sequence[Any], close: Any) -> str:
    """The href of the link that `close` ends (links do not nest in CommonMark)."""
    index = list(children).index(close)
    for child in reversed(list(children)[:index]):
        if child.type == "link_open":
            return str(child.attrs.get("href", ""))
    return ""


# --- terminal -------------------------------------------------------------------------------


def plain(text: str) -> str:
    """Untrusted text for a terminal: no escape sequences, carriage returns, C1 controls or
    bidi overrides that could redraw the screen or reorder what is shown."""
    return _BIDI.sub("", _CONTROL.sub("", text.replace("\r", "")))


# --- the judge ------------------------------------------------------------------------------

_LIVE_MENTION = re.compile(r"(?<![A-Za-z0-9_])@[A-Za-z0-9][A-Za-z0-9-]*(?:/[A-Za-z0-9_.-]+)?")
_BAD_SCHEME = re.compile(r"^\s*(?:javascript|data|vbscript):", re.I)


@cache
def _parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def unsafe_nodes(markdown: str, allowed_html: Iterable[str] = ()) -> list[str]:
    """Everything live in `markdown` outside code, as GitHub would render it: @-mentions
    (users and teams), images, raw HTML (comments included) other than `allowed_html`
    (regexes our own templates use, e.g. `<details>`), and links with a script scheme."""
    allowed = [re.compile(p) for p in allowed_html]
    found: list[str] = []

    def walk(tokens: Sequence[Any]) -> None:
        for token in tokens:
            kind = token.type
            if kind in ("code_inline", "fence", "code_block"):
                continue
            if kind == "image":
                found.append(f"image: {token.attrs.get('src', '')}")
            elif kind in ("html_inline", "html_block"):
                content = token.content.strip()
                if not any(p.fullmatch(content) for p in allowed):
                    found.append(f"html: {content[:80]}")
            elif kind == "text":
                found.extend(f"mention: {m.group(0)}" for m in _LIVE_MENTION.finditer(token.content))
            elif kind == "link_open" and _BAD_SCHEME.match(str(token.attrs.get("href", ""))):
                found.append(f"link: {token.attrs.get('href')}")
            if token.children:
                walk(token.children)

    walk(_parser().parse(markdown))
    return found


def block_types(markdown: str) -> list[str]:
    """The block structure of `markdown` (paragraph, heading, list…): what a test compares to
    see that untrusted text did not break out of the line or item it was put in."""
    return [t.type for t in _parser().parse(markdown) if t.nesting >= 0 and t.level == 0 and t.type != "inline"]
