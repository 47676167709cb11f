"""A fake GitHub REST API on 127.0.0.1, for tests of reviewbot's GitHub edge.

Usage::

    from fakes.github_server import FakeGitHub, synthetic_files

    with FakeGitHub(owner="octo", repo="demo") as gh:     # or prefix="/api/v3" (Enterprise)
        pr = gh.add_pull(1, files=json.loads(files_json))   # GitHub `/pulls/{n}/files` items
        gh.set_content(".reviewbot.yml", "review: {}\\n", ref=pr.base_sha)
        gh.set_compare(pr.base_sha, pr.head_sha, files=["a.py"])
        gh.fail("GET", "/repos/octo/demo/pulls/1/files", status=403,
                headers={"retry-after": "1"},
                body={"message": "You have exceeded a secondary rate limit"})
        gh.fail("POST", "/repos/octo/demo/pulls/1/reviews", status=502, after=True)
        gh.api_url          # "http://127.0.0.1:<port>" + prefix: GITHUB_API_URL / api_url
        gh.token            # the token requests must carry ("token …" or "Bearer …"), else 401
        gh.requests         # [RecordedRequest(method, path, query, body, headers)], in order
        gh.reviews(1), gh.review_comments(1), gh.issue_comments(1)   # stored state

API:
- ``FakeGitHub(owner, repo, *, prefix="", token="ghs_fake", bot_login="github-actions[bot]",
  actions_token=True)``; ``start()``/``stop()`` or a context manager. ``bot_login`` is who the
  token posts as: ``github-actions[bot]`` (the workflow's GITHUB_TOKEN), ``<app-slug>[bot]`` (a
  GitHub App) or a plain login (a personal access token). Every author object carries ``login``
  and ``type``: "Bot" for a login ending in ``[bot]``, else "User" (GitHub's own rule). Every URL it returns
  (``url``, ``html_url``, ``Link``) is built from its own address and prefix: PyGithub asserts that.
- State: ``add_pull(number, files, *, base_sha, head_sha, title, body, author, draft, head_repo,
  base_ref, head_ref, commits)`` → ``FakePull``; ``set_content(path, text, ref)``;
  ``set_compare(base, head, files, status="ahead")``; ``add_review(number, body, user)`` (a
  submitted COMMENT review, no inline comments); ``add_review_comment(number, body, path,
  line, user)``; ``add_issue_comment(number, body, user)``; ``read_only = True`` answers every
  write with 403 "Resource not accessible by integration" (a fork PR's token).
- Routes: GET /repos/{o}/{r}; GET /repos/{o}/{r}/pulls/{n}; GET …/pulls/{n}/files (at most
  3,000); GET /repos/{o}/{r}/contents/{path}?ref= (base64); GET /repos/{o}/{r}/compare/{a}...{b};
  GET/POST …/pulls/{n}/reviews; GET …/pulls/{n}/comments; GET/POST /repos/{o}/{r}/issues/{n}/
  comments; PATCH /repos/{o}/{r}/issues/comments/{id}; POST /graphql (``/api/graphql`` under an
  ``/api/v3`` prefix, as on Enterprise) answering only ``viewer { login }`` with ``bot_login``
  (``graphql_path`` names it for ``fail``). Lists are paginated like GitHub:
  ``per_page`` (default 30, at most 100), ``page``, and a ``Link`` header with prev/next/last/first.
- A review POST is checked like GitHub does, and nothing is saved when it fails (422): any comment
  whose path is not in the PR ("Path could not be resolved"), whose line is not inside a hunk on
  its side ("Pull request review thread line must be part of the diff"), whose start_line is not
  before the line or not in the same hunk; APPROVE with an Actions token; a body over 65,536
  characters; a missing body for COMMENT/REQUEST_CHANGES; a commit_id that is not the PR's.
  Success answers 200 with the review (id, html_url, body, state COMMENTED, commit_id), and its
  inline comments become review comments.
- ``fail(method, path, *, status=502, body=None, headers=None, after=False, times=1)`` queues a
  scripted fault for that route (path without prefix and query). ``after=True`` performs the
  request first (a review GitHub saved but answered 502 for), then answers with the fault. A
  ``str`` body is sent as text/html (a proxy's error page); anything else as JSON.
- ``RecordedRequest.headers`` has lower-case names; ``authorization`` is ``"REDACTED"``.

pytest-recording's ``--block-network`` blocks loopback too; the project's pytest options allow
127.0.0.1 (``--allowed-hosts``), so tests need no marker.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

MAX_BODY = 65_536
MAX_FILES = 3000
DOCS = "https://docs.github.com/rest"
_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")

Response = tuple[int, Any, dict[str, str]]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # without the prefix and the query
    query: dict[str, str]
    body: Any  # parsed JSON, or None
    headers: dict[str, str]


@dataclass(frozen=True)
class Fault:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    after: bool = False
    match: str | None = None  # only a request whose JSON body contains this text (e.g. a GraphQL query)


@dataclass
class FakePull:
    number: int
    files: list[dict[str, Any]]
    base_sha: str
    head_sha: str
    title: str = "A change"
    body: str = ""
    author: str = "octocat"
    draft: bool = False
    head_repo: str | None = None  # None: the same repository
    base_ref: str = "main"
    head_ref: str = "feature"
    commits: list[str] = field(default_factory=list)  # older head shas also in the PR

    def lines(self, path: str) -> dict[str, dict[int, int]] | None:
        """{"RIGHT": {line: hunk index}, "LEFT": {...}} for `path`, None when not in the PR."""
        for f in self.files:
            if f["filename"] == path:
                return _hunk_lines(f.get("patch") or "")
        return None


def _hunk_lines(patch: str) -> dict[str, dict[int, int]]:
    sides: dict[str, dict[int, int]] = {"RIGHT": {}, "LEFT": {}}
    index, old, new, old_left, new_left = -1, 0, 0, 0, 0
    for raw in patch.split("\n"):
        match = _HUNK_RE.match(raw)
        if match:
            index += 1
            old, new = int(match[1]), int(match[3])
            old_left = int(match[2]) if match[2] is not None else 1
            new_left = int(match[4]) if match[4] is not None else 1
            continue
        if index < 0 or raw.startswith("\\") or (old_left <= 0 and new_left <= 0):
            continue
        tag = raw[:1]
        if tag not in ("+", "-"):
            sides["RIGHT"][new], sides["LEFT"][old] = index, index
            old, new, old_left, new_left = old + 1, new + 1, old_left - 1, new_left - 1
        elif tag == "+":
            sides["RIGHT"][new] = index
            new, new_left = new + 1, new_left - 1
        else:
            sides["LEFT"][old] = index
            old, old_left = old + 1, old_left - 1
    return sides


def synthetic_files(count: int) -> list[dict[str, Any]]:
    """`count` one-line added files, as the files API lists them."""
    return [
        {
            "sha": f"{i:040x}",
            "filename": f"src/mod_{i:04d}.py",
            "status": "added",
            "additions": 1,
            "deletions": 0,
            "changes": 1,
            "patch": f"@@ -0,0 +1 @@\n+x = {i}",
        }
        for i in range(count)
    ]


def _error(status: int, message: str, errors: list[Any] | None = None) -> Response:
    body: dict[str, Any] = {"message": message, "documentation_url": DOCS, "status": str(status)}
    if errors is not None:
        body["errors"] = errors
    return status, body, {}


def _unprocessable(reason: str) -> Response:
    return _error(422, "Unprocessable Entity", [reason])


class FakeGitHub:
    def __init__(
        self,
        owner: str = "octo",
        repo: str = "demo",
        *,
        prefix: str = "",
        token: str | None = "ghs_fake",
        bot_login: str = "github-actions[bot]",
        actions_token: bool = True,
    ) -> None:
        self.owner, self.repo = owner, repo
        self.prefix = prefix.rstrip("/")
        self.token = token
        self.bot_login = bot_login
        self.actions_token = actions_token
        # GitHub Enterprise serves GraphQL at /api/graphql beside the REST prefix /api/v3.
        self.graphql_path = self.prefix.removesuffix("/v3") + "/graphql"
        self.read_only = False
        self.resolved_threads: set[str] = set()
        self.requests: list[RecordedRequest] = []
        self.pulls: dict[int, FakePull] = {}
        self._contents: dict[tuple[str, str], str] = {}
        self._compares: dict[tuple[str, str], dict[str, Any]] = {}
        self._reviews: dict[int, list[dict[str, Any]]] = {}
        self._review_comments: dict[int, list[dict[str, Any]]] = {}
        self._issue_comments: dict[int, list[dict[str, Any]]] = {}
        self._reactions: dict[int, list[dict[str, Any]]] = {}  # review comment id -> its reactions
        # login -> the permission GitHub reports (admin, write, read, none); others: read
        self.permissions: dict[str, str] = {}
        self._faults: dict[tuple[str, str], deque[Fault]] = {}
        self._ids = itertools.count(1001)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeGitHub:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def root(self) -> str:
        assert self._server is not None, "start the server first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.root + self.prefix

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    # --- state ----------------------------------------------------------------------------

    def add_pull(
        self,
        number: int,
        files: list[dict[str, Any]],
        *,
        base_sha: str = "b" * 40,
        head_sha: str = "c" * 40,
        **kwargs: Any,
    ) -> FakePull:
        pull = FakePull(number=number, files=list(files), base_sha=base_sha, head_sha=head_sha, **kwargs)
        with self._lock:
            self.pulls[number] = pull
        return pull

    def set_content(self, path: str, text: str, ref: str = "main") -> None:
        with self._lock:
            self._contents[(path, ref)] = text

    def set_compare(self, base: str, head: str, files: list[str] | list[dict[str, Any]], status: str = "ahead") -> None:
        items = [{"filename": f, "status": "modified"} if isinstance(f, str) else f for f in files]
        with self._lock:
            self._compares[(base, head)] = {"status": status, "files": items}

    def add_review(self, number: int, body: str, user: str = "someone") -> dict[str, Any]:
        with self._lock:
            pull = self.pulls[number]
            review = self._new_review(pull, {"body": body, "event": "COMMENT"}, user)
            self._reviews.setdefault(number, []).append(review)
        return review

    def add_review_comment(
        self,
        number: int,
        body: str,
        path: str = "README.md",
        line: int | None = 1,
        user: str = "someone",
        *,
        in_reply_to: int | None = None,
        association: str = "NONE",
        diff_hunk: str = "",
        thumbs_down: int = 0,
    ) -> dict[str, Any]:
        """A review comment as GitHub lists it; `line` None is an outdated one (its lines
        changed in a later commit); `in_reply_to` makes it a reply in that thread."""
        with self._lock:
            comment = self._new_review_comment(number, None, {"path": path, "line": line, "body": body}, user)
            comment.update(author_association=association, diff_hunk=diff_hunk)
            if in_reply_to is not None:
                comment["in_reply_to_id"] = in_reply_to
            comment["reactions"]["-1"] = thumbs_down
            self._review_comments.setdefault(number, []).append(comment)
        return comment

    def add_reaction(self, comment: dict[str, Any], content: str, user: str) -> None:
        """`user` reacts to one of the review comments: its counts and GitHub's list of who
        reacted (GET …/pulls/comments/{id}/reactions)."""
        with self._lock:
            reaction = {"id": next(self._ids), "content": content, "user": _user(user)}
            self._reactions.setdefault(comment["id"], []).append(reaction)
            for stored in itertools.chain.from_iterable(self._review_comments.values()):
                if stored["id"] == comment["id"]:
                    stored["reactions"][content] = stored["reactions"].get(content, 0) + 1
                    stored["reactions"]["total_count"] = stored["reactions"].get("total_count", 0) + 1

    def add_issue_comment(
        self, number: int, body: str, user: str = "someone", *, association: str = "NONE"
    ) -> dict[str, Any]:
        with self._lock:
            comment = self._new_issue_comment(number, body, user)
            comment["author_association"] = association
            self._issue_comments.setdefault(number, []).append(comment)
        return comment

    def reviews(self, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._reviews.get(number, []))

    def review_comments(self, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._review_comments.get(number, []))

    def issue_comments(self, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._issue_comments.get(number, []))

    def fail(
        self,
        method: str,
        path: str,
        *,
        status: int = 502,
        body: Any = None,
        headers: dict[str, str] | None = None,
        after: bool = False,
        times: int = 1,
        match: str | None = None,
    ) -> None:
        if body is None:
            body = {"message": "Server Error"} if status >= 500 else {"message": "Error"}
        fault = Fault(status=status, body=body, headers=dict(headers or {}), after=after, match=match)
        with self._lock:
            self._faults.setdefault((method.upper(), path), deque()).extend([fault] * times)

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path == path]

    # --- dispatch -------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes) -> Response:
        parsed = urllib.parse.urlsplit(raw_path)
        path = parsed.path
        if path != self.graphql_path and path.startswith(self.prefix):
            path = path[len(self.prefix) :]
        query = dict(urllib.parse.parse_qsl(parsed.query))
        try:
            body = json.loads(raw_body) if raw_body else None
        except ValueError:
            body = None
        shown = {k: ("REDACTED" if k == "authorization" else v) for k, v in headers.items()}
        with self._lock:
            self.requests.append(RecordedRequest(method, path, query, body, shown))
            queue = self._faults.get((method, path))
            fault = None
            if queue and (queue[0].match is None or queue[0].match in json.dumps(body)):
                fault = queue.popleft()
        if fault is not None and not fault.after:
            return fault.status, fault.body, fault.headers
        response = self._route(method, path, query, headers, body, raw_body)
        if fault is not None:
            return fault.status, fault.body, fault.headers
        return response

    def _route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any, raw_body: bytes
    ) -> Response:
        if self.token is not None and headers.get("authorization") not in (
            f"token {self.token}",
            f"Bearer {self.token}",
        ):
            return _error(401, "Bad credentials")
        if raw_body and body is None:
            return _error(400, "Problems parsing JSON")
        if method == "POST" and path == self.graphql_path:
            return self._graphql(body)  # a query, not a write: a read-only token may ask it
        if method != "GET" and self.read_only:
            return _error(403, "Resource not accessible by integration")
        repo = f"/repos/{re.escape(self.full_name)}"
        for verb, pattern, handler in self._routes():
            match = re.fullmatch(repo + pattern, path)
            if match and verb == method:
                with self._lock:
                    return handler(match, query, body)
        return _error(404, "Not Found")

    def _routes(self) -> list[tuple[str, str, Callable[[re.Match[str], dict[str, str], Any], Response]]]:
        return [
            ("GET", "", self._get_repo),
            ("GET", r"/pulls/(\d+)", self._get_pull),
            ("GET", r"/pulls/(\d+)/files", self._get_files),
            ("GET", r"/contents/(.+)", self._get_content),
            ("GET", r"/compare/(.+?)\.\.\.(.+)", self._get_compare),
            ("GET", r"/pulls/(\d+)/reviews", self._get_reviews),
            ("POST", r"/pulls/(\d+)/reviews", self._post_review),
            ("GET", r"/pulls/(\d+)/comments", self._get_review_comments),
            ("GET", r"/issues/(\d+)/comments", self._get_issue_comments),
            ("POST", r"/issues/(\d+)/comments", self._post_issue_comment),
            ("PATCH", r"/issues/comments/(\d+)", self._patch_issue_comment),
            ("GET", r"/pulls/comments/(\d+)", self._get_review_comment),
            ("POST", r"/pulls/(\d+)/comments/(\d+)/replies", self._post_reply),
            ("POST", r"/(issues|pulls)/comments/(\d+)/reactions", self._post_reaction),
            ("GET", r"/pulls/comments/(\d+)/reactions", self._get_reactions),
            ("GET", r"/collaborators/([^/]+)/permission", self._get_permission),
        ]

    # --- handlers (called with the lock held) ---------------------------------------------

    def _repo_json(self) -> dict[str, Any]:
        api = f"{self.api_url}/repos/{self.full_name}"
        return {
            "id": 1,
            "name": self.repo,
            "full_name": self.full_name,
            "private": False,
            "owner": {"login": self.owner},
            "default_branch": "main",
            "fork": False,
            "url": api,
            "html_url": f"{self.root}/{self.full_name}",
        }

    def _get_repo(self, m: re.Match[str], q: dict[str, str], body: Any) -> Response:
        return 200, self._repo_json(), {}

    def _pull_or_404(self, m: re.Match[str]) -> FakePull | None:
        return self.pulls.get(int(m[1]))

    def _get_pull(self, m: re.Match[str], q: dict[str, str], body: Any) -> Response:
        pull = self._pull_or_404(m)
        if pull is None:
            return _error(404, "Not Found")
        n, api = pull.number, f"{self.api_url}/repos/{self.full_name}"
        head_repo = pull.head_repo or self.full_name
        data = {
            "url": f"{api}/pulls/{n}",
            "html_url": f"{self.root}/{self.full_name}/pull/{n}",
            "number": n,
            "state": "open",
            "title": pull.title,
            "body": pull.body or None,
            "draft": pull.draft,
            "user": {"login": pull.author},
            "head": {
                "sha": pull.head_sha,
                "ref": pull.head_ref,
                "label": f"x:{pull.head_ref}",
                "repo": {"full_name": head_repo, "fork": head_repo != self.full_name},
            },
            "base": {
                "sha": pull.base_sha,
                "ref": pull.base_ref,
                "label": f"{self.owner}:{pull.base_ref}",
                "repo": self._repo_json(),
            },
            "changed_files": len(pull.files),
            "commits": 1 + len(pull.commits),
            "additions": sum(int(f.get("additions", 0)) for f in pull.files),
            "deletions": sum(int(f.get("deletions", 0)) for f in pull.files),
        }
        return 200, data, {}

    def _get_files(self, m: re.Match[str], q: dict[str, str], body: Any) -> Response:
        pull = self._pull_or_404(m)
        if pull is None:
            return _error(404, "Not Found")
        return self._page(m.string, q, pull.files[:MAX_FILES])

    def _get_content(self, m: re.Match[str], q: dict[str, str], body: Any) -> Response:
        path = urllib.parse.unquote(m[1])
        ref = q.get("ref", "main")
        text = self._contents.get((path, ref))
        if text is None:
            return _error(404, "Not Found")
        raw = text.encode()
        encoded = base64.encodebytes(raw).decode()  # GitHub wraps base64 content in lines too
        api = f"{self.api_url}/repos/{self.full_name}/contents/{m[1]}?ref={ref}"
        return (
            200,
            {
                "type": "file",
                "encoding": "base64",
                "size": len(raw),
                "name": path.rsplit("/", 1)[-1],
                "path": path,
                "content": encoded,
                "sha": "f" * 40,
                "url": api,
                "html_url": f"{self.root}/{self.full_name}/blob/{ref}/{m[1]}",
            },
            {},
        )

    def _get_compare(self, m: re.Match[str], q: dict[str, str], body: Any) -> Response:
        found = self._compares.get((m[1], m[2]))
        if found is None:
            return _error(404, "Not Found")
        data = {
            "url": f"{self.api_url}{m.string}",
            "html_url": f"{self.root}/{self.full_name}/compare/{m[1]}...{m[2]}",
            "status": found["status"],
            "ahead_by": 1,
            "behind_by": 0,
            "total_commits": 1,
            "commits": [],
            "files": found["files"],
        }
        return 200, data, {}

    def _get_reviews(self, m: re.Match[str], q: dict[str, str], body: Any) -> Response:
        return self._page(m.string, q, self._reviews.get(int(m[1]), []))

    def _get_review_comments(self, m: re.Match[str], q: dict[str, str], body: Any) -> Response:
        return self._page(m.string, q, self._review_comments.get(int(m[1]), []))

    def _get_issue_comments(self, m: re.Match[str], q: dict[str, str], body: Any) -> Response:
        return self._page(m.string, q, self._issue_comments.get(int(m[1]), []))

    def _post_review(self, m: re.Match[str], q: dict[str, str], body: Any) -> Response:
        pull = self._pull_or_404(m)
        if pull is None:
            return _error(404, "Not Found")
        if not isinstance(body, dict):
            return _error(400, "Problems parsing JSON")
        problem = self._review_problem(pull, body)
        if problem:
            return _unprocessable(problem)
        review = self._new_review(pull, body, self.bot_login)
        self._reviews.setdefault(pull.number, []).append(review)
        for c in body.get("comments") or []:
            comment = self._new_review_comment(pull.number, review["id"], c, self.bot_login)
            self._review_comments.setdefault(pull.number, []).append(comment)
        return 200, review, {}

    def _review_problem(self, pull: FakePull, body: dict[str, Any]) -> str | None:
        event, text = body.get("event"), body.get("body") or ""
        if event == "APPROVE" and self.actions_token:
            return "GitHub Actions is not permitted to approve pull requests."
        if len(text) > MAX_BODY:
            return f"Body is too long (maximum is {MAX_BODY} characters)"
        if event in ("COMMENT", "REQUEST_CHANGES") and not text.strip():
            return "Body is required for COMMENT and REQUEST_CHANGES reviews"
        if event is None and any(r["state"] == "PENDING" for r in self._reviews.get(pull.number, [])):
            return "User can only have one pending review per pull request"
        if body.get("commit_id") not in (None, pull.head_sha, *pull.commits):
            return "The commitOID is not part of the pull request"
        for c in body.get("comments") or []:
            problem = _comment_problem(pull, c)
            if problem:
                return problem
        return None

    def _post_issue_comment(self, m: re.Match[str], q: dict[str, str], body: Any) -> Response:
        number = int(m[1])
        if number not in self.pulls:
            return _error(404, "Not Found")
        problem = _issue_body_problem(body)
        if problem:
            return _unprocessable(problem)
        comment = self._new_issue_comment(number, body["body"], self.bot_login)
        self._issue_comments.setdefault(number, []).append(comment)
        return 201, comment, {}

    def _patch_issue_comment(self, m: re.Match[str], q: dict[str, str], body: Any) -> Response:
        wanted = int(m[1])
        for comment in itertools.chain.from_iterable(self._issue_comments.values()):
            if comment["id"] == wanted:
                problem = _issue_body_problem(body)
                if problem:
                    return _unprocessable(problem)
                comment["body"] = body["body"]
                comment["updated_at"] = "2026-01-01T00:00:01Z"
                return 200, dict(comment), {}
        return _error(404, "Not Found")

    def _find_review_comment(self, wanted: int) -> tuple[int, dict[str, Any]] | None:
        for number, comments in self._review_comments.items():
            for comment in comments:
                if comment["id"] == wanted:
                    return number, comment
        return None

    def _get_review_comment(self, m: re.Match[str], q: dict[str, str], body: Any) -> Response:
        found = self._find_review_comment(int(m[1]))
        return (200, dict(found[1]), {}) if found else _error(404, "Not Found")

    def _post_reply(self, m: re.Match[str], q: dict[str, str], body: Any) -> Response:
        """GitHub replies in the thread of the top-level comment (a reply to a reply joins it too)."""
        number, wanted = int(m[1]), int(m[2])
        found = self._find_review_comment(wanted)
        if number not in self.pulls or found is None or found[0] != number:
            return _error(404, "Not Found")
        problem = _issue_body_problem(body)
        if problem:
            return _unprocessable(problem)
        root = found[1].get("in_reply_to_id") or wanted
        comment = self._new_review_comment(
            number, None, {"path": found[1]["path"], "line": found[1]["line"], "body": body["body"]}, self.bot_login
        )
        comment["in_reply_to_id"] = root
        self._review_comments[number].append(comment)
        return 201, comment, {}

    def _post_reaction(self, m: re.Match[str], q: dict[str, str], body: Any) -> Response:
        wanted = int(m[2])
        pool = self._issue_comments.values() if m[1] == "issues" else self._review_comments.values()
        if not any(c["id"] == wanted for c in itertools.chain.from_iterable(pool)):
            return _error(404, "Not Found")
        content = body.get("content") if isinstance(body, dict) else None
        if content not in ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"):
            return _unprocessable("content is not a valid reaction")
        return 201, {"id": next(self._ids), "content": content, "user": _user(self.bot_login)}, {}

    def _get_reactions(self, m: re.Match[str], q: dict[str, str], body: Any) -> Response:
        wanted = [r for r in self._reactions.get(int(m[1]), []) if q.get("content") in (None, r["content"])]
        return 200, wanted, {}

    def _get_permission(self, m: re.Match[str], q: dict[str, str], body: Any) -> Response:
        login = urllib.parse.unquote(m[1])
        permission = self.permissions.get(login, "read")
        return 200, {"permission": permission, "role_name": permission, "user": _user(login)}, {}

    def _graphql(self, body: Any) -> Response:
        query = body.get("query") if isinstance(body, dict) else None
        if isinstance(query, str) and "reviewThreads" in query:
            return self._graphql_threads(body.get("variables") or {})
        if isinstance(query, str) and "resolveReviewThread" in query:
            thread = str((body.get("variables") or {}).get("id") or "")
            self.resolved_threads.add(thread)
            return 200, {"data": {"resolveReviewThread": {"thread": {"id": thread, "isResolved": True}}}}, {}
        if isinstance(query, str) and "repository(owner: $owner, name: $name)" in query:
            return self._graphql_objects(body.get("variables") or {})
        if not isinstance(query, str) or re.sub(r"\s+", "", query) != "query{viewer{login}}":
            # GitHub answers 200 with `errors` for a query it cannot run; this fake knows one query.
            return 200, {"errors": [{"message": f"the fake GitHub only answers viewer {{ login }}: {query!r}"}]}, {}
        return 200, {"data": {"viewer": {"login": self.bot_login}}}, {}

    def _graphql_threads(self, variables: dict[str, Any]) -> Response:
        """pullRequest.reviewThreads: one thread per top-level review comment."""
        comments = self._review_comments.get(int(variables.get("number") or 0), [])
        nodes = [
            {
                "id": f"PRRT_{c['id']}",
                "isResolved": f"PRRT_{c['id']}" in self.resolved_threads,
                "comments": {"nodes": [{"databaseId": c["id"]}]},
            }
            for c in comments
            if not c.get("in_reply_to_id")
        ]
        return 200, {"data": {"repository": {"pullRequest": {"reviewThreads": {"nodes": nodes}}}}}, {}

    def _graphql_objects(self, variables: dict[str, Any]) -> Response:
        """Aliased `fN: object(expression: $eN) { ... on Blob { text byteSize isBinary } }`."""
        if (variables.get("owner"), variables.get("name")) != tuple(self.full_name.split("/")):
            return 200, {"data": {"repository": None}, "errors": [{"message": "Could not resolve to a Repository"}]}, {}
        repo: dict[str, Any] = {}
        with self._lock:
            for key, expression in variables.items():
                if not (key.startswith("e") and key[1:].isdigit()):
                    continue
                ref, _, path = str(expression).partition(":")
                text = self._contents.get((path, ref))
                repo[f"f{key[1:]}"] = (
                    None if text is None else {"text": text, "byteSize": len(text.encode()), "isBinary": False}
                )
        return 200, {"data": {"repository": repo}}, {}

    # --- JSON shapes and pagination -------------------------------------------------------

    def _new_review(self, pull: FakePull, body: dict[str, Any], user: str) -> dict[str, Any]:
        states = {"COMMENT": "COMMENTED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "APPROVE": "APPROVED"}
        review_id = next(self._ids)
        return {
            "id": review_id,
            "node_id": f"PRR_{review_id}",
            "user": _user(user),
            "body": body.get("body") or "",
            "state": states.get(body.get("event") or "", "PENDING"),
            "html_url": f"{self.root}/{self.full_name}/pull/{pull.number}#pullrequestreview-{review_id}",
            "pull_request_url": f"{self.api_url}/repos/{self.full_name}/pulls/{pull.number}",
            "commit_id": body.get("commit_id") or pull.head_sha,
            "author_association": "NONE",
            "submitted_at": "2026-01-01T00:00:00Z",
        }

    def _new_review_comment(self, number: int, review_id: int | None, c: dict[str, Any], user: str) -> dict[str, Any]:
        cid = next(self._ids)
        api = f"{self.api_url}/repos/{self.full_name}"
        return {
            "id": cid,
            "pull_request_review_id": review_id,
            "path": c.get("path"),
            "line": c.get("line"),
            "side": c.get("side", "RIGHT"),
            "start_line": c.get("start_line"),
            "start_side": c.get("start_side"),
            "body": c.get("body", ""),
            "user": _user(user),
            "url": f"{api}/pulls/comments/{cid}",
            "pull_request_url": f"{api}/pulls/{number}",
            "html_url": f"{self.root}/{self.full_name}/pull/{number}#discussion_r{cid}",
            "subject_type": "line",
            "author_association": "NONE",
            "diff_hunk": "",
            "reactions": {"total_count": 0, "+1": 0, "-1": 0},
        }

    def _new_issue_comment(self, number: int, body: str, user: str) -> dict[str, Any]:
        cid = next(self._ids)
        api = f"{self.api_url}/repos/{self.full_name}"
        return {
            "id": cid,
            "node_id": f"IC_{cid}",
            "body": body,
            "user": _user(user),
            "url": f"{api}/issues/comments/{cid}",
            "issue_url": f"{api}/issues/{number}",
            "html_url": f"{self.root}/{self.full_name}/pull/{number}#issuecomment-{cid}",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "author_association": "NONE",
        }

    def _page(self, path: str, query: dict[str, str], items: list[dict[str, Any]]) -> Response:
        per_page = max(1, min(int(query.get("per_page", 30)), 100))
        page = max(1, int(query.get("page", 1)))
        last = max(1, -(-len(items) // per_page))
        chunk = [dict(i) for i in items[(page - 1) * per_page : page * per_page]]
        links = []
        if page > 1:
            links += [(page - 1, "prev")]
        if page < last:
            links += [(page + 1, "next"), (last, "last")]
        if page > 1:
            links += [(1, "first")]
        base = f"{self.api_url}{path}"
        rendered = ", ".join(
            f'<{base}?{urllib.parse.urlencode({**query, "per_page": per_page, "page": p})}>; rel="{rel}"'
            for p, rel in links
        )
        return 200, chunk, ({"Link": rendered} if rendered else {})


def _user(login: str) -> dict[str, Any]:
    # GitHub Apps (GITHUB_TOKEN included) post as "<slug>[bot]", typed "Bot"; a login with
    # brackets cannot be registered by a person.
    return {"login": login, "type": "Bot" if login.endswith("[bot]") else "User"}


def _comment_problem(pull: FakePull, c: dict[str, Any]) -> str | None:
    if "position" in c and "line" in c:
        return "Pull request review thread position and line cannot be combined"
    lines = pull.lines(str(c.get("path")))
    if lines is None:
        return "Path could not be resolved"
    if len(str(c.get("body") or "")) > MAX_BODY:
        return f"Body is too long (maximum is {MAX_BODY} characters)"
    line, side = c.get("line"), c.get("side", "RIGHT")
    if not isinstance(line, int) or side not in lines:
        return "Line could not be resolved"
    if line not in lines[side]:
        return "Pull request review thread line must be part of the diff"
    start = c.get("start_line")
    if start is None:
        return None
    start_side = c.get("start_side", side)
    if not isinstance(start, int) or start_side not in lines or start >= line:
        return "Pull request review thread start line must precede the end line"
    if lines[start_side].get(start) != lines[side][line]:
        return "Pull request review thread start line must be part of the same hunk as the line"
    return None


def _issue_body_problem(body: Any) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("body"), str) or not body["body"]:
        return "Body cannot be blank"
    if len(body["body"]) > MAX_BODY:
        return f"Body is too long (maximum is {MAX_BODY} characters)"
    return None


def _handler_for(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                status, body, extra = fake.handle(self.command, self.path, headers, raw)
            except Exception as exc:  # a bug in the fake must show up as a failing request
                status, body, extra = 500, {"message": f"fake server error: {exc!r}"}, {}
            # A str body is sent as it is (a proxy's HTML error page), anything else as JSON.
            raw_text = isinstance(body, str)
            data = b"" if body is None else body.encode() if raw_text else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html" if raw_text else "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler
