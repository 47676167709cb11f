"""Stage (pure, given the file texts): the code around each changed hunk. For every changed
line, the innermost enclosing definition (function, method, class…) of the head version of
the file, parsed with tree-sitter's pre-compiled grammars (Python, JavaScript, TypeScript,
Go, Java, Rust, C, C++, Ruby); for other languages, a window of lines around the change; or
the whole file. Lines the chunk already shows are not repeated. The result is marked as
context in the prompt: a finding on it cannot be anchored inline (it is not in the diff)."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import PurePosixPath
from typing import Any, Literal

from .textutil import defuse_prompt_tags

ContextMode = Literal["none", "enclosing", "file"]
Count = Callable[[str], int]

# extension -> (module, function returning the grammar)
_GRAMMARS: Mapping[str, tuple[str, str]] = {
    ".py": ("tree_sitter_python", "language"),
    ".pyi": ("tree_sitter_python", "language"),
    ".js": ("tree_sitter_javascript", "language"),
    ".mjs": ("tree_sitter_javascript", "language"),
    ".cjs": ("tree_sitter_javascript", "language"),
    ".jsx": ("tree_sitter_javascript", "language"),
    ".ts": ("tree_sitter_typescript", "language_typescript"),
    ".mts": ("tree_sitter_typescript", "language_typescript"),
    ".tsx": ("tree_sitter_typescript", "language_tsx"),
    ".go": ("tree_sitter_go", "language"),
    ".java": ("tree_sitter_java", "language"),
    ".rs": ("tree_sitter_rust", "language"),
    ".c": ("tree_sitter_c", "language"),
    ".h": ("tree_sitter_c", "language"),
    ".cc": ("tree_sitter_cpp", "language"),
    ".cpp": ("tree_sitter_cpp", "language"),
    ".cxx": ("tree_sitter_cpp", "language"),
    ".hpp": ("tree_sitter_cpp", "language"),
    ".hh": ("tree_sitter_cpp", "language"),
    ".rb": ("tree_sitter_ruby", "language"),
}
# Node types that are a definition a reader wants whole, across the grammars above.
_DEFINITIONS = frozenset(
    {
        "function_definition",
        "class_definition",
        "decorated_definition",  # Python, C, C++
        "function_declaration",
        "generator_function_declaration",
        "class_declaration",
        "method_definition",
        "arrow_function",
        "function_expression",
        "interface_declaration",
        "abstract_class_declaration",  # JS/TS
        "method_declaration",
        "constructor_declaration",
        "enum_declaration",
        "record_declaration",  # Java, Go
        "func_literal",
        "type_declaration",  # Go
        "function_item",
        "impl_item",
        "trait_item",
        "struct_item",
        "enum_item",
        "mod_item",  # Rust
        "class_specifier",
        "struct_specifier",
        "namespace_definition",  # C++
        "method",
        "singleton_method",
        "class",
        "module",  # Ruby
    }
)
WINDOW = 10  # lines either side of a change when the language is unknown
MAX_DEFINITION_LINES = 150  # a longer definition contributes its first lines (the signature)
SIGNATURE_LINES = 3


@dataclass(frozen=True)
class Region:
    path: str
    start: int  # first line, 1-based, head version
    end: int  # last line, inclusive
    kind: str  # a tree-sitter node type, "lines" or "file"


def language_of(path: str) -> tuple[str, str] | None:
    return _GRAMMARS.get(PurePosixPath(path).suffix.lower())


@cache
def _parser(module: str, func: str) -> Any | None:
    """A tree-sitter parser, or None when the grammar package is not installed."""
    try:
        import tree_sitter

        grammar = getattr(importlib.import_module(module), func)()
        return tree_sitter.Parser(tree_sitter.Language(grammar))
    except (ImportError, AttributeError, ValueError, TypeError):
        return None


def regions(path: str, text: str, changed: Iterable[int], mode: ContextMode, *, calls: bool = False) -> list[Region]:
    """The regions of `text` (the head version of `path`) worth showing around `changed`
    (new-side line numbers), merged, in file order. `calls`: also the definitions, in this
    file, of the functions and methods the changed lines call (a parsed language only)."""
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    wanted = sorted({n for n in changed if 1 <= n <= lines})
    if mode == "none" or not wanted:
        return []
    if mode == "file":
        return [Region(path, 1, lines, "file")]
    grammar = language_of(path)
    parser = _parser(*grammar) if grammar else None
    found = (
        _definitions(parser, text, wanted, calls)
        if parser is not None
        else [Region(path, max(1, n - WINDOW), min(lines, n + WINDOW), "lines") for n in wanted]
    )
    return _merge([Region(path, r.start, r.end, r.kind) for r in found])


def _definitions(parser: Any, text: str, wanted: Sequence[int], calls: bool) -> list[Region]:
    tree = parser.parse(text.encode("utf-8", "surrogatepass"))
    out: list[Region] = []
    for line in wanted:
        node = _innermost(tree.root_node, line - 1)
        if node is not None:
            out.append(_region(node, node.type))
    if calls:
        rows = {n - 1 for n in wanted}
        called = _called_names(tree.root_node, rows)
        defined = _named_definitions(tree.root_node)
        for name in sorted(called)[:MAX_CALLED]:
            for node in defined.get(name, ())[:2]:  # an overloaded or redefined name: the first two
                if not rows & set(range(node.start_point[0], node.end_point[0] + 1)):  # not the change itself
                    out.append(_region(node, f"{node.type}, called by the change"))
    return out


def _region(node: Any, kind: str) -> Region:
    start, end = node.start_point[0] + 1, node.end_point[0] + 1
    if end - start + 1 > MAX_DEFINITION_LINES:
        end = start + SIGNATURE_LINES - 1
    return Region("", start, end, kind)


# Call nodes across the grammars, and the field that names what is called.
_CALLS: Mapping[str, str] = {
    "call": "function",  # Python (Ruby's "call" names it "method", tried next)
    "call_expression": "function",  # JS/TS, Go, Rust, C, C++
    "method_invocation": "name",  # Java
}
MAX_CALLED = 12  # distinct called names looked up per file


def _called_names(root: Any, rows: set[int]) -> set[str]:
    """The last identifier of each callee in a call that starts on one of `rows`."""
    names: set[str] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node.end_point[0] < min(rows) or node.start_point[0] > max(rows):
            continue
        field = _CALLS.get(node.type)
        if field is not None and node.start_point[0] in rows:
            callee = node.child_by_field_name(field) or node.child_by_field_name("method")
            name = _last_identifier(callee) if callee is not None else None
            if name:
                names.add(name)
        stack.extend(node.children)
    return names


def _last_identifier(node: Any) -> str | None:
    if "identifier" in node.type and not node.children:
        return node.text.decode("utf-8", "replace") if node.text else None
    for child in reversed(node.children):
        found = _last_identifier(child)
        if found:
            return found
    return None


def _definition_name(node: Any) -> str | None:
    """The `name` field, or at the end of C/C++'s chain of declarators (`twice(int x)` names
    `twice`, not `x`)."""
    named = node.child_by_field_name("name")
    if named is None:
        named = node.child_by_field_name("declarator")
        while named is not None and named.child_by_field_name("declarator") is not None:
            named = named.child_by_field_name("declarator")
    return _last_identifier(named) if named is not None else None


def _named_definitions(root: Any) -> dict[str, list[Any]]:
    """Definitions by the name they define (`name` field, or a C declarator's identifier)."""
    out: dict[str, list[Any]] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type in _DEFINITIONS:
            name = _definition_name(node)
            if name:
                out.setdefault(name, []).append(node)
        stack.extend(node.children)
    for nodes in out.values():
        nodes.sort(key=lambda n: n.start_point[0])
    return out


def _innermost(node: Any, row: int) -> Any | None:
    best = None
    while True:
        nxt = next((c for c in node.children if c.start_point[0] <= row <= c.end_point[0]), None)
        if nxt is None:
            return best
        if nxt.type in _DEFINITIONS:
            best = nxt
        node = nxt


def _merge(found: list[Region]) -> list[Region]:
    merged: list[Region] = []
    for r in sorted(found, key=lambda r: (r.start, -r.end)):
        if merged and r.start <= merged[-1].end + 1:
            last = merged[-1]
            merged[-1] = Region(last.path, last.start, max(last.end, r.end), last.kind)
        else:
            merged.append(r)
    return merged


def render(path: str, text: str, found: Sequence[Region], shown: Iterable[int]) -> str:
    """The regions as numbered lines (`57 code`, the chunk's own format), leaving out lines
    the chunk already shows; "" when nothing is left."""
    all_lines = text.split("\n")  # as tree-sitter and the diff count lines (not \f, U+2028…)
    skip = set(shown)
    out: list[str] = []
    for r in found:
        body = [
            f"{n} {defuse_prompt_tags(all_lines[n - 1])}"  # file text must not close the prompt's blocks
            for n in range(r.start, r.end + 1)
            if n not in skip and n <= len(all_lines)
        ]
        if body:
            label = "whole file" if r.kind == "file" else f"lines {r.start}-{r.end}, {r.kind.replace('_', ' ')}"
            out.append(f"### {path} ({label})\n" + "\n".join(body))
    return "\n".join(out)


_SHOWN = re.compile(r"^(\d+)([ +])", re.M)


def shown_lines(chunk_text: str, files: Sequence[str]) -> dict[str, tuple[set[int], set[int]]]:
    """Per path of `files` in a rendered chunk (`### path` headers, then `57+code` /
    `57 code` lines): (new-side lines shown, new-side lines added)."""
    by_length = sorted(files, key=len, reverse=True)
    out: dict[str, tuple[set[int], set[int]]] = {}
    current: tuple[set[int], set[int]] | None = None
    for line in chunk_text.split("\n"):  # a diff line holding U+2028 is one line
        if line.startswith("### "):
            path = next((f for f in by_length if line == f"### {f}" or line.startswith(f"### {f} (")), None)
            current = None if path is None else out.setdefault(path, (set(), set()))
            continue
        m = _SHOWN.match(line)
        if m and current is not None:
            current[0].add(int(m.group(1)))
            if m.group(2) == "+":
                current[1].add(int(m.group(1)))
    return out


def cap(choices: Sequence[Sequence[str]], max_tokens: int, count: Count) -> tuple[str, bool]:
    """Per file, the first of its blocks (best first: the whole file, then its enclosing
    definitions) that still fits under `max_tokens`, in file order; a file none of whose
    blocks fits is left out and later, smaller ones still get their turn. True when a block
    was cut down or left out."""
    kept: list[str] = []
    used = 0
    cut = False
    for blocks in choices:
        for i, block in enumerate(b for b in blocks if b):
            tokens = count(block)
            if used + tokens <= max_tokens:
                kept.append(block)
                used += tokens
                cut = cut or i > 0
                break
        else:
            cut = cut or any(blocks)
    return "\n".join(kept), cut
