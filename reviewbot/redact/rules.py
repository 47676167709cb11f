"""Redaction rules (pure data): the tables the engine runs. Fixed-format credentials with the
literals that gate them, private key markers, URL passwords, the secret words of assignment
names, command-line password options, placeholders and the kinds a placeholder can name.
Every pattern starts with a literal or is driven by a keyword scan; all repeats are bounded."""

from __future__ import annotations

import re
from collections.abc import Mapping

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
        re.compile(rf"g(?<!{_B}.)(?:h[pousr]_[A-Za-z0-9]{{36,251}}|ithub_pat_[A-Za-z0-9_]{{22,255}})"),
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
# userinfo "user:password@": the user may be empty (redis://:pw@host), the password may hold ':'.
_URL_PASSWORD = re.compile(r"://[^\s:/@\"'`]{0,128}:([^\s/@\"'`]{1,256})@")

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
    kind: re.compile("|".join(re.escape(needle) for needle in needles)) for kind, needles in _TOKEN_NEEDLES.items()
}


# Passwords on a command line: `mysql -pS3cret`, `curl -u user:S3cret`, `--password=S3cret`.
# The option is found first; the command's name must stand within 300 characters before it
# on the same line (a bounded look back, so a megabyte of options stays linear).
_CLI_RULES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"[ \t]-p([^\s'\"`$%{\-]\S{2,255})"), ("mysql", "mariadb")),
    (re.compile(r"[ \t](?:-u|--user)[ \t=]{0,4}['\"]?[^\s:'\"`]{1,128}:([^\s'\"`$%{][^\s'\"`]{2,255})"), ("curl",)),
    (re.compile(r"--passw(?:or)?d[ \t]?=?[ \t]?([^\s'\"`$%{\-][^\s'\"`]{5,255})"), ()),
)


# A quoted literal assigned or passed to anything, with no secret word in its name: only when
# it looks machine-made — 20+ characters of mixed upper, lower and digits, high entropy, not
# an identifier, a digest name or a placeholder.
_LITERAL = re.compile(r"""[=:,(][ \t]{0,16}(["'`])([A-Za-z0-9+/_\-.=]{20,200})\1""")
MIN_LITERAL_ENTROPY = 4.0
