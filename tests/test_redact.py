"""Secret redaction: typed, stable placeholders; ordinary code left alone; linear time.

Fake credentials are assembled at run time so that secret scanners do not flag this file.
"""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewbot.redact import (
    KINDS,
    PLACEHOLDER_PATTERN,
    Redactor,
    find_secrets,
    redact,
    shannon_entropy,
)
from reviewbot.redact import rules as redact_module

RANDOM40 = "Zq8" + "wJalrXUtnFEMIK7MDENGbPxRfiCYzKq4" + "Lm2s1"  # 40 chars, mixed
AWS_ID = "AKIA" + "IOSFODNN7Q4ZX2WB"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzKq4Lm2s1Z"  # 40 characters
GCP = "AIza" + "SyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"
GITHUB = "ghp" + "_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"
GITHUB_PAT = "github_pat" + "_11ABCDEFG0123456789abc_" + "x" * 20 + "Y7z" * 13
GITLAB = "glpat" + "-" + "a1B2c3D4e5F6g7H8i9J0"
SLACK = "xoxb" + "-" + "1234567890-1234567890123-aBcDeFgHiJkLmNoP"
SLACK_HOOK = "https://hooks.slack.com" + "/services/T0A1B2C3D/B0A1B2C3D/" + "aBcDeFgHiJkLmNoPqRsTuVwX"
OPENAI = "sk" + "-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0f"
ANTHROPIC = "sk" + "-ant-api03-" + "abcDEF123ghiJKL456mnoPQR789stuVWX"
STRIPE = "sk" + "_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
JWT = (
    "eyJ" + "hbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJ" + "zdWIiOiIxMjM0NTY3ODkwIn0"
    "." + "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)
PEM_BODY = [
    "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB",
    "aQ8pR4wZs3cr3tP4ssw0rd2024Xk9mQ2vL8pR4wZ0Z3VS5JJcds3xfn/ygWyF8Pb==",
]
PEM = "\n".join(["-----BEGIN RSA " + "PRIVATE KEY-----", *PEM_BODY, "-----END RSA " + "PRIVATE KEY-----"])


@pytest.mark.parametrize(
    ("line", "secret", "kind"),
    [
        (f"aws_access_key_id = {AWS_ID}", AWS_ID, "aws-access-key"),
        (f"creds = boto3.Session('{'ASIA' + AWS_ID[4:]}')", "ASIA" + AWS_ID[4:], "aws-access-key"),
        (f'AWS_SECRET_ACCESS_KEY="{AWS_SECRET}"', AWS_SECRET, "aws-secret-key"),
        (f"  secret_access_key: {AWS_SECRET}", AWS_SECRET, "aws-secret-key"),
        (f'maps = Client(key="{GCP}")', GCP, "gcp-api-key"),
        (f"token: {GITHUB}", GITHUB, "github-token"),
        (f"GH={GITHUB_PAT}", GITHUB_PAT, "github-token"),
        (f"GITLAB={GITLAB}", GITLAB, "gitlab-token"),
        (f'slack = "{SLACK}"', SLACK, "slack-token"),
        (f'url = "{SLACK_HOOK}"', SLACK_HOOK, "slack-webhook"),
        (f'client = OpenAI(api_key="{OPENAI}")', OPENAI, "openai-key"),
        (f"ANTHROPIC_API_KEY={ANTHROPIC}", ANTHROPIC, "anthropic-key"),
        (f'stripe.api_key = "{STRIPE}"', STRIPE, "stripe-key"),
        (f"Authorization: Bearer {JWT}", JWT, "jwt"),
        ('db_password = "s3cr3tP4ssw0rd2024"', "s3cr3tP4ssw0rd2024", "password"),
        (
            "export API_TOKEN=9f86d081884c7d659a2feaa0c55ad015",
            "9f86d081884c7d659a2feaa0c55ad015",
            "token",
        ),
        ('"client_secret": "Xk9#mQ2$vL8pR4wZ"', "Xk9#mQ2$vL8pR4wZ", "secret"),
        ("apiKey: 'q7Rk2mX9vB4nL8pW3zT6'", "q7Rk2mX9vB4nL8pW3zT6", "key"),
        ("X-Api-Key: q7Rk2mX9vB4nL8pW3zT6", "q7Rk2mX9vB4nL8pW3zT6", "key"),
        ('config["auth"] = "Zx81ksQp02LmNb7Yt4Rw"', "Zx81ksQp02LmNb7Yt4Rw", "auth"),
        ("mysql --password=Zx81ksQp02LmNb7Yt4Rw -u root", "Zx81ksQp02LmNb7Yt4Rw", "password"),
        ('DB_CREDENTIALS := "Zx81ksQp02LmNb7Yt4Rw"', "Zx81ksQp02LmNb7Yt4Rw", "credential"),
        ('if password == "Zx81ksQp02LmNb7Yt4Rw":', "Zx81ksQp02LmNb7Yt4Rw", "password"),
        ("url = 'postgres://admin:Sup3rS3cret@db:5432/app'", "Sup3rS3cret", "url-password"),
    ],
)
def test_each_kind_is_redacted_with_a_typed_placeholder(line: str, secret: str, kind: str) -> None:
    out, counts = redact(line)
    assert secret not in out
    assert f"[REDACTED:{kind}#1]" in out
    assert counts == {kind: 1}
    # Only the secret goes; the code around it stays for the reviewer.
    assert out == line.replace(secret, f"[REDACTED:{kind}#1]")


def test_private_key_block_keeps_its_lines() -> None:
    text = f'KEY = """{PEM}"""\nprint(KEY)'
    out, counts = redact(text)
    assert counts == {"private-key": 1}
    assert out.count("\n") == text.count("\n")
    assert out.splitlines()[0] == 'KEY = """[REDACTED:private-key#1]'
    assert out.splitlines()[-1] == "print(KEY)"
    assert not any(body in out for body in PEM_BODY)


def test_private_key_in_a_json_string_and_without_end_marker() -> None:
    escaped = PEM.replace("\n", "\\n")
    out, counts = redact(f'{{"private_key": "{escaped}\\n", "client_email": "a@b.iam"}}')
    assert counts == {"private-key": 1}
    assert '"client_email": "a@b.iam"' in out
    # A hunk can end inside the block: the key lines after BEGIN still go, the code after stays.
    cut = "\n".join([*PEM.splitlines()[:2], "def after():", "    pass"])
    out, counts = redact(cut)
    assert counts == {"private-key": 1}
    assert PEM_BODY[0] not in out
    assert out.splitlines()[-2:] == ["def after():", "    pass"]


def test_kinds_are_listed_and_fit_the_placeholder_pattern() -> None:
    assert len(set(KINDS)) == len(KINDS)
    for kind in KINDS:
        assert PLACEHOLDER_PATTERN.fullmatch(f"[REDACTED:{kind}#12]")
    assert {"jwt", "private-key", "aws-secret-key", "password", "url-password"} <= set(KINDS)


@pytest.mark.parametrize(
    "line",
    [
        'password = request.form["password"]',
        "token = get_token()",
        "token = jwt.encode(payload, settings.SIGNING_KEY_FOR_TOKENS)",
        'request_id = "123e4567-e89b-12d3-a456-426614174000"',
        "123e4567-e89b-12d3-a456-426614174000",
        '"integrity": "sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXGOfUN9Q==",',
        'content-hash = "7a1e7f0c1ad9c0ad1b2b8f4f52a09f86d081884c7d659a2feaa0c55ad015a3bf"',
        '{file = "x.whl", hash = "sha256:2f4f5c3c7a8e1d0b9a6f3e2d1c0b9a8f7e6d5c4b3a29181716"}',
        "    --hash=sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "commit 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
        'SECRET_KEY = os.environ["SECRET_KEY"]',
        'secret_key = os.getenv("DJANGO_SECRET_KEY_VALUE")',
        'AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend"',
        'password_help = "Please enter a password with 12 characters"',
        'token_url = "https://oauth2.googleapis.com/token"',
        'api_key = "your-api-key-goes-here-2024"',
        'password: "${{ secrets.DB_PASSWORD_FOR_PRODUCTION }}"',
        "max_tokens = 4096",
        "user_password = user_password_input_2",
        "self.secret_key = secret_key_from_settings",
        "tokenizer = AutoTokenizer.from_pretrained('bert-base-uncased-v2')",
        "keyboard_layout = 'Xk9mQ2vL8pR4wZ7t'",
        'monkeys = ["q7Rk2mX9vB4nL8pW3zT6"]',
        "task-runner-2024-build-step-cache",
        "background: url(https://example.com/a:b@c.png)",
    ],
)
def test_ordinary_code_is_left_alone(line: str) -> None:
    assert redact(line) == (line, {})


def test_same_value_same_placeholder_across_calls() -> None:
    redactor = Redactor()
    first, _ = redactor.redact(f"a = '{GITHUB}'\nb = '{GITLAB}'\nc = '{GITHUB}'")
    assert first.count("[REDACTED:github-token#1]") == 2
    assert "[REDACTED:gitlab-token#1]" in first
    other = "ghp_" + "Z" * 36
    second, counts = redactor.redact(f"x = {other} y = {GITHUB}")
    assert second == "x = [REDACTED:github-token#2] y = [REDACTED:github-token#1]"
    assert counts == {"github-token": 2}
    assert redactor.totals == {"github-token": 4, "gitlab-token": 1}
    # A fresh call of the module function starts numbering again.
    assert redact(f"x = {other}")[0] == "x = [REDACTED:github-token#1]"


def test_counts_are_per_kind() -> None:
    text = f"{AWS_ID} {AWS_ID} {GCP}\nAuthorization: Bearer {JWT}"
    out, counts = redact(text)
    assert counts == {"aws-access-key": 2, "gcp-api-key": 1, "jwt": 1}
    assert len(PLACEHOLDER_PATTERN.findall(out)) == 4


def test_specific_rule_wins_over_the_assignment_rule() -> None:
    assert redact(f"GITHUB_TOKEN={GITHUB}")[1] == {"github-token": 1}
    assert redact(f'anthropic_key = "{ANTHROPIC}"')[1] == {"anthropic-key": 1}


def test_redact_lines_keeps_line_count_and_counts_per_line() -> None:
    lines = ["x = 1", f"token = '{GITHUB}'", *PEM.splitlines(), "y = 2"]
    out, per_line = Redactor().redact_lines(lines)
    assert len(out) == len(lines)
    assert out[0] == "x = 1" and out[-1] == "y = 2"
    assert per_line == (0, 1, 1, 0, 0, 0, 0)
    assert out[2] == "[REDACTED:private-key#1]" and out[3:6] == ("", "", "")
    assert Redactor().redact_lines([]) == ((), ())


def test_entropy() -> None:
    assert shannon_entropy("") == 0.0
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("abcd") == pytest.approx(2.0)
    assert shannon_entropy(RANDOM40) > 4.0


@pytest.mark.parametrize(
    "line",
    [
        "a" * 1_000_000,
        "key" * 333_334,
        "password=" * 111_112,
        "api_key = 'x' " * 71_429,
        "pass " * 200_000,
        "AKIA" * 250_000,
        "eyJ" * 333_334,
        "sk-" * 333_334,
        "eyJa." * 200_000,
        ("-----BEGIN " + "PRIVATE KEY-----") * 37_038,
        "://a:" * 200_000,
        "a=" * 500_000,
        "x" + " " * 1_000_000 + "!",
        "Aa1" * 333_334,
        "a.b-c_" * 166_667,
        " ".join([AWS_ID, GITHUB] * 17_000),  # many hits of two priorities, interleaved
    ],
    ids=lambda s: repr(s[:12]),
)
def test_a_one_megabyte_hostile_line_is_redacted(line: str) -> None:
    # A quadratic pattern would take minutes here; benchmarks/stages.py measures the time
    # and that it grows linearly (no timed assertions in tests).
    out, _ = redact(line)
    assert out.count("\n") == line.count("\n")


_PARTS = [GITHUB, AWS_ID, JWT, "x = 1", "password = ", "'", "", "\n", PEM, "key: ", "é"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(_PARTS), st.sampled_from([" ", "\n", "=", '"', ", "])),
        max_size=12,
    )
)
def test_output_keeps_newlines_and_leaves_no_secret(parts: list[tuple[str, str]]) -> None:
    # Secrets are delimited (a token glued to other letters is deliberately not matched).
    text = "".join(part + sep for part, sep in parts)
    out, counts = redact(text)
    assert out.count("\n") == text.count("\n")
    for secret in (GITHUB, AWS_ID, JWT, PEM_BODY[0]):
        assert secret not in out
    assert sum(counts.values()) == len(PLACEHOLDER_PATTERN.findall(out))
    spans = find_secrets(text)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def test_redaction_is_idempotent() -> None:
    text = f"a = {GITHUB}\nb: {AWS_ID}\n{PEM}\npassword = 'Zx81ksQp02LmNb7Yt4Rw'"
    once, _ = redact(text)
    assert redact(once) == (once, {})
    assert re.search(r"#\d+\]", once)


_TOKENS = [
    AWS_ID,
    "ASIA" + AWS_ID[4:],
    GCP,
    GITHUB,
    "gho" + GITHUB[3:],
    "ghs" + GITHUB[3:],
    GITHUB_PAT,
    GITLAB,
    SLACK,
    SLACK_HOOK,
    OPENAI,
    ANTHROPIC,
    STRIPE,
    "rk" + STRIPE[2:],
    JWT,
]


@given(st.lists(st.sampled_from([*_TOKENS, " ", "x", "=", "-", "_", "\n"]), min_size=1, max_size=8))
def test_every_token_match_passes_its_rules_pre_check(parts: list[str]) -> None:
    text = "".join(parts)
    for kind, pattern in redact_module._TOKEN_RULES:
        for m in pattern.finditer(text):
            assert redact_module._TOKEN_GATES[kind].search(m.group()), (kind, m.group())


@pytest.mark.parametrize("token", _TOKENS)
def test_each_sample_token_is_matched_by_a_token_rule(token: str) -> None:
    # Keeps the property test above from passing vacuously.
    assert any(pattern.fullmatch(token) for _, pattern in redact_module._TOKEN_RULES)


# --- families that got through (issue 9.2) -------------------------------------------------------

_NPM = "npm_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
_HF = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz12345678"
_SG = "SG." + "abcdefghijABCDEFGHIJ12" + "." + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456"
_DO = "dop_v1_" + "0123456789abcdef" * 4
_PYPI = "pypi-AgEIcHlwaS5vcmc" + "CJDUyNTg0ZGY2LTRmMzktNDFjOS1iNjYyLTcyNzQ3YjA3YjM0NAACKlsz"


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ('headers = {"Authorization": "Bearer abcDEF123456ghiJKL789mnoPQR"}', "abcDEF123456ghiJKL789mnoPQR"),
        (f"NPM_TOKEN={_NPM}", _NPM),
        (f"token = '{_PYPI}'", _PYPI),
        (f"HF = {_HF}", _HF),
        (f"client = SendGridAPIClient('{_SG}')", _SG),
        (f"do_client(token='{_DO}')", _DO),
        ("twilio = Client('SK" + "0123456789abcdef0123456789abcdef" + "', x)", "SK0123456789abcdef0123456789abcdef"),
        ("MAILGUN = 'key-" + "0123456789abcdefABCDEF0123456789" + "'", "key-0123456789abcdefABCDEF0123456789"),
        ("mysql -h db -u root -pS3cr3tPassw0rd app < dump.sql", "S3cr3tPassw0rd"),
        ("curl -u deploy:hunter2-prod https://ci.example.org/api", "hunter2-prod"),
        (
            "SECRET_KEY = 'django-insecure-k3(x!v9#q2^m@7w$z8p&l0*r5t+y1u'",
            "django-insecure-k3(x!v9#q2^m@7w$z8p&l0*r5t+y1u",
        ),
        ('conn = connect(host, "Xk9vQ2mZ7pL4wR8tN3bY6cJ1")', "Xk9vQ2mZ7pL4wR8tN3bY6cJ1"),
    ],
)
def test_the_families_that_got_through_are_redacted(line: str, secret: str) -> None:
    out, counts = redact(line)
    assert secret not in out and sum(counts.values()) >= 1, out


@pytest.mark.parametrize(
    "line",
    [
        "mysql -p$MYSQL_PASSWORD app",  # a variable, not a password
        "ls -pa /tmp",
        'uuid = "550e8400-e29b-41d4-a716-446655440000"',
        'name = "snake_case_identifier_name_v2"',
        '"integrity": "sha512-Z3t7nG9kQx2LpR4vW8yB1cD5fH6jM0nS3uV7xA9bE2gK4iO6qT8wY1zC3eF5hJ7lN9pR1tV3xZ5bD7fH9jL1nP3rT5=="',
    ],
)
def test_lookalikes_stay(line: str) -> None:
    assert redact(line)[0] == line


def test_a_yaml_block_scalar_under_a_secret_key_is_redacted_line_by_line() -> None:
    # `password: |` puts the value on the next lines, where no one-line rule looks.
    text = "db:\n  password: |\n    hunter2hunter2\n    second-line\n  name: shop\ndescription: >\n  plain prose\n"
    out, found = redact(text)
    assert "hunter2hunter2" not in out and "second-line" not in out
    assert "name: shop" in out and "plain prose" in out and sum(found.values()) == 2
