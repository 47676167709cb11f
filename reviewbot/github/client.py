"""The HTTP layer under the pull-request client (I/O): PyGithub's Requester with our own
retries, pagination and the one-time POST. `requests_made` counts every HTTP request sent,
retries included.

Retries are ours, not urllib3's: PyGithub's GithubRetry retries a 5xx POST (GitHub may have
saved the review: a duplicate), sleeps whatever Retry-After says with no cap, fails a bare 429
at once, and retries below PyGithub where they cannot be counted. So the Github instance gets
retry=0 and `_request` retries reads (5xx, connection errors, rate limits) and retries writes
only when GitHub rate-limited them (then nothing was saved), all within one wait budget."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from github import Auth, Github, GithubException
from github.Requester import Requester

from .. import __version__
from ..ownkeys import SCRUB
from .errors import GitHubError, translate, url_path
from .retry import RetryPolicy, rate_limit_wait

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"
_PER_PAGE = 100  # the largest page GitHub serves
_LINK_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


@dataclass
class Page:
    items: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False


class GitHubClient:
    """Authenticated requests to one GitHub API (GitHub Enterprise works by `api_url` alone:
    https://ghe.example.com/api/v3), retried within one wait budget."""

    def __init__(
        self, token: str, api_url: str = DEFAULT_API_URL, *, policy: RetryPolicy | None = None, timeout: int = 30
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.requests_made = 0
        self._waited = 0.0
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
                    log.warning("POST %s failed (%s), but GitHub had saved it", url_path(url), exc.message)
                    return saved, True
        raise AssertionError("unreachable")

    def _paginate(self, path: str, limit: int) -> Page:
        """GET every page (100 items each) by following GitHub's `Link: rel="next"`."""
        page = Page()
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
                wait = rate_limit_wait(exc, self.policy)
                error = translate(verb, url, exc, cannot_write=write and wait is None)
                if wait is None and (not retry_failures or exc.status < 500):
                    raise error from exc
            except requests.RequestException as exc:
                error = GitHubError(
                    f"GitHub {verb} {url_path(url)}: {type(exc).__name__}: {exc}",
                    hint="check the network and GITHUB_API_URL",
                )
                wait = None
                if not retry_failures:
                    raise error from exc
            if attempt >= self.policy.attempts:
                raise error
            if wait is None:
                wait = self.policy.backoff * 2 ** (attempt - 1)
            self._wait(wait, error)

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


__all__ = ["DEFAULT_API_URL", "GitHubClient", "Page"]
