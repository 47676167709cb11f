"""risk.assess on hand-built FileDiffs: every signal category, the config's own rules, the
ordering of reasons, the tier mapping and the speed budget."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reviewbot.config import RiskConfig
from reviewbot.diff import DiffLine, FileDiff, Hunk
from reviewbot.errors import ConfigError
from reviewbot.risk import MAX_SCORE, NO_SIGNAL, FileRisk, assess
from reviewbot.risk import signals as risk

FIRST_ADDED = 10  # new-file number of the first added line in make_file


def make_file(
    path: str,
    added: Sequence[str] = (),
    removed: Sequence[str] = (),
    context: Sequence[str] = (),
    status: str = "modified",
) -> FileDiff:
    """One hunk: context lines, then removed lines, then added lines numbered from 10."""
    lines: list[DiffLine] = []
    old = new = FIRST_ADDED - len(context)
    for text in context:
        lines.append(DiffLine(" ", old, new, text))
        old += 1
        new += 1
    for text in removed:
        lines.append(DiffLine("-", old, None, text))
        old += 1
    for text in added:
        lines.append(DiffLine("+", None, new, text))
        new += 1
    hunk = Hunk(1, len(context) + len(removed), 1, len(context) + len(added), "", tuple(lines))
    return FileDiff(path=path, old_path=None, status=status, hunks=(hunk,))  # type: ignore[arg-type]


def risk_of(path: str, *added: str, rules: RiskConfig | None = None) -> FileRisk:
    return assess(make_file(path, added), rules or RiskConfig())


# --- no signal --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["README.md", "src/author.py", "docs/authoring.md", "lib/utils.py"])
def test_plain_file_has_no_signal(path: str) -> None:
    r = risk_of(path, "x = compute(y)", "return render(request, 'page.html')")
    assert r == FileRisk(path, 0, "cheap", (NO_SIGNAL,))


# --- path signals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("src/auth/views.py", "path matches authentication code (auth)"),
        ("app/login.py", "path matches authentication code (login)"),
        ("src/main/java/com/x/AuthService.java", "path matches authentication code (auth)"),
        ("api/oauth_callback.py", "path matches authentication code (oauth)"),
        ("lib/jwt.ts", "path matches authentication code (jwt)"),
        ("users/password_reset.py", "path matches authentication code (password)"),
        ("app/crypto/box.py", "path matches crypto/security code (crypto)"),
        ("core/security.py", "path matches crypto/security code (security)"),
        ("shop/billing/invoice.py", "path matches payments code (billing)"),
        ("shop/payments.go", "path matches payments code (payments)"),
        ("api/permissions.py", "path matches permissions code (permissions)"),
        ("srv/rbac/check.go", "path matches permissions code (rbac)"),
        ("db/migrations/0002_add_index.py", "path matches database migration (migrations)"),
        (".github/workflows/ci.yml", "path matches CI workflow (.github/workflows/**)"),
        (".gitlab-ci.yml", "path matches CI workflow (.gitlab-ci.yml)"),
        ("Jenkinsfile", "path matches CI workflow (Jenkinsfile)"),
        (".circleci/config.yml", "path matches CI workflow (.circleci/**)"),
        ("Dockerfile", "path matches container build (Dockerfile)"),
        ("deploy/docker-compose.prod.yml", "path matches container build (docker-compose.yml)"),
        ("infra/main.tf", "path matches infrastructure (*.tf)"),
        ("deploy/k8s/deployment.yaml", "path matches infrastructure (k8s)"),
        ("ansible/site.yml", "path matches infrastructure (ansible)"),
        (".env.production", "path matches key or secrets file (.env.production)"),
        ("deploy/server.key", "path matches key or secrets file (server.key)"),
        ("mysite/settings.py", "path matches settings file (settings.py)"),
    ],
)
def test_path_signals(path: str, reason: str) -> None:
    r = risk_of(path, "value = 1")
    assert reason in r.reasons
    assert r.score > 0


def test_config_file_counts_only_when_it_adds_a_secret() -> None:
    with_secret = risk_of("config/production.yml", "db_password: hunter2")
    without = risk_of("config/production.yml", "log_level: debug")
    assert with_secret.reasons == ("path matches configuration with secrets (config/*.yml)",)
    assert without.reasons == (NO_SIGNAL,)


def test_path_signals_of_different_kinds_add_up() -> None:
    both = risk_of("auth/migrations/0001.py", "x = 1")
    auth = risk_of("auth/views.py", "x = 1")
    migration = risk_of("app/migrations/0001.py", "x = 1")
    assert both.score == auth.score + migration.score
    assert both.reasons == auth.reasons + migration.reasons


# --- added-line signals ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ("subprocess.run(cmd, shell=True)", "subprocess call with shell=True"),
        ('os.system("rm -rf " + path)', "os.system/os.popen shell command"),
        ("const cp = require('child_process'); cp.exec(cmd)", "child_process exec"),
        ("execSync(`git log ${ref}`)", "child_process exec"),
        ("result = eval(user_input)", "eval/exec of dynamic code"),
        ("exec(compile(src, 'x', 'exec'))", "eval/exec of dynamic code"),
        ("const fn = new Function(body);", "eval/exec of dynamic code"),
        ("cur.execute(f\"SELECT * FROM users WHERE name = '{name}'\")", "SQL built from strings"),
        ('q = "SELECT * FROM users WHERE id = " + user_id', "SQL built from strings"),
        ('q = "DELETE FROM t WHERE id = {}".format(i)', "SQL built from strings"),
        ("q = \"UPDATE users SET name = '%s'\" % name", "SQL built from strings"),
        ("const q = `select * from users where id = ${id}`;", "SQL built from strings"),
        ("obj = pickle.loads(blob)", "pickle/marshal deserialization"),
        ("code = marshal.loads(data)", "pickle/marshal deserialization"),
        ("cfg = yaml.load(fh)", "yaml.load without SafeLoader"),
        ("cfg = yaml.load(fh, Loader=yaml.FullLoader)", "yaml.load without SafeLoader"),
        (
            "ObjectInputStream in = new ObjectInputStream(sock.getInputStream());",
            "Java ObjectInputStream deserialization",
        ),
        ("$obj = unserialize($_COOKIE['state']);", "PHP unserialize()"),
        ("digest = hashlib.md5(password.encode()).hexdigest()", "md5/sha1 hashing of a secret"),
        ("h = hashlib.sha1(api_key).hexdigest()", "md5/sha1 hashing of a secret"),
        ('Cipher c = Cipher.getInstance("DES/CBC/PKCS5Padding");', "DES/RC4 cipher"),
        ("cipher = AES.new(key, AES.MODE_ECB)", "ECB cipher mode"),
        ("token = ''.join(random.choice(ALPHABET) for _ in range(32))", "non-cryptographic random for a secret"),
        ("const resetToken = Math.random().toString(36);", "non-cryptographic random for a secret"),
        ("r = requests.get(url, verify=False)", "TLS verification turned off"),
        ("const agent = new https.Agent({ rejectUnauthorized: false });", "TLS verification turned off"),
        ("tr := &tls.Config{InsecureSkipVerify: true}", "TLS verification turned off"),
        ("ctx.verify_mode = ssl.CERT_NONE", "TLS verification turned off"),
        ("RUN chmod 777 /srv/app", "world-writable permissions (777)"),
        ("os.chmod(path, 0o777)", "world-writable permissions (777)"),
        ("    permission_classes = [AllowAny]", "AllowAny permission"),
        ("@csrf_exempt", "@csrf_exempt"),
    ],
)
def test_added_line_signals(line: str, what: str) -> None:
    r = risk_of("app/code.py", "x = 1", line)
    assert r.reasons == (f"adds {what} (line {FIRST_ADDED + 1})",)
    assert r.score > 0


@pytest.mark.parametrize(
    "line",
    [
        "cfg = yaml.load(fh, Loader=yaml.SafeLoader)",
        "cfg = yaml.safe_load(fh)",
        "match = pattern.exec(text)",
        'cur.execute("SELECT * FROM users WHERE id = %s", (uid,))',
        "key = hashlib.md5(content).hexdigest()  # cache key",
        "r = requests.get(url, verify=True)",
        "idx = random.choice(range(10))",
        'log.info("Updated %d rows", n)',
        'print("select a file from the list")',
        "permissions: read-all",
    ],
)
def test_safe_lookalikes_raise_no_signal(line: str) -> None:
    assert risk_of("app/code.py", line).reasons == (NO_SIGNAL,)


def test_only_added_lines_count() -> None:
    f = make_file(
        "app/code.py", added=["x = 1"], removed=["subprocess.run(c, shell=True)"], context=["obj = pickle.loads(blob)"]
    )
    assert assess(f, RiskConfig()).reasons == (NO_SIGNAL,)


def test_reason_cites_every_matching_line_briefly() -> None:
    lines = ["eval(a)", "x = 1", "eval(b)", "eval(c)", "eval(d)", "eval(e)"]
    r = risk_of("app/code.py", *lines)
    assert r.reasons == ("adds eval/exec of dynamic code (lines 10, 12, 13 and 2 more)",)


def test_path_restricted_line_rules() -> None:
    backticks = "files=`ls /tmp`"
    assert risk_of("scripts/deploy.sh", backticks).reasons == (
        f"adds backtick command substitution in shell (line {FIRST_ADDED})",
    )
    assert risk_of("docs/guide.md", backticks).reasons == (NO_SIGNAL,)
    trigger = "  pull_request_target:"
    assert (
        f"adds pull_request_target trigger (line {FIRST_ADDED})" in risk_of(".github/workflows/pr.yml", trigger).reasons
    )
    assert risk_of("docs/events.md", trigger).reasons == (NO_SIGNAL,)


def test_workflow_write_all_permissions() -> None:
    r = risk_of(".github/workflows/release.yml", "permissions: write-all")
    assert r.reasons == (
        "path matches CI workflow (.github/workflows/**)",
        f"adds workflow permissions: write-all (line {FIRST_ADDED})",
    )


def test_same_category_counts_once_plus_a_little() -> None:
    shell = risk_of("app/a.py", "subprocess.run(c, shell=True)").score
    system = risk_of("app/a.py", "os.system(c)").score
    both = risk_of("app/a.py", "subprocess.run(c, shell=True)", "os.system(c)").score
    assert max(shell, system) < both < shell + system


def test_score_is_capped() -> None:
    lines = ["eval(x)", "subprocess.run(c, shell=True)", "pickle.loads(b)", "requests.get(u, verify=False)"]
    r = risk_of("src/auth/payments.py", *lines)
    assert r.score == MAX_SCORE
    assert r.tier == "frontier"


# --- size and tests ---------------------------------------------------------------------


def test_large_rewrite_at_the_configured_size() -> None:
    rules = RiskConfig(large_change_lines=40)
    at = assess(make_file("app/big.py", added=["a = 1"] * 25, removed=["b = 2"] * 15), rules)
    below = assess(make_file("app/big.py", added=["a = 1"] * 25, removed=["b = 2"] * 14), rules)
    assert at.reasons == ("large rewrite (40 changed lines)",)
    assert below.reasons == (NO_SIGNAL,)


def test_deleted_test_function_is_named() -> None:
    f = make_file("src/app.py", removed=["def test_login_rejects_bad_password():", "    assert not login('x')"])
    assert assess(f, RiskConfig()).reasons == ("removes tests (test_login_rejects_bad_password)",)


@pytest.mark.parametrize(
    ("path", "removed", "name"),
    [
        ("pkg/server_test.go", "func TestServeHTTP(t *testing.T) {", "TestServeHTTP"),
        ("web/cart.spec.ts", "  it('adds an item', () => {", "'adds an item'"),
    ],
)
def test_deleted_tests_in_other_languages(path: str, removed: str, name: str) -> None:
    f = make_file(path, removed=[removed])
    assert assess(f, RiskConfig()).reasons == (f"removes tests ({name})",)


def test_moved_test_is_not_a_removal() -> None:
    f = make_file(
        "tests/test_app.py",
        added=["def test_a():", "    assert f()", "x = 1"],
        removed=["    def test_a():", "        assert f()"],
    )
    assert assess(f, RiskConfig()).reasons == (NO_SIGNAL,)


def test_test_file_that_shrinks_removes_tests() -> None:
    f = make_file("tests/test_app.py", added=["    assert x"], removed=["    assert a", "    assert b", "    assert c"])
    assert assess(f, RiskConfig()).reasons == ("removes tests (test file loses lines: -3 +1)",)
    grows = make_file("tests/test_app.py", added=["    assert a", "    assert b"], removed=["    assert c"])
    assert assess(grows, RiskConfig()).reasons == (NO_SIGNAL,)


# --- the config's rules -------------------------------------------------------------------


def test_escalate_paths_force_frontier() -> None:
    rules = RiskConfig(escalate_paths=["**/vault/**"], threshold=90)
    r = risk_of("src/vault/store.py", "x = 1", rules=rules)
    assert r.tier == "frontier"
    assert r.rule_escalated
    assert r.reasons == ("path matches **/vault/** (config)",)
    assert risk_of("src/other/store.py", "x = 1", rules=rules).tier == "cheap"


def test_escalate_patterns_match_added_lines_only() -> None:
    rules = RiskConfig(escalate_patterns=[r"internal_api\.call"])
    hit = risk_of("src/x.py", "y = 2", "internal_api.call(q)", rules=rules)
    assert hit.tier == "frontier"
    assert hit.reasons == (rf"added line {FIRST_ADDED + 1} matches 'internal_api\.call' (config)",)
    removed_only = assess(make_file("src/x.py", added=["y = 2"], removed=["internal_api.call(q)"]), rules)
    assert removed_only.tier == "cheap"


def test_escalate_pattern_anchors_apply_per_line() -> None:
    rules = RiskConfig(escalate_patterns=[r"^\s*raw_sql\("])
    assert risk_of("a.py", "x = raw_sql(q)", rules=rules).tier == "cheap"
    assert risk_of("a.py", "x = 1", "    raw_sql(q)", rules=rules).tier == "frontier"


def test_invalid_escalate_pattern_is_a_config_error() -> None:
    # The config model rejects it too; this is the guard for a RiskConfig built without validation.
    rules = RiskConfig.model_construct(escalate_patterns=["pickle.loads("])
    with pytest.raises(ConfigError) as err:
        risk_of("a.py", "x = 1", rules=rules)
    assert "escalate_patterns" in err.value.message
    assert err.value.hint


def test_cheap_paths_win_over_every_escalation() -> None:
    rules = RiskConfig(cheap_paths=["docs/**"], escalate_paths=["**/auth/**"])
    r = risk_of("docs/auth/example.py", "eval(x)", rules=rules)
    assert r.tier == "cheap"
    assert not r.rule_escalated
    assert r.reasons[0] == "path matches docs/** in cheap_paths (config): never escalated"
    # The signals stay visible: the reader sees what was overridden.
    assert "path matches **/auth/** (config)" in r.reasons
    assert f"adds eval/exec of dynamic code (line {FIRST_ADDED})" in r.reasons


def test_rule_escalated_file_outranks_scored_file() -> None:
    rules = RiskConfig(escalate_paths=["core/**"])
    assert risk_of("core/x.py", "y = 1", rules=rules).score > risk_of("app/auth.py", "y = 1", rules=rules).score


# --- ordering and tiers -------------------------------------------------------------------


def test_reasons_strongest_first_and_deduplicated() -> None:
    rules = RiskConfig(escalate_paths=["db/**", "db/**"])
    r = risk_of("db/migrations/0003.py", "x = 1", "subprocess.run(c, shell=True)", rules=rules)
    assert r.reasons == (  # migrations and shell=True weigh the same: discovery order (path first)
        "path matches db/** (config)",
        "path matches database migration (migrations)",
        f"adds subprocess call with shell=True (line {FIRST_ADDED + 1})",
    )


@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_tier_follows_threshold(delta: int) -> None:
    score = risk_of("db/migrations/0003.py", "x = 1").score
    r = risk_of("db/migrations/0003.py", "x = 1", rules=RiskConfig(threshold=score + delta))
    assert r.tier == ("frontier" if delta <= 0 else "cheap")


def test_default_threshold_escalates_a_single_strong_signal() -> None:
    assert risk_of("app/x.py", "subprocess.run(c, shell=True)").tier == "frontier"
    assert risk_of("Dockerfile", "RUN apt-get update").tier == "cheap"


# --- real diffs and speed -----------------------------------------------------------------


def test_real_diff_scores_without_error(shared_diffs: Path) -> None:
    from reviewbot.diff import parse_diff

    try:
        diff = parse_diff((shared_diffs / "large-pip-4712.diff").read_bytes())
    except NotImplementedError:
        pytest.skip("diff parser not implemented yet")
    risks = {f.path: assess(f, RiskConfig()) for f in diff.files}
    assert risks["src/pip/_vendor/requests/auth.py"].tier == "frontier"
    assert all(r.reasons for r in risks.values())
    assert all(0 <= r.score <= MAX_SCORE for r in risks.values())


def test_routine_100k_added_lines_in_3000_files_stay_cheap() -> None:
    # How fast: benchmarks/stages.py (no timed assertions in tests).
    samples = [
        "    result = compute(value, other)  # adjust",
        "def handler(request):",
        "    q = session.query(User).filter(User.id == uid)",
        "    log.info('update %s', name)",
        "const t = `hello ${name}`;",
        "        items[i] = items[i].strip()",
    ]
    files = []
    for n in range(3000):
        count = 100_000 // 3000 + (1 if n < 100_000 % 3000 else 0)
        lines = tuple(DiffLine("+", None, i + 1, samples[(n + i) % len(samples)]) for i in range(count))
        files.append(FileDiff(f"src/pkg{n % 40}/module_{n}.py", None, "modified", (Hunk(0, 0, 1, count, "", lines),)))
    assert sum(f.additions for f in files) == 100_000
    rules = RiskConfig(escalate_paths=["**/auth/**"], escalate_patterns=[r"pickle\.loads"], cheap_paths=["docs/**"])
    risks = [assess(f, rules) for f in files]
    assert {r.tier for r in risks} == {"cheap"}
    assert {r.reasons for r in risks} == {(NO_SIGNAL,)}


# --- the test-definition pre-check keeps every definition the regex finds ---------------

_TEST_LINES = [
    "def test_a():",
    "    def test_b(self):",
    "async def test_c():",
    "\tasync  def test_d():",
    "func TestE(t *testing.T) {",
    " func TestF(t)",
    "it('does g', () => {",
    '  test("h", fn)',
    "describe(`i`, () => {",
    "public void testJ() {",
    "void testK()",
    "items = it(1)",
    "x = 1",
    "",
    "def helper():",
    "testing = True",
    "\x0cdef test_l():",
]


@given(st.lists(st.sampled_from(_TEST_LINES), max_size=12))
def test_test_names_match_the_regex_over_all_lines(lines: list[str]) -> None:
    every = [risk._first(m) for m in risk._TEST_DEF.finditer("\n".join(lines))]
    assert risk._test_names(lines) == every


def test_cited_lines_are_new_file_numbers_among_context_and_removed_lines() -> None:
    lines = (
        DiffLine(" ", 5, 7, "x = 1"),
        DiffLine("-", 6, None, "y = eval(a)"),
        DiffLine("+", None, 8, "y = eval(b)"),
        DiffLine(" ", 7, 9, "z = 2"),
        DiffLine("+", None, 10, "w = eval(c)"),
    )
    second = (DiffLine("+", None, 40, "v = eval(d)"),)
    f = FileDiff(
        path="a.py",
        old_path=None,
        status="modified",
        hunks=(Hunk(5, 3, 7, 4, "", lines), Hunk(38, 0, 40, 1, "", second)),
    )
    assert assess(f, RiskConfig()).reasons == ("adds eval/exec of dynamic code (lines 8, 10, 40)",)


# --- precise signals (issue 12.1) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("tests/models/whatwg.json", '"id": "5f2b1c3e-0777-4e8a-9f1d-2b3c4d5e6f70",'),  # digits in a UUID
        ("src/ids.py", 'TRACE = "5f2b1c3e-0777-4e8a-9f1d-2b3c4d5e6f70"'),
        ("src/limits.py", "MAX = 107771"),
        ("CHANGELOG.md", "* Warn when `verify=False` is passed."),
        ("docs/advanced/ssl.md", "    httpx.get(url, verify=False)  # do not do this"),
        ("docs/advanced/ssl.rst", "Use ``os.chmod(path, 0o777)`` only in a sandbox."),
        ("tests/test_client.py", "    client = httpx.Client(verify=False)"),
        ("tests/fixtures/users.json", '{"q": "SELECT * FROM users WHERE id = " + id}'),
    ],
)
def test_data_prose_and_tests_do_not_escalate_on_weak_line_signals(path: str, line: str) -> None:
    r = assess(make_file(path, [line]), RiskConfig())
    assert r.tier == "cheap" and r.reasons == (NO_SIGNAL,), r.reasons


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("src/client.py", "    client = httpx.Client(verify=False)"),
        ("tests/test_run.py", "    subprocess.run(cmd, shell=True)"),  # strong signals count in tests too
    ],
)
def test_code_still_escalates(path: str, line: str) -> None:
    assert assess(make_file(path, [line]), RiskConfig()).tier == "frontier"


@pytest.mark.parametrize(
    ("path", "line"), [("scripts/setup.sh", "chmod 0777 /srv/data"), ("src/perm.py", "os.chmod(path, 0o777)")]
)
def test_a_real_777_is_still_a_signal(path: str, line: str) -> None:
    assert any("world-writable" in r for r in assess(make_file(path, [line]), RiskConfig()).reasons)


def test_the_users_own_rules_win_over_the_file_kind() -> None:
    cfg = RiskConfig(escalate_patterns=[r"verify=False"], escalate_paths=["docs/security/**"])
    assert assess(make_file("docs/advanced/ssl.md", ["verify=False"]), cfg).tier == "frontier"
    assert assess(make_file("docs/security/policy.md", ["hello"]), cfg).tier == "frontier"
    assert risk.file_kind("docs/auth/example.py") == "code" and risk.file_kind("docs/guide.md") == "docs"


# --- risk.granularity: hunk ---------------------------------------------------------------


def three_hunks(path: str, middle: str) -> FileDiff:
    """Three hunks of one added line each; the middle one is `middle`."""
    hunks = tuple(
        Hunk(start, 0, start, 1, "", (DiffLine("+", None, start, text),))
        for start, text in ((10, "total = a + b"), (50, middle), (90, "name = user.name"))
    )
    return FileDiff(path=path, old_path=None, status="modified", hunks=hunks)


SHELL = "subprocess.run(cmd, shell=True)"


def test_hunk_granularity_sends_only_the_risky_hunk_to_frontier_and_says_so() -> None:
    r = assess(three_hunks("app/tasks.py", SHELL), RiskConfig(granularity="hunk"))
    assert r.tier == "frontier" and r.hunk_tiers == ("cheap", "frontier", "cheap")
    assert r.reasons[-1] == (
        "hunk-level: the hunk(s) at line 50 go to the frontier tier, the other 2 to cheap (risk.granularity: hunk)"
    )


def test_file_granularity_and_whole_file_signals_never_split() -> None:
    assert assess(three_hunks("app/tasks.py", SHELL), RiskConfig()).hunk_tiers is None  # the default: file
    hunk = RiskConfig(granularity="hunk")
    assert assess(three_hunks("app/auth/tasks.py", SHELL), hunk).hunk_tiers is None  # a path rule scored too
    assert (
        assess(three_hunks("app/tasks.py", SHELL), RiskConfig(granularity="hunk", escalate_paths=["app/**"])).hunk_tiers
        is None
    )
    assert assess(three_hunks("app/tasks.py", "x = 1"), hunk).hunk_tiers is None  # cheap: nothing to split
    assert assess(make_file("app/tasks.py", [SHELL, "y = 2"]), hunk).hunk_tiers is None  # one hunk


def test_a_migration_goes_to_the_frontier_tier_on_its_path_alone() -> None:
    assert risk_of("db/migrations/0042_add_index.py", "op.create_index('ix', 't', ['c'])").tier == "frontier"
