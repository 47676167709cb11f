"""Benchmark support: a deterministic synthetic pull request. Input: a file count, a
changed-line count and a seed. Output: `git diff` text and the same PR as GitHub files-API
items. The mix looks like a big real PR: mostly code with a few risky lines and secrets,
tests, docs, configs, auth/payments/migration/CI paths, plus files reviewbot skips (lock,
vendored, minified, generated, binary, deleted, pure renames)."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field

# Skipped kinds take a fixed number of files; the rest of the files are shared by weight.
_FIXED_KINDS: tuple[tuple[str, int], ...] = (
    ("lock", 5), ("vendored", 40), ("minified", 10), ("generated", 10),
    ("binary", 15), ("deleted", 20), ("renamed", 30),
)  # fmt: skip
_WEIGHTED_KINDS: tuple[tuple[str, float], ...] = (
    ("code", 0.66), ("test", 0.20), ("doc", 0.08), ("config", 0.03), ("sensitive", 0.03),
)  # fmt: skip
_SENSITIVE_DIRS = ("src/auth", "src/payments", "db/migrations", "src/security", ".github/workflows")
# Lines a reviewer must see: each one trips a risk rule (shell, SQL, pickle, TLS, yaml).
_RISKY = (
    "    subprocess.run(command, shell=True, check=False)",
    "    cursor.execute(f\"SELECT * FROM users WHERE name = '{name}'\")",
    "    payload = pickle.loads(request.body)",
    "    response = requests.get(url, verify=False, timeout=5)",
    "    settings = yaml.load(handle)",
    "    token = hashlib.md5(password.encode()).hexdigest()",
)
_WORDS = (
    "value", "items", "result", "config", "user", "name", "count", "index", "buffer", "record",
    "request", "response", "handler", "session_id", "payload", "limit", "offset", "cache",
    "parser", "node", "tree", "path", "total", "retry", "timeout", "options", "context",
)  # fmt: skip


@dataclass
class SynthFile:
    path: str
    kind: str
    status: str  # git's view: modified, added, deleted, renamed, binary
    old_path: str | None = None
    hunks: list[tuple[int, int, list[str]]] = field(default_factory=list)  # (old, new, lines)

    @property
    def changed(self) -> int:
        return sum(1 for _, _, lines in self.hunks for ln in lines if ln[:1] in "+-")


class _Lines:
    """Plausible source lines of a few languages, 30-60 characters on average."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def word(self) -> str:
        return self.rng.choice(_WORDS)

    def code(self) -> str:
        r, w = self.rng, self.word
        return r.choice(
            (
                f"    {w()} = {w()}.get({w()!r}, {r.randint(0, 99)})",
                f"    if {w()} is None or len({w()}) > {r.randint(1, 500)}:",
                f"        return self._{w()}({w()}, {w()}={w()})",
                f"    for {w()} in sorted({w()}, key=lambda x: x.{w()}):",
                f'    logger.debug("{w()} %s for %s", {w()}, {w()})',
                f"def {w()}_{w()}({w()}: str, {w()}: int = {r.randint(0, 9)}) -> bool:",
                f"    {w()}.append({w()}[{r.randint(0, 9)}:{r.randint(10, 99)}])",
                f'        raise ValueError(f"bad {w()}: {{{w()}!r}}")',
                "",
            )
        )

    def test(self) -> str:
        r, w = self.rng, self.word
        return r.choice(
            (
                f"def test_{w()}_{w()}_{r.randint(0, 999)}() -> None:",
                f"    assert {w()}({w()}) == {r.randint(0, 99)}",
                f"    {w()} = make_{w()}({w()}={r.randint(0, 9)})",
                "    with pytest.raises(ValueError):",
                "",
            )
        )

    def doc(self) -> str:
        words = " ".join(self.word() for _ in range(self.rng.randint(6, 14)))
        return words.capitalize() + "."

    def config(self) -> str:
        return f"{self.word()}_{self.word()}: {self.rng.randint(0, 5000)}"

    def secret(self) -> str:
        r = self.rng
        alnum = string.ascii_letters + string.digits
        return r.choice(
            (
                'AWS_ACCESS_KEY_ID = "AKIA' + "".join(r.choices(string.ascii_uppercase + string.digits, k=16)) + '"',
                '    api_token = "' + "".join(r.choices(alnum, k=32)) + '"',
                'GITHUB_TOKEN = "ghp_' + "".join(r.choices(alnum, k=36)) + '"',
            )
        )

    def for_kind(self, kind: str) -> str:
        if kind == "test":
            return self.test()
        if kind in ("doc",):
            return self.doc()
        if kind in ("config", "lock"):
            return self.config()
        if kind == "minified":
            return "var a=function(b){return b*2};" * self.rng.randint(3, 12)
        return self.code()


def _paths(kind: str, i: int, rng: random.Random) -> tuple[str, str | None]:
    pkg = f"pkg{i % 60}"
    if kind == "code":
        ext = rng.choice((".py", ".py", ".py", ".ts", ".go"))
        return f"src/{pkg}/module_{i}{ext}", None
    if kind == "test":
        return f"tests/{pkg}/test_module_{i}.py", None
    if kind == "doc":
        return f"docs/{pkg}/page_{i}.md", None
    if kind == "config":
        return f"config/{pkg}/service_{i}.yml", None
    if kind == "sensitive":
        folder = _SENSITIVE_DIRS[i % len(_SENSITIVE_DIRS)]
        ext = ".yml" if folder.startswith(".github") else ".py"
        return f"{folder}/part_{i}{ext}", None
    if kind == "lock":
        return ("package-lock.json", "poetry.lock", "yarn.lock", "Cargo.lock", "go.sum")[i % 5], None
    if kind == "vendored":
        return f"{('vendor', 'third_party')[i % 2]}/lib{i % 7}/file_{i}.py", None
    if kind == "minified":
        return f"static/js/bundle_{i}.min.js", None
    if kind == "generated":
        return f"src/{pkg}/gen_{i}_pb2.py", None
    if kind == "binary":
        return f"assets/img/picture_{i}.png", None
    if kind == "renamed":
        return f"src/{pkg}/moved_{i}.py", f"src/{pkg}/old_{i}.py"
    return f"src/{pkg}/removed_{i}.py", None  # deleted


def _kinds(files: int) -> list[str]:
    # The fixed counts are for 3,000 files; a smaller PR gets proportionally fewer.
    fixed = [k for k, n in _FIXED_KINDS for _ in range(round(n * files / 3000))]
    rest = files - len(fixed)
    weighted: list[str] = []
    for kind, share in _WEIGHTED_KINDS:
        weighted += [kind] * round(rest * share)
    weighted = (weighted + ["code"] * rest)[:rest]
    return fixed + weighted


def _sizes(kinds: list[str], changed: int, rng: random.Random) -> list[int]:
    """Changed lines per file: long-tailed (a few big rewrites, many small edits), summing
    to exactly `changed`. Files with no content change get 0."""
    has_lines = [k not in ("binary", "renamed") for k in kinds]
    raw = [
        rng.lognormvariate(0, 1.1) * (8 if k == "lock" else 1) if ok else 0.0
        for k, ok in zip(kinds, has_lines, strict=True)
    ]
    if changed < sum(has_lines):
        raise ValueError(f"{changed} changed lines cannot cover {sum(has_lines)} files with lines")
    scale = changed / sum(raw)
    sizes = [max(1, int(x * scale)) if ok else 0 for x, ok in zip(raw, has_lines, strict=True)]
    i = 0
    while sum(sizes) != changed:  # settle the rounding on files that have lines
        j = i % len(sizes)
        if sizes[j]:
            sizes[j] += 1 if sum(sizes) < changed else (-1 if sizes[j] > 1 else 0)
        i += 1
    return sizes


def _hunks(kind: str, size: int, lines: _Lines, rng: random.Random) -> list[tuple[int, int, list[str]]]:
    """Hunks of a modified file: 3 context lines around each run of changes."""
    hunks = []
    n_hunks = max(1, min(size // 20, rng.randint(1, 4)))
    per = [size // n_hunks + (1 if h < size % n_hunks else 0) for h in range(n_hunks)]
    old = new = rng.randint(1, 40)
    for count in per:
        removed = rng.randint(0, count // 2)
        added = count - removed
        body = [" " + lines.for_kind(kind) for _ in range(3)]
        body += ["-" + lines.for_kind(kind) for _ in range(removed)]
        body += ["+" + _added_line(kind, lines, rng) for _ in range(added)]
        body += [" " + lines.for_kind(kind) for _ in range(3)]
        hunks.append((old, new, body))
        gap = rng.randint(10, 80)
        old += removed + 6 + gap
        new += added + 6 + gap
    return hunks


def _added_line(kind: str, lines: _Lines, rng: random.Random) -> str:
    roll = rng.random()
    if kind in ("code", "sensitive") and roll < 0.004:
        return rng.choice(_RISKY)
    if kind in ("code", "config") and roll > 0.9985:
        return lines.secret()
    return lines.for_kind(kind)


def synthetic_files(files: int = 3000, changed: int = 100_000, seed: int = 3000) -> list[SynthFile]:
    rng = random.Random(seed)
    lines = _Lines(rng)
    kinds = _kinds(files)
    rng.shuffle(kinds)
    out = []
    for i, (kind, size) in enumerate(zip(kinds, _sizes(kinds, changed, rng), strict=True)):
        path, old_path = _paths(kind, i, rng)
        if kind == "deleted":
            body = ["-" + lines.code() for _ in range(size)]
            out.append(SynthFile(path, kind, "deleted", hunks=[(1, 0, body)]))
        elif kind == "binary":
            out.append(SynthFile(path, kind, "binary"))
        elif kind == "renamed":
            out.append(SynthFile(path, kind, "renamed", old_path=old_path))
        elif kind in ("lock", "minified") or rng.random() < 0.1:
            body = ["+" + lines.for_kind(kind) for _ in range(size)]
            if kind == "generated":
                body[0] = "+# Code generated by protoc-gen-py. DO NOT EDIT."
            out.append(SynthFile(path, kind, "added", hunks=[(0, 1, body)]))
        else:
            hunks = _hunks(kind, size, lines, rng)
            if kind == "generated":
                hunks[0] = (1, 1, [" # Code generated by protoc-gen-py. DO NOT EDIT.", *hunks[0][2]])
            out.append(SynthFile(path, kind, "modified", hunks=hunks))
    return out


def _hunk_header(old: int, new: int, body: list[str]) -> str:
    old_len = sum(1 for ln in body if ln[:1] in " -")
    new_len = sum(1 for ln in body if ln[:1] in " +")
    return f"@@ -{old if old_len else 0},{old_len} +{new if new_len else 0},{new_len} @@"


def _patch(f: SynthFile) -> str:
    parts = []
    for old, new, body in f.hunks:
        parts.append(_hunk_header(old, new, body))
        parts.extend(body)
    return "\n".join(parts)


def to_git_diff(files: list[SynthFile]) -> str:
    out: list[str] = []
    for f in files:
        a = f.old_path or f.path
        out.append(f"diff --git a/{a} b/{f.path}")
        if f.status == "added":
            out += ["new file mode 100644", "index 0000000..1111111", "--- /dev/null", f"+++ b/{f.path}"]
        elif f.status == "deleted":
            out += ["deleted file mode 100644", "index 1111111..0000000", f"--- a/{a}", "+++ /dev/null"]
        elif f.status == "renamed":
            out += ["similarity index 100%", f"rename from {a}", f"rename to {f.path}"]
            continue
        elif f.status == "binary":
            out += ["index 1111111..2222222 100644", f"Binary files a/{a} and b/{f.path} differ"]
            continue
        else:
            out += ["index 1111111..2222222 100644", f"--- a/{a}", f"+++ b/{f.path}"]
        out.append(_patch(f))
    return "\n".join(out) + "\n"


def to_files_api(files: list[SynthFile]) -> list[dict[str, object]]:
    """The PR as `GET /pulls/{n}/files` lists it (binary files come without a patch)."""
    status = {
        "modified": "modified",
        "added": "added",
        "deleted": "removed",
        "renamed": "renamed",
        "binary": "modified",
    }
    items: list[dict[str, object]] = []
    for i, f in enumerate(files):
        adds = sum(1 for _, _, b in f.hunks for ln in b if ln[:1] == "+")
        dels = sum(1 for _, _, b in f.hunks for ln in b if ln[:1] == "-")
        item: dict[str, object] = {
            "sha": f"{i:040x}",
            "filename": f.path,
            "status": status[f.status],
            "additions": adds,
            "deletions": dels,
            "changes": adds + dels,
        }
        if f.hunks:
            item["patch"] = _patch(f)
        if f.old_path:
            item["previous_filename"] = f.old_path
        items.append(item)
    return items


def summary(files: list[SynthFile]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in files:
        counts[f.kind] = counts.get(f.kind, 0) + 1
    counts["changed_lines"] = sum(f.changed for f in files)
    return counts


if __name__ == "__main__":
    import sys

    sys.stdout.write(to_git_diff(synthetic_files()))
