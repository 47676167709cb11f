"""Edge: the GitHub REST API for one pull request (PyGithub's Requester underneath). Reads
return plain frozen dataclasses and dicts, never PyGithub objects; writes post one review per
run and keep exactly one summary comment. Every GitHub failure leaves as a GitHubError (a
ServiceError) with a one-line message, or CannotWrite when the token is read-only.

Retries are ours, not urllib3's: PyGithub's GithubRetry retries a 5xx POST (GitHub may have
saved the review: a duplicate), sleeps whatever Retry-After says with no cap, fails a bare 429
at once, and retries below PyGithub where they cannot be counted. So the Github instance gets
retry=0 and `_request` retries reads (5xx, connection errors, rate limits) and retries writes
only when GitHub rate-limited them (then nothing was saved), all within one wait budget.

Hidden markers (fingerprints, run ids, the summary and its state) are trusted only in comments
and reviews written by the login this token posts as: anyone who can comment can write a
marker. That login is given (`login=`), learnt from our own writes, or asked once per run, and
only when an item carrying a marker has to be judged (see `own_login`)."""

from __future__ import annotations

import base64
import email.utils
import logging
import math
import re
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timezone
from types import TracebackType
from typing import Any

import requests
from github import Auth, Github, GithubException
from github.Requester import Requester

from . import __version__
from .errors import ServiceError, UsageError
from .ownkeys import SCRUB
from .publish import (
    MAX_BODY,
    ReviewPayload,
    SummaryState,
    cap_body,
    extract_fingerprints,
    extract_run_id,
    is_summary,
    parse_summary_state,
)

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"
# GitHub lists at most 3,000 files for a pull request and 300 for a compare, without a marker.
MAX_PR_FILES = 3000
MAX_COMPARE_FILES = 300
_PER_PAGE = 100  # the largest page GitHub serves
_FILE_KEYS = (
    "filename", "status", "previous_filename", "additions", "deletions", "changes", "patch",
)
_LINK_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')
# A GitHub login: letters, digits, hyphens (and an underscore for enterprise managed users);
# GitHub Apps, GITHUB_TOKEN's included, post as "<app-slug>[bot]". No person's login has brackets.
_LOGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}(?:\[bot\])?")
# GET /user answers 403 to installation tokens (GITHUB_TOKEN, GitHub Apps); the GraphQL viewer
# answers every kind of token, with "<app-slug>[bot]" for an App (public reports, not the docs).
VIEWER_QUERY = "query { viewer { login } }"


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to retry. Tests pass a recording `sleep` and tiny waits."""

    attempts: int = 4  # tries per request, the first included
    max_total_wait: float = 60.0  # seconds slept by one client across all retries
    backoff: float = 1.0  # 5xx and connection errors: backoff * 2**(attempt - 1)
    secondary_wait: float = 60.0  # rate limited with neither retry-after nor a reset time
    write_interval: float = 1.0  # GitHub asks for a second between content-creating requests
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time


@dataclass(frozen=True)
class PullInfo:
    number: int
    title: str
    body: str
    base_sha: str
    head_sha: str
    base_ref: str
    head_ref: str
    author: str
    draft: bool
    head_repo_full_name: str | None  # None when the fork was deleted
    is_fork: bool
    changed_files: int = 0  # GitHub's count: more than the files listing shows past 3,000
    html_url: str = ""
    state: str = "open"


@dataclass(frozen=True)
class SummaryRef:
    id: int
    html_url: str
    body: str
    state: SummaryState | None  # None when the marker's state is unreadable


@dataclass(frozen=True)
class PostResult:
    review_id: int
    html_url: str
    inline_comments: int  # comments posted inline (0 when they went into the body)
    in_body: bool = False  # GitHub rejected the inline comments (422): all moved to the body
    recovered: bool = False  # GitHub failed after saving: the saved review was found and used
    rejection: str | None = None  # GitHub's 422 message when in_body


MAX_FILE_BYTES = 512 * 1024  # a config, rules or context file; larger is refused, not read
FILES_PER_QUERY = 100  # aliased objects per GraphQL request: ⌈files/100⌉ requests for code context


class GitHubError(ServiceError):
    """A GitHub request failed. `status` is None when no HTTP answer came back."""

    def __init__(self, message: str, hint: str | None = None, *, status: int | None = None,
                 reason: str = "") -> None:
        super().__init__(message, hint)
        self.status = status
        self.reason = reason or message  # GitHub's own words, e.g. "Unprocessable Entity (…)"


class CannotWrite(GitHubError):
    """The token may read but not write (fork PRs get a read-only GITHUB_TOKEN)."""


@dataclass
class _Page:
    items: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False


class GitHubPR:
    """One pull request. `requests_made` counts every HTTP request sent, retries included."""

    def __init__(
        self,
        token: str,
        repository: str,
        number: int,
        api_url: str = DEFAULT_API_URL,
        *,
        policy: RetryPolicy | None = None,
        timeout: int = 30,
        login: str | None = None,
    ) -> None:
        if not token:
            raise UsageError("no GitHub token", hint="pass `github-token: ${{ github.token }}`")
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
            raise UsageError(f"repository must be owner/name, got {repository!r}")
        if login and not _LOGIN.fullmatch(login):
            raise UsageError(f"the bot login must be a GitHub login, got {login[:60]!r}",
                             hint="e.g. github-actions[bot], my-app[bot] or the user of a personal token")
        self.repository = repository
        self.number = number
        self.policy = policy or RetryPolicy()
        self.requests_made = 0
        self.files_truncated = False
        self._waited = 0.0
        self._summary: SummaryRef | None = None
        self._summary_known = False
        self._pull: PullInfo | None = None
        self._login = login or None
        self._ignored: set[tuple[str, int]] = set()
        # Learnt while listing our review comments: findings someone gave a 👎 (dismissed),
        # and findings whose lines changed in a later commit (GitHub's outdated comments).
        self.thumbs_down: set[str] = set()
        self.outdated: set[str] = set()
        self._existing: dict[bool, set[str]] = {}
        # GitHub Enterprise works by api_url alone (https://ghe.example.com/api/v3).
        self._gh = Github(
            auth=Auth.Token(token),
            base_url=api_url.rstrip("/"),
            retry=0,
            per_page=_PER_PAGE,
            timeout=timeout,
            user_agent=f"reviewbot/{__version__}",
            seconds_between_requests=None,
            seconds_between_writes=self.policy.write_interval or None,
        )
        self._requester: Requester = self._gh.requester

    def close(self) -> None:
        self._gh.close()

    def __enter__(self) -> GitHubPR:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def login(self) -> str | None:
        """The login this token posts as, when known (given, learnt or asked)."""
        return self._login

    @property
    def ignored_markers(self) -> int:
        """Comments and reviews seen carrying our markers that someone else wrote: ignored."""
        return len(self._ignored)

    def own_login(self) -> str:
        """The login this token posts as, asked from GitHub once (GraphQL `viewer`) unless it
        was given or learnt from one of our own writes. Never taken from a comment that
        carries our markers: anyone can write one."""
        if self._login is None:
            self._login = self._viewer_login()
        return self._login

    @property
    def _repo_path(self) -> str:
        return f"/repos/{self.repository}"

    @property
    def _pull_path(self) -> str:
        return f"{self._repo_path}/pulls/{self.number}"

    # --- reads ----------------------------------------------------------------------------

    def pull_info(self) -> PullInfo:
        _, data = self._request("GET", self._pull_path)
        head, base = data["head"], data["base"]
        head_repo = (head.get("repo") or {}).get("full_name")
        self._pull = PullInfo(
            number=data["number"],
            title=data.get("title") or "",
            body=data.get("body") or "",
            base_sha=base["sha"],
            head_sha=head["sha"],
            base_ref=base["ref"],
            head_ref=head["ref"],
            author=(data.get("user") or {}).get("login", ""),
            draft=bool(data.get("draft")),
            head_repo_full_name=head_repo,
            is_fork=head_repo != (base.get("repo") or {}).get("full_name", self.repository),
            changed_files=int(data.get("changed_files") or 0),
            html_url=data.get("html_url") or "",
            state=data.get("state") or "open",
        )
        return self._pull

    def changed_files(self, limit: int = MAX_PR_FILES) -> list[dict[str, Any]]:
        """`/pulls/{n}/files` items (patch absent for binary and very large files), 100 per
        request. Sets `files_truncated` when the PR has more files than were returned."""
        page = self._paginate(f"{self._pull_path}/files", limit)
        files = [{k: item[k] for k in _FILE_KEYS if k in item} for item in page.items]
        known = self._pull.changed_files if self._pull else 0
        self.files_truncated = page.truncated or known > len(files)
        if self.files_truncated:
            log.warning("listed %d of %s changed files (limit %d; GitHub lists at most %d)",
                        len(files), known or "more", limit, MAX_PR_FILES)
        return files

    def file_at(self, path: str, ref: str) -> str | None:
        """The text of `path` at `ref` (e.g. `.reviewbot.yml` at the BASE sha), None when absent."""
        data = self._contents(path, ref)
        if not isinstance(data, dict) or data.get("type") != "file":
            return None  # a directory, symlink or submodule
        if data.get("encoding") != "base64":
            # The contents API leaves files over 1 MB unencoded (encoding "none").
            raise GitHubError(f"{path} at {ref[:12]} is too large to read through the contents API")
        return base64.b64decode(data.get("content") or "").decode("utf-8", errors="replace")

    def files_at(self, paths: Sequence[str], ref: str) -> dict[str, str | None]:
        """The text of each of `paths` at `ref` in ONE GraphQL request (aliased
        `object(expression: "REF:path")`); None for a path that is absent, binary, not a file,
        or over MAX_FILE_BYTES. The config and the instruction files of a run cost one request."""
        if not paths:
            return {}
        names = list(dict.fromkeys(paths))[:FILES_PER_QUERY]
        params = ", ".join(f"$e{i}: String!" for i in range(len(names)))
        fields = " ".join(f"f{i}: object(expression: $e{i}) {{ ... on Blob {{ text byteSize isBinary }} }}"
                          for i in range(len(names)))
        query = f"query($owner: String!, $name: String!, {params}) {{ repository(owner: $owner, name: $name) {{ {fields} }} }}"
        owner, name = self._repo_path.rsplit("/", 2)[-2:]
        variables: dict[str, Any] = {"owner": owner, "name": name,
                                     **{f"e{i}": f"{ref}:{p}" for i, p in enumerate(names)}}
        _, data = self._request("POST", self._requester.graphql_url, body={"query": query, "variables": variables},
                                query=True)
        repo = ((data or {}).get("data") or {}).get("repository") if isinstance(data, dict) else None
        if not isinstance(repo, dict):
            errors = data.get("errors") if isinstance(data, dict) else None
            raise GitHubError(f"cannot read {', '.join(names)} at {ref[:12]}: "
                              + ("; ".join(str(e.get("message") if isinstance(e, dict) else e) for e in errors or [])[:200]
                                 or "no repository in the GraphQL answer"))
        out: dict[str, str | None] = {}
        for i, path in enumerate(names):
            blob = repo.get(f"f{i}")
            ok = (isinstance(blob, dict) and isinstance(blob.get("text"), str) and not blob.get("isBinary")
                  and int(blob.get("byteSize") or 0) <= MAX_FILE_BYTES)
            out[path] = blob["text"] if ok and isinstance(blob, dict) else None
        return out

    def _contents(self, path: str, ref: str) -> Any:
        """The contents API's answer for `path` at `ref`; None on 404."""
        url = f"{self._repo_path}/contents/{urllib.parse.quote(path, safe='/')}"
        try:
            _, data = self._request("GET", url, params={"ref": ref})
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise
        return data

    def list_dir(self, path: str, ref: str) -> list[str] | None:
        """Names of the files directly in folder `path` at `ref` (one request, up to 1,000
        entries), or None when `path` is not a folder there."""
        data = self._contents(path.strip("/"), ref)
        if not isinstance(data, list):
            return None  # a file, not a folder
        return [str(e["name"]) for e in data if isinstance(e, dict) and e.get("type") == "file"]

    def compare_files(self, base_sha: str, head_sha: str) -> list[str] | None:
        """Files changed from `base_sha` to `head_sha`, or None when that is not knowable
        (force-push: base is no ancestor; unknown commit; too many files): review in full."""
        try:
            _, data = self._request("GET", f"{self._repo_path}/compare/{base_sha}...{head_sha}")
        except GitHubError as exc:
            log.info("compare %s...%s failed (%s): reviewing in full",
                     base_sha[:7], head_sha[:7], exc)
            return None
        if data.get("status") not in ("ahead", "identical"):
            return None
        files = data.get("files") or []
        if len(files) >= MAX_COMPARE_FILES:
            return None
        return [f["filename"] for f in files]

    def existing_fingerprints(self, *, reviews: bool = False) -> set[str]:
        """Fingerprints hidden by earlier runs in our review comments and, with `reviews`, in
        the bodies of our reviews (those with a run marker): where the findings of a review
        GitHub rejected went (422 fallback). Markers others wrote are ignored: they would
        silence findings. Each list costs a request per 100 (once per run: the answer is kept).
        Fills `thumbs_down` and `outdated` on the way."""
        if reviews in self._existing:
            return set(self._existing[reviews])
        comments = self._paginate(f"{self._pull_path}/comments", 100_000).items
        marked = [c for c in comments if extract_fingerprints(c.get("body") or "")]
        found: set[str] = set()
        for comment in self._own(marked, "review comment"):
            prints = extract_fingerprints(comment.get("body") or "")
            found |= prints
            if (comment.get("reactions") or {}).get("-1"):
                self.thumbs_down |= prints
            if comment.get("line") is None and comment.get("position") is None:
                self.outdated |= prints
        if reviews:
            listed = self._paginate(f"{self._pull_path}/reviews", 100_000).items
            marked = [r for r in listed if extract_fingerprints(r.get("body") or "")]
            for review in self._own(marked, "review"):
                body = review.get("body") or ""
                if extract_run_id(body) is not None:
                    found |= extract_fingerprints(body)
        self._existing[reviews] = set(found)
        return found

    def find_summary_comment(self) -> SummaryRef | None:
        """Our issue comment carrying the summary marker (the oldest, if ever more than one).
        One written by anyone else is never ours: neither read nor edited."""
        comments = self._paginate(f"{self._repo_path}/issues/{self.number}/comments", 100_000)
        marked = [c for c in comments.items if is_summary(c.get("body") or "")]
        ours = self._own(marked, "issue comment")
        self._summary = _summary_ref(ours[0]) if ours else None
        self._summary_known = True
        return self._summary

    # --- writes ---------------------------------------------------------------------------

    def post_review(self, payload: ReviewPayload) -> PostResult:
        """POST one review. 422 (GitHub never says which comment it rejected): retry once
        with every comment in the body. 5xx: look for this run's review before posting again."""
        url = f"{self._pull_path}/reviews"
        run_id = extract_run_id(payload.body)
        # The run marker in the body is how a saved review is recognised: without one, never
        # post twice.
        find = (lambda: self._find_review(run_id)) if run_id else None
        try:
            data, recovered = self._post_once(url, payload.to_json(), find)
            self._learn_login(data)
            return PostResult(data["id"], data.get("html_url", ""), len(payload.comments),
                              recovered=recovered)
        except GitHubError as exc:
            if exc.status != 422:
                raise
            reason = f"GitHub rejected the inline comments ({exc.reason})"
            fallback = payload.fallback_all_in_body(reason)
            if fallback == payload:  # nothing to move: it would be rejected again
                raise
            log.warning("review rejected (%s): posting it again, comments in the body", exc.reason)
            data, recovered = self._post_once(url, fallback.to_json(), find)
            self._learn_login(data)
            return PostResult(data["id"], data.get("html_url", ""), 0, in_body=True,
                              recovered=recovered, rejection=exc.reason)

    def upsert_summary(self, body: str) -> str:
        """Edit the summary comment in place, or create it the first time; returns its URL.
        `body` must carry the summary marker, or the next run could not find it."""
        if not is_summary(body):
            raise ValueError("summary body lacks the marker (publish.render_summary_marker)")
        body = _cap_keeping_marker(body)
        ref = self._summary if self._summary_known else self.find_summary_comment()
        if ref is not None:
            try:
                _, data = self._request("PATCH", f"{self._repo_path}/issues/comments/{ref.id}",
                                        body={"body": body})
                return self._remember_summary(data)
            except GitHubError as exc:
                if exc.status != 404:  # 404: deleted since we looked; create it again
                    raise
        data, _ = self._post_once(f"{self._repo_path}/issues/{self.number}/comments",
                                  {"body": body}, self._refind_summary)
        return self._remember_summary(data)

    # --- internals ------------------------------------------------------------------------

    def _find_review(self, run_id: str) -> dict[str, Any] | None:
        # Run ids are public (the Actions tab shows them): a review someone else wrote with
        # ours must not pass for the one GitHub saved.
        reviews = self._paginate(f"{self._pull_path}/reviews", 100_000).items
        same = [r for r in reviews if extract_run_id(r.get("body") or "") == run_id]
        return next(iter(self._own(same, "review")), None)

    def _own(self, items: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
        """Those of `items` (each carrying a marker) that this token's login wrote; the rest
        are counted as ignored. Asks for the login only when there is an item to judge."""
        if not items:
            return []
        login = self.own_login()
        ours = []
        for item in items:
            if authored_by(item.get("user"), login):
                ours.append(item)
            else:
                self._ignored.add((kind, int(item.get("id") or 0)))
        return ours

    def _viewer_login(self) -> str:
        hint = ("name it with --bot-login (REVIEWBOT_BOT_LOGIN): github-actions[bot] for the "
                "workflow's GITHUB_TOKEN, <app-slug>[bot] for a GitHub App, else the token's user")
        try:
            _, data = self._request("POST", self._requester.graphql_url,
                                    body={"query": VIEWER_QUERY}, query=True)
        except GitHubError as exc:
            raise GitHubError(f"cannot tell which login this token posts as: {exc.message}",
                              hint=hint, status=exc.status, reason=exc.reason) from exc
        viewer = (data.get("data") or {}).get("viewer") if isinstance(data, dict) else None
        login = viewer.get("login") if isinstance(viewer, dict) else None
        if not isinstance(login, str) or not _LOGIN.fullmatch(login):
            errors = data.get("errors") if isinstance(data, dict) else None
            detail = "; ".join(str(e.get("message") if isinstance(e, dict) else e)
                               for e in errors or [])[:200] or f"no usable login ({str(login)[:60]!r})"
            raise GitHubError(f"cannot tell which login this token posts as: GraphQL viewer: "
                              f"{' '.join(detail.split())}", hint=hint)
        log.info("this token posts as %s", login)
        return login

    def _learn_login(self, data: dict[str, Any]) -> None:
        """What GitHub answered to our own write names the login we post as: no need to ask."""
        if self._login is None:
            login = (data.get("user") or {}).get("login")
            if isinstance(login, str) and _LOGIN.fullmatch(login):
                self._login = login

    def _refind_summary(self) -> dict[str, Any] | None:
        ref = self.find_summary_comment()
        return {"id": ref.id, "html_url": ref.html_url, "body": ref.body} if ref else None

    def _remember_summary(self, data: dict[str, Any]) -> str:
        self._learn_login(data)
        self._summary = _summary_ref(data)
        self._summary_known = True
        return self._summary.html_url

    def _post_once(
        self, url: str, body: dict[str, Any], find_saved: Callable[[], dict[str, Any] | None] | None
    ) -> tuple[dict[str, Any], bool]:
        """POST something that must exist once. GitHub may save it and still answer 5xx (or
        the connection may drop), so look for it before posting a second and last time; with
        no way to look (`find_saved` None), fail instead. Returns the object and whether it
        was found rather than created."""
        for attempt in (1, 2):
            try:
                _, data = self._request("POST", url, body=body)
                return data, False
            except GitHubError as exc:
                rejected = exc.status is not None and exc.status < 500  # GitHub saved nothing
                if attempt == 2 or find_saved is None or rejected:
                    raise
                self._wait(self.policy.backoff, exc)
                saved = find_saved()
                if saved is not None:
                    log.warning("POST %s failed (%s), but GitHub had saved it",
                                _path(url), exc.message)
                    return saved, True
        raise AssertionError("unreachable")

    def _paginate(self, path: str, limit: int) -> _Page:
        """GET every page (100 items each) by following GitHub's `Link: rel="next"`."""
        page = _Page()
        url: str | None = path
        params: dict[str, Any] | None = {"per_page": _PER_PAGE}
        while url is not None and len(page.items) < limit:
            headers, data = self._request("GET", url, params=params)
            page.items.extend(data or [])
            match = _LINK_NEXT.search(headers.get("link", ""))
            url, params = (match.group(1) if match else None), None  # next link keeps the query
        page.truncated = url is not None or len(page.items) > limit
        del page.items[limit:]
        return page

    def _request(
        self,
        verb: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        query: bool = False,
    ) -> tuple[dict[str, Any], Any]:
        """One logical request, retried on rate limits (GitHub did nothing then) and, unless it
        is a POST (which GitHub may have saved), on 5xx and connection errors. A GraphQL
        `query` is a POST that only reads: retried like a GET."""
        write = verb != "GET" and not query
        retry_failures = verb != "POST" or query
        attempt = 0
        while True:
            attempt += 1
            self.requests_made += 1
            try:
                # The run's own secrets never reach GitHub, whatever a model or the PR put in a body.
                return self._requester.requestJsonAndCheck(verb, url, parameters=params, input=SCRUB.deep(body))
            except GithubException as exc:
                wait = self._rate_limit_wait(exc)
                error = _translate(verb, url, exc, cannot_write=write and wait is None)
                if wait is None and (not retry_failures or exc.status < 500):
                    raise error from exc
            except requests.RequestException as exc:
                error = GitHubError(f"GitHub {verb} {_path(url)}: {type(exc).__name__}: {exc}",
                                    hint="check the network and GITHUB_API_URL")
                wait = None
                if not retry_failures:
                    raise error from exc
            if attempt >= self.policy.attempts:
                raise error
            if wait is None:
                wait = self.policy.backoff * 2 ** (attempt - 1)
            self._wait(wait, error)

    def _rate_limit_wait(self, exc: GithubException) -> float | None:
        """Seconds GitHub asks us to wait, or None when this is not a rate limit. GitHub's
        order: retry-after first, then x-ratelimit-reset when remaining is 0, else a minute."""
        if exc.status not in (403, 429):
            return None
        headers = {k.lower(): str(v) for k, v in (exc.headers or {}).items()}
        retry_after = _retry_after(headers.get("retry-after", ""), self.policy.clock)
        if retry_after is not None:
            return retry_after
        reset = headers.get("x-ratelimit-reset", "")
        if headers.get("x-ratelimit-remaining") == "0" and reset.isdigit():
            # +1: GitHub does not say when within that second the window resets.
            return max(0.0, int(reset) - self.policy.clock()) + 1.0
        if exc.status == 429 or Requester.isRateLimitError(_message(exc)):
            return self.policy.secondary_wait
        return None

    def _wait(self, seconds: float, error: GitHubError) -> None:
        if self._waited + seconds > self.policy.max_total_wait:
            raise GitHubError(
                f"{error.message} (a retry needs {seconds:.0f}s more than the "
                f"{self.policy.max_total_wait:.0f}s wait budget allows)",
                hint="GitHub is rate limiting or failing: re-run the job later",
                status=error.status,
            )
        self._waited += seconds
        self.policy.sleep(seconds)


def _retry_after(value: str, clock: Callable[[], float]) -> float | None:
    """Seconds to wait from a `retry-after` header: delay-seconds or an HTTP-date (RFC 9110
    §10.2.3 allows both), None when absent or unreadable. A date in the past means now. Either
    form is then bounded the same way, by the client's wait budget (`_wait`)."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": an HTTP-date is always GMT
        when = when.replace(tzinfo=timezone.utc)
    # Dates have whole seconds: round up, or the retry may land just before the time given.
    return float(max(0, math.ceil(when.timestamp() - clock())))


def authored_by(user: Any, login: str) -> bool:
    """Whether a comment's or review's `user` is `login`: a Bot for "<slug>[bot]" (what
    GITHUB_TOKEN and GitHub Apps post as), a User otherwise (a personal access token).
    Logins are case-insensitive on GitHub."""
    if not isinstance(user, dict) or not isinstance(user.get("login"), str):
        return False
    kind = "Bot" if login.endswith("[bot]") else "User"
    return user.get("type") == kind and user["login"].casefold() == login.casefold()


def _summary_ref(data: dict[str, Any]) -> SummaryRef:
    body = data.get("body") or ""
    return SummaryRef(id=int(data["id"]), html_url=data.get("html_url", ""), body=body,
                      state=parse_summary_state(body))


def _cap_keeping_marker(body: str) -> str:
    if len(body) <= MAX_BODY:
        return body
    marker = body[body.index("<!-- reviewbot:summary "):]
    marker = marker[: marker.index("-->") + 3] if "-->" in marker else ""
    return cap_body(body, MAX_BODY - len(marker) - 2) + "\n\n" + marker


def _path(url: str) -> str:
    return urllib.parse.urlparse(url).path


def _message(exc: GithubException) -> str:
    data = exc.data
    if isinstance(data, dict):
        # PyGithub wraps a body that is not JSON (a proxy's HTML 502 page) as {"data": text}.
        text = str(data.get("message") or data.get("data") or "")
    else:
        text = str(data or "")
    return " ".join(text.split())[:200]


def _translate(verb: str, url: str, exc: GithubException, *, cannot_write: bool) -> GitHubError:
    """GitHub's answer as one line: status, message and its `errors` details."""
    data = exc.data if isinstance(exc.data, dict) else {}
    details = [e if isinstance(e, str) else str(e.get("message") or e.get("code") or e)
               for e in data.get("errors") or [] if e]
    reason = _message(exc) or "no message"
    if details:
        reason += f" ({'; '.join(details)})"
    text = f"GitHub {verb} {_path(url)}: {exc.status} {reason}"
    if cannot_write and exc.status == 403:
        return CannotWrite(text, hint="the token is read-only (fork pull requests get one): grant "
                           "`pull-requests: write`, or findings go to annotations instead",
                           status=403, reason=reason)
    hint = "check the token and its permissions" if exc.status in (401, 403, 404) else None
    return GitHubError(text, hint=hint, status=exc.status, reason=reason)


__all__ = [
    "DEFAULT_API_URL",
    "CannotWrite",
    "GitHubError",
    "GitHubPR",
    "PostResult",
    "PullInfo",
    "RetryPolicy",
    "SummaryRef",
    "authored_by",
]
