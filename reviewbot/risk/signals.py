"""Risk signals (pure data): the tables the scoring reads. Path rules (keyword sets and
regexes, with their points), rules for added lines (gated patterns by category), test
definitions, and the kinds of file (code, test, docs, data) that decide which signals apply."""

from __future__ import annotations

import re
from dataclasses import dataclass


# --- path signals -----------------------------------------------------------------------
# Paths are normalised first (camelCase split, lower case) so `AuthService.java` and
# `auth_service.py` look alike, then cut into words at / _ . - so `author.py` is not auth.
# Keyword rules are set lookups on those words; the rest are regexes on the whole path.
@dataclass(frozen=True)
class _PathRule:
    points: int
    what: str
    words: frozenset[str] = frozenset()
    regex: re.Pattern[str] | None = None
    shown: str | None = None  # the pattern shown in the reason; None shows what matched


def _kw(points: int, what: str, *words: str) -> _PathRule:
    return _PathRule(points, what, words=frozenset(words))


def _rx(points: int, what: str, regex: str, shown: str | None = None) -> _PathRule:
    return _PathRule(points, what, regex=re.compile(regex), shown=shown)


_PATH_RULES: tuple[_PathRule, ...] = (
    _kw(
        50,
        "authentication code",
        "auth",
        "authn",
        "authz",
        "authentication",
        "authenticate",
        "authorization",
        "authorize",
        "login",
        "logout",
        "signin",
        "session",
        "sessions",
        "oauth",
        "oauth2",
        "oidc",
        "saml",
        "sso",
        "jwt",
        "jwks",
        "password",
        "passwords",
        "passwd",
        "credential",
        "credentials",
    ),
    _kw(
        50,
        "crypto/security code",
        "crypto",
        "cryptography",
        "encrypt",
        "encryption",
        "decrypt",
        "cipher",
        "security",
        "secret",
        "secrets",
        "keystore",
        "keyring",
        "tls",
        "ssl",
        "cert",
        "certs",
        "certificate",
        "certificates",
    ),
    _kw(
        50,
        "payments code",
        "payment",
        "payments",
        "billing",
        "checkout",
        "invoice",
        "invoices",
        "stripe",
        "paypal",
        "refund",
        "refunds",
    ),
    _kw(
        40,
        "permissions code",
        "permission",
        "permissions",
        "acl",
        "acls",
        "rbac",
        "abac",
        "policy",
        "policies",
        "iam",
        "guard",
        "guards",
    ),
    _kw(50, "database migration", "migration", "migrations", "migrate", "alembic", "flyway", "liquibase"),
    _rx(50, "CI workflow", r"(?:^|/)\.github/workflows/[^/]+$", ".github/workflows/**"),
    _rx(50, "CI workflow", r"(?:^|/)\.github/actions/", ".github/actions/**"),
    _rx(50, "CI workflow", r"(?:^|/)\.gitlab-ci\.ya?ml$", ".gitlab-ci.yml"),
    _rx(50, "CI workflow", r"(?:^|/)jenkinsfile$", "Jenkinsfile"),
    _rx(50, "CI workflow", r"(?:^|/)\.circleci/", ".circleci/**"),
    _rx(50, "CI workflow", r"(?:^|/)(?:azure-pipelines|bitbucket-pipelines|\.travis)\.ya?ml$"),
    _rx(25, "container build", r"(?:^|/)(?:dockerfile(?:\.[^/]*)?|[^/]*\.dockerfile|containerfile)$", "Dockerfile"),
    _rx(25, "container build", r"(?:^|/)(?:docker-)?compose(?:\.[^/]*)?\.ya?ml$", "docker-compose.yml"),
    _rx(35, "infrastructure", r"\.(?:tf|tfvars|hcl|bicep)$", "*.tf"),
    _rx(
        35,
        "infrastructure",
        r"(?:^|/)(?:terraform|k8s|kubernetes|helm|charts|ansible|playbooks|cloudformation|kustomize)/",
    ),
    _rx(35, "infrastructure", r"(?:^|/)(?:chart|kustomization|values)\.ya?ml$"),
    _rx(
        45,
        "key or secrets file",
        r"(?:^|/)(?:\.env(?:\.[^/]*)?|[^/]*\.(?:pem|key|p12|pfx|jks|keystore)|id_(?:rsa|dsa|ecdsa|ed25519)"
        r"|\.npmrc|\.pypirc|\.netrc|credentials\.json|secrets?\.[^/]*)$",
    ),
    _rx(45, "settings file", r"(?:^|/)settings(?:/[^/]+)?\.py$", "settings.py"),
)
_PATH_WORD_SEP = re.compile(r"[/_.\-]+")

# Configuration files count only when an added line assigns something secret-looking.
_CONFIG_FILE = re.compile(r"(?:^|/)(?:config|conf|configs|settings)/(?:[^/]+/)*[^/]+\.(?:ya?ml|json|toml|ini|cfg)$")
_SECRET_ASSIGN = re.compile(
    r"(?i)(?:password|passwd|secret|token|api[_-]?key|private[_-]?key|access[_-]?key|client[_-]?secret)"
    r"[\"']?[ \t]*[:=]"
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _normalise(path: str) -> str:
    return _CAMEL.sub("_", path).lower()


# --- added-line signals ----------------------------------------------------------------
# Speed: Python's `re` scans ~20-40 ns a character for a pattern that starts with `\b` or an
# alternation, but ~1 ns for one that starts with a plain literal. So every pattern has a
# *gate*, a substring each match contains, checked with `in` (lower-case gates against the
# lower-cased text, others as written); a pattern runs only when its gate is present. Where
# the gate is a common word (select, update, exec, random...) the pattern also starts with
# a literal, its left word boundary being a lookbehind *after* it. Patterns run over the
# added lines joined with "\n", so none may cross a newline.
def _after(word: str, not_before: str = r"\w") -> str:
    """`word`, not preceded by `not_before`: a left boundary that keeps the literal prefix."""
    w = re.escape(word)
    return f"{w}(?<!{not_before}{w})"


@dataclass(frozen=True)
class _LineRule:
    category: str
    points: int
    what: str  # "adds <what> (line N)"
    patterns: tuple[tuple[str, re.Pattern[str]], ...]  # (gate, regex)
    gates: frozenset[str]
    confirm: re.Pattern[str] | None = None  # must also match the same line
    paths: re.Pattern[str] | None = None  # only for files whose normalised path matches


def _rule(
    category: str,
    points: int,
    what: str,
    *patterns: tuple[str, str],
    confirm: re.Pattern[str] | None = None,
    paths: re.Pattern[str] | None = None,
) -> _LineRule:
    compiled = tuple((gate, re.compile(rx)) for gate, rx in patterns)
    return _LineRule(category, points, what, compiled, frozenset(g for g, _ in patterns), confirm, paths)


_SECRETISH = re.compile(r"(?i)pass|pwd|secret|token|nonce|salt|otp|api[_-]?key|session|reset|csrf")
_INTERPOLATED = re.compile(r"""\bf["']|\.format\(|["'][ \t]*%[ \t]*[\w(]|["'][ \t]*\+|\+[ \t]*["'\w]|\$\{|#\{|\|\|""")
_SHELL_FILE = re.compile(r"\.(?:sh|bash|zsh|ksh)$|(?:^|/)makefile$")
_WORKFLOW_FILE = re.compile(r"(?:^|/)\.github/workflows/")
_NOT_SAFE_LOADER = r"(?![^\n]*Loader[ \t]*=[ \t]*(?:yaml\.)?C?(?:Safe|Base)Loader)"

_LINE_RULES: tuple[_LineRule, ...] = (
    _rule("shell", 50, "subprocess call with shell=True", ("shell", _after("shell") + r"[ \t]*=[ \t]*True\b")),
    _rule(
        "shell",
        50,
        "os.system/os.popen shell command",
        ("os.", _after("os.system") + r"[ \t]*\("),
        ("os.", _after("os.popen") + r"[ \t]*\("),
    ),
    _rule(
        "shell",
        50,
        "child_process exec",
        ("exec", r"child_process\b[^\n]*\bexec"),
        ("exec", _after("execSync") + r"[ \t]*\("),
        ("exec", r"getRuntime\(\)\.exec\b"),
        ("exec", _after("shell_exec") + r"[ \t]*\("),
    ),
    _rule("shell", 20, "backtick command substitution in shell", ("`", r"`[^`\n]+`"), paths=_SHELL_FILE),
    _rule(
        "eval",
        50,
        "eval/exec of dynamic code",
        ("eval", _after("eval", r"[\w.]") + r"[ \t]*\("),
        ("exec", _after("exec", r"[\w.]") + r"[ \t]*\("),
        ("function", r"new[ \t]+Function[ \t]*\("),
    ),
    _rule(
        "sql",
        50,
        "SQL built from strings",
        ("select", _after("SELECT") + r"\b"),
        ("select", _after("select") + r"[ \t][^\n]*?\bfrom[ \t]"),
        ("insert", _after("INSERT") + r"[ \t]+INTO\b"),
        ("insert", _after("insert") + r"[ \t]+into[ \t]"),
        ("update", _after("UPDATE") + r"[ \t]+\S+[ \t]+SET\b"),
        ("update", _after("update") + r"[ \t]+\S+[ \t]+set[ \t]"),
        ("delete", _after("DELETE") + r"[ \t]+FROM\b"),
        ("delete", _after("delete") + r"[ \t]+from[ \t]"),
        ("where", _after("WHERE") + r"\b"),
        confirm=_INTERPOLATED,
    ),
    _rule(
        "deserialize",
        50,
        "pickle/marshal deserialization",
        ("pickle", r"pickle\.(?:loads?|Unpickler)\b"),
        ("pickle", r"Pickle\.(?:loads?|Unpickler)\b"),
        ("pickle", r"jsonpickle\.decode\b"),
        ("marshal", _after("marshal") + r"\.loads?\b"),
        ("dill", _after("dill") + r"\.loads?\b"),
    ),
    _rule(
        "deserialize",
        50,
        "yaml.load without SafeLoader",
        ("yaml", r"yaml\.unsafe_load\b"),
        ("yaml", r"yaml\.load(?:_all)?[ \t]*\(" + _NOT_SAFE_LOADER),
    ),
    _rule("deserialize", 50, "Java ObjectInputStream deserialization", ("objectinputstream", r"ObjectInputStream\b")),
    _rule("deserialize", 50, "PHP unserialize()", ("unserialize", _after("unserialize", r"[\w.>]") + r"[ \t]*\(")),
    _rule(
        "tls",
        50,
        "TLS verification turned off",
        ("verif", r"verify[ \t]*=[ \t]*False\b"),
        ("verif", r"InsecureSkipVerify[ \t]*:[ \t]*true\b"),
        ("verif", r"insecure_skip_verify[ \t]*:[ \t]*true\b"),
        ("verif", r"_create_unverified_context\b"),
        ("reject", r"rejectUnauthorized[\"']?[ \t]*:[ \t]*false\b"),
        ("reject", r"NODE_TLS_REJECT_UNAUTHORIZED[\"']?[ \t]*[=:][ \t]*[\"']?0"),
        ("cert_none", r"CERT_NONE\b"),
        ("check_hostname", r"check_hostname[ \t]*=[ \t]*False\b"),
    ),
    _rule(
        "weak_crypto",
        40,
        "md5/sha1 hashing of a secret",
        ("md5", r"(?i)\bmd5"),
        ("sha1", r"(?i)\bsha-?1\b"),
        confirm=_SECRETISH,
    ),
    _rule(
        "weak_crypto",
        40,
        "DES/RC4 cipher",
        ("DES", r"\b(?:DES|DES3|TripleDES)\b(?![ \t]*=)"),
        ("DES", r"[\"']DES(?:ede)?(?:/|[\"'])"),
        ("RC4", r"\bA?RC4\b"),
    ),
    _rule("weak_crypto", 40, "ECB cipher mode", ("ECB", r"MODE_ECB\b|modes\.ECB\b|/ECB/|[\"']ECB[\"']")),
    _rule(
        "weak_crypto",
        40,
        "non-cryptographic random for a secret",
        ("random", _after("random") + r"\.(?:random|randint|choice|choices|randrange|getrandbits|sample)[ \t]*\("),
        ("random", r"Math\.random[ \t]*\(\)"),
        ("math/rand", r"math/rand\b"),
        confirm=_SECRETISH,
    ),
    _rule(
        "permissions",
        40,
        "world-writable permissions (777)",
        ("777", r"chmod[ \t]+(?:-R[ \t]+)?0?777\b"),
        # A token, not digits inside a UUID or a longer number ("…-0777-…" is no permission).
        ("777", _after("0o777", r"[\w-]") + r"(?![\w-])"),
        ("777", _after("0777", r"[\w-]") + r"(?![\w-])"),
        ("a+rwx", _after("a+rwx") + r"\b"),
    ),
    _rule("permissions", 40, "workflow permissions: write-all", ("write-all", r"permissions[ \t]*:[ \t]*write-all\b")),
    _rule(
        "permissions",
        40,
        "pull_request_target trigger",
        ("pull_request_target", r"pull_request_target\b"),
        paths=_WORKFLOW_FILE,
    ),
    _rule(
        "permissions",
        40,
        "AllowAny permission",
        ("allowany", _after("AllowAny") + r"\b"),
        ("permitall", r"permitAll\(\)"),
        ("permitall", r"@PermitAll\b"),
    ),
    _rule("permissions", 40, "@csrf_exempt", ("csrf_exempt", _after("csrf_exempt") + r"\b")),
)
_ALL_GATES = {g for rule in _LINE_RULES for g in rule.gates}
_LOWER_GATES = tuple(sorted(g for g in _ALL_GATES if g.islower()))
_CASED_GATES = tuple(sorted(g for g in _ALL_GATES if not g.islower()))


# --- tests ------------------------------------------------------------------------------
_TEST_FILE = re.compile(
    r"(?:^|/)(?:tests?|spec|__tests__|testing)/|(?:^|/)test_[^/]*\.py$|_test\.(?:py|go|rb|exs?)$"
    r"|\.(?:spec|test)\.[cm]?[jt]sx?$|(?:Test|Tests|IT)\.(?:java|kt|cs|scala)$|_spec\.rb$"
)
_TEST_DEF = re.compile(
    r"^[ \t]*(?:async[ \t]+)?def[ \t]+(test\w*)|^func[ \t]+(Test\w+)[ \t]*\("
    r"|^[ \t]*(?:it|test|describe)[ \t]*\([ \t]*([\"'`][^\"'`\n]*[\"'`])"
    r"|^[ \t]*(?:public[ \t]+)?void[ \t]+(test\w*)[ \t]*\(",
    re.MULTILINE,
)
# Every _TEST_DEF match is one line that starts, after blanks, with one of these words. The
# regex is tried at every character, so lines without one are left out before it runs.
_TEST_DEF_WORDS = ("def", "async", "func", "it", "test", "describe", "public", "void")


def _test_names(texts: list[str]) -> list[str]:
    """Names of the tests defined on these lines, in order."""
    candidates = [t for t in texts if t.lstrip(" \t").startswith(_TEST_DEF_WORDS)]
    return [_first(m) for m in _TEST_DEF.finditer("\n".join(candidates))]


def _first(m: re.Match[str]) -> str:
    return next(g for g in m.groups() if g)


# --- file kinds ---------------------------------------------------------------------------
# What a file is decides which signals apply: prose and data mention `verify=False`, `ssl` or
# `0777` without doing anything; tests turn TLS checks off on purpose. Docs and data never
# escalate on line patterns or path words; tests only on the strong line signals. Path rules
# that name a kind of file (CI workflows, key files) and the config's own rules still apply.
_DOCS_FILE = re.compile(
    r"\.(?:md|markdown|rst|txt|adoc|asciidoc|org|rdoc|html?)$"
    r"|(?:^|/)(?:changelog|changes|history|news|readme|authors|contributing)(?:\.[^/]*)?$"
)
_DOCS_FOLDER = re.compile(r"(?:^|/)(?:docs?|documentation)/[^/]+(?:/[^/]+)*$")
# Code keeps its signals wherever it lives (docs/auth/example.py is still code).
_CODE_EXT = re.compile(
    r"\.(?:py|pyi|js|mjs|cjs|jsx|ts|tsx|go|java|kt|rb|rs|c|h|cc|cpp|hpp|cs|php|swift|scala|sh|bash|sql|tf)$"
)
_DATA_FILE = re.compile(
    r"\.(?:json|jsonl|ndjson|csv|tsv|xml|svg|snap|golden|fixture|lock|sum)$"
    r"|(?:^|/)(?:fixtures?|testdata|test_data|__snapshots__|snapshots)/"
)
_TEST_WEAK = frozenset({"tls", "weak_crypto", "permissions", "sql"})  # normal in tests


def file_kind(path: str) -> str:
    """code, test, docs or data (by extension and folder)."""
    norm = path.lower()
    if _DOCS_FILE.search(norm) or (_DOCS_FOLDER.search(norm) and not _CODE_EXT.search(norm)):
        return "docs"
    if _DATA_FILE.search(norm):
        return "data"
    if _TEST_FILE.search(path):
        return "test"
    return "code"
