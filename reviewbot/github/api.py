"""The pull-request client (I/O): the GitHub REST API for one pull request, over client.py's
retried requests. Reads return plain frozen dataclasses (records.py) and dicts, never PyGithub
objects; writes post one review per run and keep exactly one summary comment. Every GitHub
failure leaves as a GitHubError (a ServiceError) with a one-line message, or CannotWrite when
the token is read-only (errors.py).

Hidden markers (fingerprints, run ids, the summary and its state) are trusted only in comments
and reviews written by the login this token posts as: anyone who can comment can write a
marker. That login is given (`login=`), learnt from our own writes, or asked once per run, and
only when an item carrying a marker has to be judged (see `own_login`)."""

from __future__ import annotations

import base64
import logging
import re
import urllib.parse
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from ..errors import UsageError
from .client import DEFAULT_API_URL, GitHubClient
from .errors import GitHubError
from .graphql import (
    FILES_PER_QUERY,
    LOGIN,
    RESOLVE_MUTATION,
    THREADS_QUERY,
    VIEWER_HINT,
    VIEWER_QUERY,
    files_query,
    read_files,
    read_viewer_login,
    unresolved_threads,
)
from .markers import extract_fingerprints, extract_run_id, is_summary, parse_summary_state
from .records import PostResult, PullInfo, SummaryRef
from .retry import RetryPolicy
from .review import ReviewPayload
from .summary import cap_keeping_marker

log = logging.getLogger(__name__)

# GitHub lists at most 3,000 files for a pull request and 300 for a compare, without a marker.
MAX_PR_FILES = 3000
MAX_COMPARE_FILES = 300
MAX_THUMBS_CHECKED = 20  # 👎'd findings whose reactors are looked up, per run
_FILE_KEYS = (
    "filename",
    "status",
    "previous_filename",
    "additions",
    "deletions",
    "changes",
    "patch",
)


class GitHubPR(GitHubClient):
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
        if login and not LOGIN.fullmatch(login):
            raise UsageError(
                f"the bot login must be a GitHub login, got {login[:60]!r}",
                hint="e.g. github-actions[bot], my-app[bot] or the user of a personal token",
            )
        super().__init__(token, api_url, policy=policy, timeout=timeout)
        self.repository = repository
        self.number = number
        self.files_truncated = False
        self._summary: SummaryRef | None = None
        self._summary_known = False
        self._pull: PullInfo | None = None
        self._login = login or None
        self._ignored: set[tuple[str, int]] = set()
        # Learnt while listing our review comments: findings that someone with write access
        # gave a 👎 (dismissed), and findings whose lines changed in a later commit (GitHub's
        # outdated comments).
        self.thumbs_down: set[str] = set()
        self.outdated: set[str] = set()
        self.outdated_ids: set[int] = set()  # our review comments on lines a later commit changed
        self._existing: dict[bool, set[str]] = {}
        self._writers: dict[str, bool] = {}  # login -> may write to the repository

    def __enter__(self) -> GitHubPR:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
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
            log.warning(
                "listed %d of %s changed files (limit %d; GitHub lists at most %d)",
                len(files),
                known or "more",
                limit,
                MAX_PR_FILES,
            )
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
        owner, name = self._repo_path.rsplit("/", 2)[-2:]
        _, data = self._request(
            "POST", self._requester.graphql_url, body=files_query(owner, name, names, ref), query=True
        )
        return read_files(data, names, ref)

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
            log.info("compare %s...%s failed (%s): reviewing in full", base_sha[:7], head_sha[:7], exc)
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
        disliked: list[tuple[int, set[str]]] = []
        for comment in self._own(marked, "review comment"):
            prints = extract_fingerprints(comment.get("body") or "")
            found |= prints
            if (comment.get("reactions") or {}).get("-1") and isinstance(comment.get("id"), int):
                disliked.append((comment["id"], prints))
            if comment.get("line") is None and comment.get("position") is None:
                self.outdated |= prints
                if isinstance(comment.get("id"), int) and not comment.get("in_reply_to_id"):
                    self.outdated_ids.add(comment["id"])
        if reviews:
            listed = self._paginate(f"{self._pull_path}/reviews", 100_000).items
            marked = [r for r in listed if extract_fingerprints(r.get("body") or "")]
            for review in self._own(marked, "review"):
                body = review.get("body") or ""
                if extract_run_id(body) is not None:
                    found |= extract_fingerprints(body)
        for comment_id, prints in disliked[:MAX_THUMBS_CHECKED]:
            if self._dismissed_by_a_maintainer(comment_id):
                self.thumbs_down |= prints
        self._existing[reviews] = set(found)
        return found

    def _dismissed_by_a_maintainer(self, comment_id: int) -> bool:
        """Whether someone with write access to the repository, other than the PR's author, gave
        this comment a 👎: the author, a stranger or a bot cannot silence a finding (one request for the reactions,
        one per reactor not yet known; a token that may not ask counts as no)."""
        from .errors import GitHubError

        try:
            _, data = self._request(
                "GET",
                f"{self._repo_path}/pulls/comments/{comment_id}/reactions",
                params={"content": "-1", "per_page": 100},
            )
        except GitHubError:
            return False
        logins = [
            r["user"]["login"]
            for r in (data if isinstance(data, list) else [])
            if isinstance(r, dict)
            and r.get("content") == "-1"
            and isinstance(r.get("user"), dict)
            and isinstance(r["user"].get("login"), str)
            and r["user"].get("type") != "Bot"
        ]
        return any(self.may_silence(login) for login in dict.fromkeys(logins[:10]))

    def may_silence(self, login: str) -> bool:
        """Whether `login` may dismiss a finding (👎, `/reviewbot ignore`): write access to the
        repository, and not the PR's author (who can push to a same-repository branch) unless
        the author owns the repository (a personal project has nobody else to ask)."""
        author = (self._pull or self.pull_info()).author.lower()  # the run's listing, else one request
        if login.lower() == author and author != self.repository.split("/", 1)[0].lower():
            return False
        return self.may_write(login)

    def may_write(self, login: str) -> bool:
        """Write (or admin) access to the repository, asked once per login per run."""
        from .errors import GitHubError

        if login not in self._writers:
            try:
                _, data = self._request(
                    "GET", f"{self._repo_path}/collaborators/{urllib.parse.quote(login, safe='')}/permission"
                )
                permission = data.get("permission") if isinstance(data, dict) else None
            except GitHubError:
                permission = None
            self._writers[login] = permission in ("admin", "write")
        return self._writers[login]

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
            return PostResult(data["id"], data.get("html_url", ""), len(payload.comments), recovered=recovered)
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
            return PostResult(
                data["id"], data.get("html_url", ""), 0, in_body=True, recovered=recovered, rejection=exc.reason
            )

    def upsert_summary(self, body: str) -> str:
        """Edit the summary comment in place, or create it the first time; returns its URL.
        `body` must carry the summary marker, or the next run could not find it."""
        if not is_summary(body):
            raise ValueError("summary body lacks the marker (markers.render_summary_marker)")
        body = cap_keeping_marker(body)
        ref = self._summary if self._summary_known else self.find_summary_comment()
        if ref is not None:
            try:
                _, data = self._request("PATCH", f"{self._repo_path}/issues/comments/{ref.id}", body={"body": body})
                return self._remember_summary(data)
            except GitHubError as exc:
                if exc.status != 404:  # 404: deleted since we looked; create it again
                    raise
        data, _ = self._post_once(
            f"{self._repo_path}/issues/{self.number}/comments", {"body": body}, self._refind_summary
        )
        return self._remember_summary(data)

    # --- conversation -----------------------------------------------------------------------

    def review_comment(self, comment_id: int) -> dict[str, Any] | None:
        """One review comment; None when GitHub has none by that id (deleted)."""
        try:
            _, data = self._request("GET", f"{self._repo_path}/pulls/comments/{comment_id}")
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise
        return data if isinstance(data, dict) else None

    def review_comments(self) -> list[dict[str, Any]]:
        return self._paginate(f"{self._pull_path}/comments", 100_000).items

    def reply(self, body: str, thread: int | None = None) -> None:
        """A comment in the thread of review comment `thread`, else in the conversation."""
        url = (
            f"{self._pull_path}/comments/{thread}/replies"
            if thread is not None
            else f"{self._repo_path}/issues/{self.number}/comments"
        )
        _, data = self._request("POST", url, body={"body": body})
        self._learn_login(data if isinstance(data, dict) else {})

    def resolve_threads(self, root_ids: set[int], limit: int = 20) -> int:
        """Resolve the open review threads that start with `root_ids` (GraphQL: one query,
        then one mutation per thread, at most `limit`); how many were resolved."""
        owner, name = self._repo_path.rsplit("/", 2)[-2:]
        variables = {"owner": owner, "name": name, "number": self.number}
        url = self._requester.graphql_url
        _, data = self._request("POST", url, body={"query": THREADS_QUERY, "variables": variables}, query=True)
        done = 0
        for thread in unresolved_threads(data, root_ids)[:limit]:
            _, answer = self._request("POST", url, body={"query": RESOLVE_MUTATION, "variables": {"id": thread}})
            done += bool(isinstance(answer, dict) and not answer.get("errors"))
        return done

    def react(self, comment_id: int, content: str, *, review_comment: bool) -> None:
        kind = "pulls" if review_comment else "issues"
        self._request("POST", f"{self._repo_path}/{kind}/comments/{comment_id}/reactions", body={"content": content})

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
        try:
            _, data = self._request("POST", self._requester.graphql_url, body={"query": VIEWER_QUERY}, query=True)
        except GitHubError as exc:
            raise GitHubError(
                f"cannot tell which login this token posts as: {exc.message}",
                hint=VIEWER_HINT,
                status=exc.status,
                reason=exc.reason,
            ) from exc
        login = read_viewer_login(data)
        log.info("this token posts as %s", login)
        return login

    def _learn_login(self, data: dict[str, Any]) -> None:
        """What GitHub answered to our own write names the login we post as: no need to ask."""
        if self._login is None:
            login = (data.get("user") or {}).get("login")
            if isinstance(login, str) and LOGIN.fullmatch(login):
                self._login = login

    def _refind_summary(self) -> dict[str, Any] | None:
        ref = self.find_summary_comment()
        return {"id": ref.id, "html_url": ref.html_url, "body": ref.body} if ref else None

    def _remember_summary(self, data: dict[str, Any]) -> str:
        self._learn_login(data)
        self._summary = _summary_ref(data)
        self._summary_known = True
        return self._summary.html_url


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
    return SummaryRef(id=int(data["id"]), html_url=data.get("html_url", ""), body=body, state=parse_summary_state(body))


__all__ = ["MAX_COMPARE_FILES", "MAX_PR_FILES", "GitHubPR", "authored_by"]
