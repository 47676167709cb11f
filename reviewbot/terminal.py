"""Edge: the terminal — progress on standard error (the plan, then a bar or plain lines),
Ctrl-C that ends the process at once with exit 130, click's errors in reviewbot's one-line
format, untrusted text made safe for a terminal, and a process exit that does not spend
seconds tearing litellm's objects down (the process-wide `gc.freeze`, owned here)."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import click

from .textutil import squash


def progress_printer(what: str = "chunks reviewed") -> Any:
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int, spent: float) -> None:
        sys.stderr.write(f"\rreviewbot: {done}/{total} {what}, ${spent:.4f} spent")
        sys.stderr.flush()

    return show


EXIT_INTERRUPTED = 130


@contextmanager
def stop_on_interrupt(audit_log: str | None) -> Iterator[None]:
    """While models are being called, Ctrl-C ends the process at once: one line, exit 130.
    A KeyboardInterrupt would wait for every in-flight request (up to the model timeout: the
    worker threads cannot be interrupted and the pool joins them); ending the process closes
    their connections instead. Nothing is lost: the report was not written yet, and the audit
    log is unbuffered (each finished call's line is already in the file)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        kept = f"; finished calls are in {audit_log}" if audit_log else ""
        _hard_exit(f"reviewbot: interrupted: in-flight model requests cancelled{kept}", EXIT_INTERRUPTED)

    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _hard_exit(line: str, code: int) -> None:
    """Flush what was printed, say `line` on stderr, and end the process without waiting for
    worker threads or interpreter teardown."""
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()
    with suppress(Exception):
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    os._exit(code)


def _terminal_columns(stream: Any) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0


class Progress:
    """Progress on stderr from the first second: the plan before the first model call, then
    chunks done / total, spend so far and an ETA. On a terminal a tqdm bar (its width follows
    the terminal, no colour: NO_COLOR holds); otherwise plain lines, at most about ten."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.bar: Any = None
        self.last_line = -1
        self.started = 0.0
        self.final = ""

    def plan(self, summary: Any) -> None:
        from .textutil import plural
        from .vocab import format_usd

        tiers = ", ".join(f"{n} {tier}" for tier, n in summary.tiers) or "none"
        cost = "unknown (a model has no price)" if summary.estimated_usd is None else format_usd(summary.estimated_usd)
        cap = "no cap" if summary.cap_usd is None else f"cap {format_usd(summary.cap_usd)}"
        self._say(
            f"reviewbot: plan: {plural(summary.files, 'file')} ({tiers}), "
            f"{plural(summary.chunks, 'chunk')} to review, estimated {cost}, {cap}"
        )
        self.started = time.monotonic()
        if self.tty and summary.chunks:
            from tqdm import tqdm

            # The bar follows the terminal's width; a terminal that reports none gets 80 columns.
            sized = _terminal_columns(self.stream) > 0
            self.bar = tqdm(
                total=summary.chunks,
                file=self.stream,
                unit="chunk",
                desc="reviewbot",
                dynamic_ncols=sized,
                ncols=None if sized else 80,
                nrows=None if sized else 24,
                leave=False,
                colour=None,
                bar_format="{desc}: {n_fmt}/{total_fmt} chunks reviewed |{bar}| {postfix} [{elapsed}<{remaining}]",
            )
            self.bar.set_postfix_str(format_usd(0.0) + " spent", refresh=True)

    def update(self, done: int, total: int, spent: float) -> None:
        from .vocab import format_usd

        self.final = f"reviewbot: {done}/{total} chunks reviewed, {format_usd(spent)} spent"
        if self.bar is not None:
            self.bar.set_postfix_str(f"{format_usd(spent)} spent", refresh=False)
            self.bar.update(done - self.bar.n)
            return
        step = max(1, total // 10)
        if done == total or done - self.last_line >= step:
            self.last_line = done
            elapsed = time.monotonic() - self.started
            eta = f", about {elapsed / done * (total - done):.0f} s left" if 0 < done < total else ""
            self._say(f"reviewbot: {done}/{total} chunks reviewed, {format_usd(spent)} spent{eta}")

    def close(self) -> None:
        if self.bar is not None:  # the bar goes; one line stays with where it ended
            self.bar.close()
            self.bar = None
            if self.final:
                self._say(f"{self.final} in {time.monotonic() - self.started:.0f} s")

    def _say(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            self.stream.write(line + "\n")
            self.stream.flush()


def terminal_text(text: str) -> str:
    """Error text may quote a path or a value from the PR: no control or bidi characters."""
    from .render.safe import plain

    return plain(text)


def click_error(exc: click.ClickException) -> tuple[str, str]:
    """A click usage error as our one line + hint; names the REVIEWBOT_* variable when the
    bad value came from one (click would blame an option the user never typed)."""
    from click.core import ParameterSource

    message = squash(exc.format_message())
    ctx = getattr(exc, "ctx", None)
    command = f"reviewbot {ctx.command_path.partition(' ')[2]}".rstrip() if ctx is not None else "reviewbot"
    hint = f"see `{command} --help`"
    param = getattr(exc, "param", None)
    from_env = (
        isinstance(exc, click.BadParameter)
        and ctx is not None
        and param is not None
        and param.name
        and ctx.get_parameter_source(param.name) is ParameterSource.ENVIRONMENT
    )
    envvar = getattr(param, "envvar", None)
    if from_env and isinstance(envvar, str):
        detail = message.partition(": ")[2] or message
        message = f"invalid value in the environment variable {envvar}: {detail}"
        hint = f"fix or unset {envvar} (see `{command} --help`)"
    return message, hint


def quick_teardown() -> None:
    """Make the interpreter's exit take milliseconds, not seconds. After a model call ~3,000
    modules (litellm's import graph) and ~400,000 objects are alive, and the collections the
    interpreter runs while it tears the modules down walk all of them again and again: 1.2-6 s
    measured after the last request (benchmarks/teardown.py). Frozen objects are skipped by
    those collections; files are still flushed and closed and atexit hooks still run."""
    import gc

    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()
    gc.freeze()
