"""Stage 4a (pure): secret redaction. Input: text (the line texts of a diff). Output: the
text with likely secrets replaced by typed placeholders such as `[REDACTED:aws-access-key#1]`
and the count per kind. Newlines are kept, so line numbers stay valid. Every pattern starts
with a literal or is driven by a keyword scan, and all repeats are bounded: linear time."""

from __future__ import annotations

import bisect
import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

# Fixed-format credentials. Each pattern starts with a literal so `re` can skip ahead fast
# (a leading look-behind made the scan 20x slower); the word boundary is checked by a
# look-behind placed just after the literal, before any long repeat, so inside a run like
# "eyJeyJeyJ..." only the first position is tried. The first listed wins an overlap.
_B = r"[A-Za-z0-9_\-]"  # a character that would make the match part of a longer word
_TOKEN_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("anthropic-key", re.compile(rf"sk-ant-(?<!{_B}.{{7}})[A-Za-z0-9_\-]{{20,400}}")),
    (
        "openai-key",
        re.compile(rf"sk-(?<!{_B}.{{3}})(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{{20,400}}"),
    ),
    ("stripe-key", re.compile(rf"[sr]k_live_(?<!{_B}.{{8}})[A-Za-z0-9]{{16,247}}")),
    (
        "github-token",
        re.compile(
            rf"g(?<!{_B}.)(?:h[pousr]_[A-Za-z0-9]{{36,251}}|ithub_pat_[A-Za-z0-9_]{{22,255}})"
        ),
    ),
    ("gitlab-token", re.compile(rf"glpat-(?<!{_B}.{{6}})[A-Za-z0-9_\-]{{20,64}}")),
    ("slack-token", re.compile(rf"xox(?<!{_B}.{{3}})[baprs]-[A-Za-z0-9\-]{{10,250}}")),
    ("slack-webhook", re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9_/]{16,200}")),
    (
        "aws-access-key",
        re.compile(rf"(?:AKIA|ASIA)(?<!{_B}.{{4}})[A-Z0-9]{{16}}(?![A-Za-z0-9])"),
    ),
    ("gcp-api-key", re.compile(rf"AIza(?<!{_B}.{{4}})[0-9A-Za-z_\-]{{35}}(?!{_B})")),
    ("npm-token", re.compile(rf"npm_(?<!{_B}.{{4}})[A-Za-z0-9]{{36}}(?![A-Za-z0-9])")),
    ("pypi-token", re.compile(rf"pypi-(?<!{_B}.{{5}})AgE[A-Za-z0-9_\-]{{50,4096}}")),
    ("huggingface-token", re.compile(rf"hf_(?<!{_B}.{{3}})[A-Za-z0-9]{{30,64}}(?![A-Za-z0-9])")),
    ("sendgrid-key", re.compile(rf"SG\.(?<!{_B}.{{3}})[A-Za-z0-9_\-]{{16,32}}\.[A-Za-z0-9_\-]{{16,64}}")),
    ("digitalocean-token", re.compile(rf"do(?<!{_B}.{{2}})[opr]_v1_[a-f0-9]{{64}}")),
    ("twilio-key", re.compile(rf"SK(?<!{_B}.{{2}})[0-9a-f]{{32}}(?![A-Za-z0-9])")),
    ("mailgun-key", re.compile(rf"key-(?<!{_B}.{{4}})[0-9a-zA-Z]{{32}}(?![A-Za-z0-9])")),
    ("shopify-token", re.compile(rf"shp(?<!{_B}.{{3}})(?:at|ca|pa|ss)_[a-fA-F0-9]{{32}}")),
    ("azure-storage-key", re.compile(r"AccountKey=[A-Za-z0-9+/]{80,100}={0,2}")),
    ("databricks-token", re.compile(rf"dapi(?<!{_B}.{{4}})[a-f0-9]{{32}}(?:-[0-9]+)?(?![A-Za-z0-9])")),
    ("age-secret-key", re.compile(r"AGE-SECRET-KEY-1[0-9A-Z]{58}")),
    (
        "jwt",
        re.compile(
            rf"eyJ(?<!{_B}.{{3}})[A-Za-z0-9_\-]{{5,4096}}\.eyJ[A-Za-z0-9_\-]{{5,8192}}"
            r"\.[A-Za-z0-9_\-]{0,4096}"
        ),
    ),
)

_PK_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----")
_PK_END = re.compile(r"-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----")
_PK_MAX_CHARS = 65_536  # a 4096-bit RSA PEM is ~3.3 kB; PGP private key blocks run larger
# A line of key material when no END marker follows (the block is cut by a hunk edge):
# one base64 run, optionally quoted, escaped (\n) or concatenated.
# The character classes are disjoint, so a failed match cannot backtrack.
_PK_BODY_LINE = re.compile(r"[\s\"'`]*[A-Za-z0-9+/=]{4,}(?:\\n)?[\s\"'`,;]*")

# Credentials inside URLs: scheme://user:PASSWORD@host.
_URL_PASSWORD = re.compile(r"://[^\s:/@\"'`]{1,128}:([^\s:/@\"'`]{1,256})@")

# `name = "value"`, `name: value`, `NAME=value`, `"name": "value"`, `--name=value`,
# `Authorization: Bearer value`. Found from a keyword hit: the scan looks for the keyword
# (cheap, on lower-cased text), widens to the whole name, then matches what follows it.
# On lower-cased text. `(?=(run))\1` matches the run of name characters without ever
# backtracking into it (Python 3.10 has no possessive quantifiers), so a keyword that is
# not followed by an operator costs one pass over its name.
_KEYWORDS = ("key", "secret", "token", "pass", "pwd", "cred", "auth", "bearer")
_CANDIDATE = re.compile(
    rf"(?:{'|'.join(_KEYWORDS)})(?=([a-z0-9_.\-]{{0,80}}))\1"
    r"[\"'`]?\]?[ \t]{0,16}(?::=|=>|==?|:)"
)
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_MAX_NAME = 80
_NAME_OK = re.compile(r"-{0,2}[A-Za-z_][\w.\-]{0,79}")
_AFTER_NAME = re.compile(
    r"[\"'`]?\]?[ \t]{0,16}(?::=|=>|==?|:)[ \t]{0,16}"
    r"(?:(?:[Bb]earer|[Bb]asic|[Tt]oken)[ \t]+)?"
    r"([\"'`]?)(?:(?:[Bb]earer|[Bb]asic|[Tt]oken)[ \t]+)?"  # "Authorization": "Bearer …"
    r"([^\s\"'`,;(){}\[\]<>$%|\\][^\s\"'`,;(){}\[\]<>|\\]{15,2047})"
)
# Inside quotes a secret may hold what ends an unquoted one: Django's SECRET_KEY has ( ) $ % …
_QUOTED_REST = re.compile(r"[^\s\"'`\\]{1,2047}")
_NAME_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# Name word -> placeholder kind. Compound lower-case words are matched by suffix below.
_STEMS: Mapping[str, str] = {
    "password": "password", "passwd": "password", "pwd": "password", "pass": "password",
    "passphrase": "password", "secret": "secret", "secrets": "secret", "token": "token",
    "tokens": "token", "bearer": "token", "key": "key", "keys": "key", "apikey": "key",
    "credential": "credential", "credentials": "credential", "creds": "credential",
    "auth": "auth", "oauth": "auth", "authorization": "auth",
}  # fmt: skip
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("password", "password"), ("passwd", "password"), ("secret", "secret"), ("token", "token"),
    ("apikey", "key"), ("secretkey", "key"), ("accesskey", "key"), ("privatekey", "key"),
)  # fmt: skip
# A name ending in one of these holds something about a secret, not the secret itself.
_NOT_A_VALUE = frozenset({
    "url", "uri", "urls", "endpoint", "host", "path", "file", "filename", "dir", "name", "names",
    "field", "fields", "header", "type", "types", "prefix", "suffix", "env", "var", "length",
    "len", "size", "count", "mode", "format", "pattern", "regex", "label", "id", "ids", "hash",
    "method", "class", "kind", "param", "params", "policy", "ttl", "expiry", "expires",
    "timeout", "index", "column", "table", "help", "text", "message", "msg", "error", "errors",
    "provider", "store", "manager", "service", "required", "enabled",
})  # fmt: skip
# Lower-case substrings of values that are stand-ins, not secrets.
_PLACEHOLDER_WORDS = (
    "example", "placeholder", "changeme", "change_me", "change-me", "your_", "your-", "xxxx",
    "****", "dummy", "redacted",
)  # fmt: skip
# Words joined by separators with at most a short number at the end: an identifier, a dotted
# module path or a kebab-case setting, not a random value.
# (The separator is required inside the repeat: an optional one would backtrack exponentially.)
_WORDLIKE = re.compile(r"[A-Za-z]+(?:[_.\-][A-Za-z]+)*[_.\-]?[0-9]{0,4}")
_AWS_SECRET = re.compile(r"[A-Za-z0-9/+=]{40}")

MIN_ENTROPY = 3.0  # bits per character; random base64/hex of length 16+ scores 3.3-4.5
MIN_SECRET_LEN = 16

PLACEHOLDER_PATTERN = re.compile(r"\[REDACTED:[a-z0-9\-]+#[0-9]+\]")
# Every kind a placeholder can name (the assignment rule names the secret word it saw).
KINDS: tuple[str, ...] = (
    "private-key",
    *(kind for kind, _ in _TOKEN_RULES),
    "url-password",
    "aws-secret-key",
    *sorted(set(_STEMS.values())),
)


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    kind: str
    priority: int  # lower wins an overlap


def shannon_entropy(value: str) -> float:
    """Bits per character of `value` over its own character frequencies."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


# A literal every match of a token rule contains. Most diff text holds no token at all, and a
# substring search costs a fraction of a rule's regex: on a 100,000-line diff the rules' calls
# alone took ~0.15 s. Each rule's literals are searched as one regex (`re` finds a literal
# about as fast as `in` does), so the five GitHub prefixes cost one pass over the text, not five.
_TOKEN_NEEDLES: Mapping[str, tuple[str, ...]] = {
    "anthropic-key": ("sk-ant-",), "openai-key": ("sk-",), "stripe-key": ("k_live_",),
    "github-token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    "gitlab-token": ("glpat-",), "slack-token": ("xox",), "slack-webhook": ("hooks.slack.com/",),
    "aws-access-key": ("AKIA", "ASIA"), "gcp-api-key": ("AIza",), "jwt": ("eyJ",),
    "npm-token": ("npm_",), "pypi-token": ("pypi-AgE",), "huggingface-token": ("hf_",),
    "sendgrid-key": ("SG.",), "digitalocean-token": ("_v1_",), "twilio-key": ("SK",),
    "mailgun-key": ("key-",), "shopify-token": ("shpat_", "shpca_", "shppa_", "shpss_"),
    "azure-storage-key": ("AccountKey=",), "databricks-token": ("dapi",), "age-secret-key": ("AGE-SECRET-KEY-1",),
}  # fmt: skip
_TOKEN_GATES: Mapping[str, re.Pattern[str]] = {
    kind: re.compile("|".join(re.escape(needle) for needle in needles))
    for kind, needles in _TOKEN_NEEDLES.items()
}


def _token_hits(text: str) -> list[_Hit]:
    hits: list[_Hit] = []
    for priority, (kind, pattern) in enumerate(_TOKEN_RULES, start=1):
        if _TOKEN_GATES[kind].search(text) is None:
            continue
        for m in pattern.finditer(text):
            if kind == "openai-key" and not _mixed(m.group()[3:]):
                continue  # "sk-some-css-class-name" is not a key
            hits.append(_Hit(m.start(), m.end(), kind, priority))
    return hits


def _mixed(body: str) -> bool:
    return (
        any(c.isdigit() for c in body)
        and any(c.isupper() for c in body)
        and any(c.islower() for c in body)
    )


def _private_key_hits(text: str) -> list[_Hit]:
    hits: list[_Hit] = []
    if "PRIVATE KEY" not in text:  # in every BEGIN marker
        return hits
    pos = 0
    while (begin := _PK_BEGIN.search(text, pos)) is not None:
        end = _PK_END.search(text, begin.end(), begin.end() + _PK_MAX_CHARS)
        stop = end.end() if end is not None else _key_body_end(text, begin.end())
        hits.append(_Hit(begin.start(), stop, "private-key", 0))
        pos = stop
    return hits


def _key_body_end(text: str, pos: int) -> int:
    """End of the key material after a BEGIN marker that has no END marker in reach."""
    line_end = text.find("\n", pos)
    if line_end < 0:
        return len(text)  # the whole rest of the line, e.g. a JSON string cut short
    stop = line_end
    while stop < len(text) and stop - pos < _PK_MAX_CHARS:
        nxt = text.find("\n", stop + 1)
        nxt = len(text) if nxt < 0 else nxt
        if nxt - stop > 4096 or _PK_BODY_LINE.fullmatch(text, stop + 1, nxt) is None:
            break
        stop = nxt
    return stop


def _url_password_hits(text: str) -> list[_Hit]:
    if "://" not in text:
        return []
    return [
        _Hit(m.start(1), m.end(1), "url-password", len(_TOKEN_RULES) + 1)
        for m in _URL_PASSWORD.finditer(text)
        if m.group(1)[0] not in "${%<*" and not _is_placeholder(m.group(1))
    ]


def _name_kind(name: str) -> str | None:
    words = [w.lower() for w in _NAME_WORDS.findall(name)]
    if not words or words[-1] in _NOT_A_VALUE:
        return None
    kind = None
    for word in words:  # the last secret word names the kind: auth_token -> token
        found = _STEMS.get(word)
        if found is None:
            found = next((k for suffix, k in _SUFFIXES if word.endswith(suffix)), None)
        kind = found or kind
    return kind


def _looks_random(value: str) -> bool:
    return (
        len(value) >= MIN_SECRET_LEN
        and any(c.isalpha() for c in value)
        and "://" not in value
        and not value.startswith(("/", "./", "~"))
        and _WORDLIKE.fullmatch(value) is None
        and shannon_entropy(value) >= MIN_ENTROPY
        and not _is_placeholder(value)
    )


def _is_placeholder(value: str) -> bool:
    low = value.lower()
    return any(word in low for word in _PLACEHOLDER_WORDS)


def _name_start(text: str, key_start: int, floor: int) -> int | None:
    """Where the name holding the keyword at key_start begins; None when it is longer than
    _MAX_NAME. Scanning stops at `floor` (the previous match end): each character once."""
    start = key_start
    while start > floor and key_start - start < _MAX_NAME and text[start - 1] in _NAME_CHARS:
        start -= 1
    if start > 0 and text[start - 1] in _NAME_CHARS:
        return None
    return start


def _assignment_hit(text: str, start: int, end: int) -> tuple[_Hit | None, int]:
    """The secret assigned to the name text[start:end], and where to resume scanning."""
    tail = _AFTER_NAME.match(text, end)
    if tail is None or not _NAME_OK.fullmatch(text, start, end):
        return None, end  # most candidates stop here: no value of 16+ characters follows
    name = text[start:end]
    kind = _name_kind(name)
    if kind is None:
        return None, tail.end()
    quote, value = tail.group(1), tail.group(2)
    value_end = tail.end()
    after = text[value_end : value_end + 1]
    if quote and after != quote:
        rest = _QUOTED_REST.match(text, value_end)
        value_end = rest.end() if rest is not None else value_end
        if text[value_end : value_end + 1] != quote or value_end - tail.start(2) > 2048:
            return None, tail.end()
        value = text[tail.start(2) : value_end]
    elif not quote and after in ("(", "[", "{"):
        return None, tail.end()
    words = {w.lower() for w in _NAME_WORDS.findall(name)}
    if "secret" in words and ({"aws", "access"} & words) and _AWS_SECRET.fullmatch(value):
        kind = "aws-secret-key"
    elif not _looks_random(value):
        return None, value_end
    return _Hit(tail.start(2), value_end, kind, len(_TOKEN_RULES) + 2), value_end


def _keyword_starts(lowered: str) -> list[int]:
    """Where a _CANDIDATE keyword starts, ascending. str.find is a fast substring search;
    `re` tries the keyword alternation at every character (~30 ns each), which made this
    scan the slowest part of redaction."""
    starts: list[int] = []
    for word in _KEYWORDS:
        i = lowered.find(word)
        while i >= 0:
            starts.append(i)
            i = lowered.find(word, i + 1)
    starts.sort()  # no two keywords start alike, so no position repeats
    return starts


def _candidates(lowered: str) -> Iterator[re.Match[str]]:
    """The matches `_CANDIDATE.finditer(lowered)` yields, found from keyword positions."""
    scanned = 0
    for pos in _keyword_starts(lowered):
        if pos < scanned:
            continue
        m = _CANDIDATE.match(lowered, pos)
        if m is not None:
            scanned = m.end()
            yield m


def _assignment_hits(text: str) -> list[_Hit]:
    if "=" not in text and ":" not in text:  # every assignment operator has one
        return []
    lowered = text.lower()
    if len(lowered) != len(text):  # a few non-ASCII letters change length when lower-cased
        lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    hits: list[_Hit] = []
    resume = 0
    for m in _candidates(lowered):
        if m.start() < resume:
            continue
        start, end = _name_start(text, m.start(), resume), m.end(1)
        resume = m.end()
        if start is None or end - start > _MAX_NAME:
            continue
        hit, resume = _assignment_hit(text, start, end)
        if hit is not None:
            hits.append(hit)
    return hits


# Passwords on a command line: `mysql -pS3cret`, `curl -u user:S3cret`, `--password=S3cret`.
# The option is found first; the command's name must stand within 300 characters before it
# on the same line (a bounded look back, so a megabyte of options stays linear).
_CLI_RULES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"[ \t]-p([^\s'\"`$%{\-]\S{2,255})"), ("mysql", "mariadb")),
    (re.compile(r"[ \t](?:-u|--user)[ \t=]{0,4}['\"]?[^\s:'\"`]{1,128}:([^\s'\"`$%{][^\s'\"`]{2,255})"), ("curl",)),
    (re.compile(r"--passw(?:or)?d[ \t]?=?[ \t]?([^\s'\"`$%{\-][^\s'\"`]{5,255})"), ()),
)


def _cli_password_hits(text: str) -> list[_Hit]:
    if "-p" not in text and "-u" not in text and "--user" not in text:
        return []
    hits = []
    for rule, commands in _CLI_RULES:
        for m in rule.finditer(text):
            if commands:
                line_start = text.rfind("\n", max(0, m.start() - 300), m.start()) + 1
                before = text[max(line_start, m.start() - 300) : m.start()]
                if not any(c in before for c in commands):
                    continue
            if not _is_placeholder(m.group(1)):
                hits.append(_Hit(m.start(1), m.end(1), "password", len(_TOKEN_RULES) + 1))
    return hits


# A quoted literal assigned or passed to anything, with no secret word in its name: only when
# it looks machine-made — 20+ characters of mixed upper, lower and digits, high entropy, not
# an identifier, a digest name or a placeholder.
_LITERAL = re.compile(r"""[=:,(][ \t]{0,16}(["'`])([A-Za-z0-9+/_\-.=]{20,200})\1""")
MIN_LITERAL_ENTROPY = 4.0


def _literal_hits(text: str) -> list[_Hit]:
    if '"' not in text and "'" not in text and "`" not in text:
        return []
    hits = []
    for m in _LITERAL.finditer(text):
        value = m.group(2)
        if (any(c.isupper() for c in value) and any(c.islower() for c in value) and any(c.isdigit() for c in value)
                and _WORDLIKE.fullmatch(value) is None and not _is_placeholder(value)
                and not value.lower().startswith(("sha1", "sha256", "sha384", "sha512", "md5"))
                and shannon_entropy(value) >= MIN_LITERAL_ENTROPY):
            hits.append(_Hit(m.start(2), m.end(2), "secret", len(_TOKEN_RULES) + 3))
    return hits


_FINDERS: tuple[Callable[[str], list[_Hit]], ...] = (
    _private_key_hits,
    _token_hits,
    _url_password_hits,
    _cli_password_hits,
    _assignment_hits,
    _literal_hits,
)


def find_secrets(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every secret, sorted and non-overlapping (the more specific
    rule wins an overlap)."""
    candidates = [h for find in _FINDERS for h in find(text)]
    if not candidates:  # most texts
        return []
    candidates.sort(key=lambda h: (h.priority, h.start))
    chosen: list[_Hit] = []  # by start, pairwise disjoint
    # One rule (priority) at a time: its hits are checked against the stronger rules' hits
    # and against its own, then merged in. Inserting each hit into one sorted list was
    # quadratic: 34,000 tokens on a one-megabyte line took seconds.
    for _, level in itertools.groupby(candidates, key=lambda h: h.priority):
        starts = [h.start for h in chosen]
        taken: list[_Hit] = []
        for hit in level:
            i = bisect.bisect_left(starts, hit.start)
            if (i > 0 and chosen[i - 1].end > hit.start) or (
                i < len(chosen) and chosen[i].start < hit.end
            ):
                continue
            if taken and taken[-1].end > hit.start:  # taken is by start too: its last ends last
                continue
            taken.append(hit)
        chosen = sorted(chosen + taken, key=lambda h: h.start) if chosen else taken
    return [(h.start, h.end, h.kind) for h in chosen]


class Redactor:
    """Redacts many texts of one run with one numbering: the same secret value gets the same
    placeholder in every chunk, so the model (and the reader) can tell repeats apart."""

    def __init__(self) -> None:
        self._placeholders: dict[str, str] = {}
        self._numbers: Counter[str] = Counter()
        self.totals: Counter[str] = Counter()  # occurrences replaced per kind, all calls

    def _placeholder(self, kind: str, value: str) -> str:
        found = self._placeholders.get(value)
        if found is None:
            self._numbers[kind] += 1
            found = self._placeholders[value] = f"[REDACTED:{kind}#{self._numbers[kind]}]"
        return found

    def redact(self, text: str) -> tuple[str, dict[str, int]]:
        """The text with secrets replaced, and how many of each kind were replaced."""
        return self._apply(text, find_secrets(text))

    def _apply(self, text: str, hits: list[tuple[int, int, str]]) -> tuple[str, dict[str, int]]:
        out: list[str] = []
        counts: Counter[str] = Counter()
        pos = 0
        for start, end, kind in hits:
            value = text[start:end]
            # Multi-line secrets (key blocks) keep their line breaks: lines stay numbered.
            out += [text[pos:start], self._placeholder(kind, value), "\n" * value.count("\n")]
            counts[kind] += 1
            pos = end
        out.append(text[pos:])
        self.totals.update(counts)
        return "".join(out), dict(counts)

    def redact_lines(self, lines: Sequence[str]) -> tuple[tuple[str, ...], tuple[int, ...]]:
        """Redact consecutive lines as one text (a key block spans lines); returns as many
        lines as given and how many secrets were replaced on each (counted where it starts)."""
        if not lines:
            return (), ()
        text = "\n".join(lines)
        if text.count("\n") != len(lines) - 1:  # not line texts: keep the count by line
            pairs = [self.redact(line) for line in lines]
            return tuple(p[0] for p in pairs), tuple(sum(p[1].values()) for p in pairs)
        hits = find_secrets(text)
        if not hits:  # the common case: no offsets to compute, nothing to replace
            return tuple(lines), (0,) * len(lines)
        offsets = [0, *itertools.accumulate(len(line) + 1 for line in lines[:-1])]
        per_line = [0] * len(lines)
        for start, _end, _kind in hits:
            per_line[bisect.bisect_right(offsets, start) - 1] += 1
        redacted, _ = self._apply(text, hits)
        return tuple(redacted.split("\n")), tuple(per_line)


def redact(text: str) -> tuple[str, dict[str, int]]:
    """Redact one text with a fresh numbering. See Redactor for a run-wide numbering."""
    return Redactor().redact(text)


__all__ = [
    "KINDS",
    "MIN_ENTROPY",
    "MIN_SECRET_LEN",
    "PLACEHOLDER_PATTERN",
    "Redactor",
    "find_secrets",
    "redact",
    "shannon_entropy",
]
