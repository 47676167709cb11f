"""Edge: the command line. Reads argv, the environment and files; writes the report to
stdout (or --output), progress and errors to stderr; turns ReviewbotError into one line and
an exit code. Heavy modules (pydantic, litellm, PyGithub) are imported inside commands so
that `reviewbot --help` starts fast."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from . import __version__
from .errors import EXIT_OK, EXIT_SERVICE, EXIT_USAGE, ReviewbotError, UsageError
from .ownkeys import SCRUB, ScrubbedStream
from .session import execute, exit_code, load_effective_config
from .terminal import (
    EXIT_INTERRUPTED,
    Progress,
    click_error,
    progress_printer,
    quick_teardown,
    stop_on_interrupt,
    terminal_text,
)

if TYPE_CHECKING:
    from .config import Config
    from .report import Report

EXIT_INTERNAL = 4
FORMATS = ("text", "json", "markdown", "sarif")
SEVERITIES = ("critical", "high", "medium", "low", "info")

EPILOG = """\b
The model, budget and review options can also be set as REVIEWBOT_<OPTION>
(e.g. REVIEWBOT_FAIL_ON=high); the GitHub Action passes its inputs that way.
Exit codes: 0 done, 1 a finding at or above --fail-on, 2 usage/config/input
error (including a missing API key), 3 nothing was reviewed (every model
call failed, every reply was unusable, or everything was skipped), 4 internal
error, 130 interrupted (Ctrl-C).
Docs: README.md; config schema: `reviewbot config schema`."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.version_option(__version__, prog_name="reviewbot")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """reviewbot: AI code review for pull requests.

    Reviews a diff with a cheap model by default, escalates risky files (auth, crypto,
    SQL, deserialization, CI, migrations, large rewrites) to a frontier model, anchors
    every finding to a diff line and reports the cost per model.

    \b
    Examples:
      reviewbot review --diff change.diff --dry-run
      git diff main... | reviewbot review -
      reviewbot review --git main...HEAD --format json
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _model_options(func: Any, *, review: bool = True) -> Any:
    options = [
        click.option(
            "--config",
            "config_path",
            metavar="PATH",
            envvar="REVIEWBOT_CONFIG",
            help="Config file (default: ./.reviewbot.yml if present).",
        ),
        click.option(
            "--cheap-model",
            multiple=True,
            metavar="MODEL",
            envvar="REVIEWBOT_CHEAP_MODEL",
            help="Cheap-tier model(s), in failover order; repeat the flag. Overrides models.cheap.",
        ),
        click.option(
            "--frontier-model",
            multiple=True,
            metavar="MODEL",
            envvar="REVIEWBOT_FRONTIER_MODEL",
            help="Frontier-tier model(s), in failover order. Overrides models.frontier.",
        ),
        click.option(
            "--summary-model",
            multiple=True,
            metavar="MODEL",
            envvar="REVIEWBOT_SUMMARY_MODEL",
            help="Model(s) for the PR overview, or 'cheap'/'frontier'. Overrides models.summary.",
        ),
        click.option(
            "--budget-usd",
            type=float,
            metavar="USD",
            envvar="REVIEWBOT_BUDGET_USD",
            help="Hard cap on spend for this run. Overrides budget.max_usd.",
        ),
        click.option(
            "--fail-on",
            type=click.Choice((*SEVERITIES, "none")),
            envvar="REVIEWBOT_FAIL_ON",
            help="Exit 1 when a finding is at or above this severity. Overrides review.fail_on.",
        ),
        click.option(
            "--min-severity",
            type=click.Choice(SEVERITIES),
            envvar="REVIEWBOT_MIN_SEVERITY",
            help="Hide findings below this severity (counted in the report). Overrides review.min_severity.",
        ),
        click.option(
            "--concurrency",
            type=click.IntRange(1, 64),
            envvar="REVIEWBOT_CONCURRENCY",
            help="Chunks reviewed in parallel. Overrides review.concurrency.",
        ),
        click.option(
            "--shadow",
            metavar="MODEL",
            envvar="REVIEWBOT_SHADOW",
            help="A second model reviews the same chunks; nothing it finds is posted, the report compares the two (agreement, found alone, cost). Overrides review.shadow.",
        ),
        click.option(
            "--audit-log",
            metavar="FILE",
            envvar="REVIEWBOT_AUDIT_LOG",
            help="Append one JSON line per model request to FILE.",
        ),
        click.option(
            "--dry-run",
            is_flag=True,
            envvar="REVIEWBOT_DRY_RUN",
            help="Plan only: files, tiers, reasons, chunks and estimated cost. Calls no model; needs no key.",
        ),
    ]
    if not review:  # `config show`: only what changes the effective config
        options = options[:9]
    for option in reversed(options):
        func = option(func)
    return func


def _config_options(func: Any) -> Any:
    return _model_options(func, review=False)


def _sources(ctx: click.Context) -> dict[str, str]:
    """Option name -> where its value came from, for values given as a flag or variable."""
    from click.core import ParameterSource

    found: dict[str, str] = {}
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name) if param.name else None
        if source is ParameterSource.ENVIRONMENT and isinstance(param.envvar, str):
            found[str(param.name)] = param.envvar
        elif source is ParameterSource.COMMANDLINE and param.opts:
            found[str(param.name)] = max(param.opts, key=len)
    return found


@cli.command(epilog=EPILOG)
@click.argument("source", required=False, metavar="[DIFF|-]")
@click.option("--diff", "diff_path", metavar="PATH", help="Read the diff from PATH (`-` for standard input).")
@click.option(
    "--git", "git_range", metavar="RANGE", help="Run `git diff RANGE` (e.g. main...HEAD) in the current repository."
)
@_model_options
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help="Report format.")
@click.option("--output", "-o", metavar="FILE", help="Write the report to FILE instead of standard output.")
@click.option("--no-progress", is_flag=True, help="Do not show progress on standard error.")
@click.pass_context
def review(
    ctx: click.Context,
    /,
    source: str | None,
    diff_path: str | None,
    git_range: str | None,
    fmt: str,
    output: str | None,
    no_progress: bool,
    **opts: Any,
) -> None:
    """Review a diff: a file, standard input (`-`), or a git range."""
    from . import sources
    from .diff import parse_diff
    from .render.common import without_status
    from .render.safe import plain
    from .report import not_reviewed_reason

    given = [x for x in (source, diff_path, git_range) if x]
    if len(given) != 1:
        raise UsageError(
            "give exactly one diff source: a file, `-` for standard input, --diff PATH or --git RANGE",
            hint="e.g. `reviewbot review --diff change.diff --dry-run`",
        )
    if git_range:
        data, label = sources.git_diff(git_range), f"git diff {git_range}"
    else:
        path = diff_path or source or "-"
        data = sources.read_stdin() if path == "-" else sources.read_diff_file(path)
        label = "standard input" if path == "-" else path
    config, notes = load_effective_config({**opts, "_sources": _sources(ctx)})
    diff = parse_diff(data)
    rules_file = sources.read_instruction_file(config.review.instruction_files, git_range=git_range)
    wants_context = any(config.review.context_for(t) != "none" for t in ("cheap", "frontier"))
    texts = sources.head_texts(diff.files, git_range=git_range) if wants_context else None
    shown = None if no_progress or opts["dry_run"] else Progress(sys.stderr)
    with stop_on_interrupt(opts["audit_log"]):
        try:
            report = execute(
                diff,
                config,
                source=label,
                notes=notes,
                dry_run=opts["dry_run"],
                audit_log=opts["audit_log"],
                progress=shown.update if shown else None,
                on_plan=shown.plan if shown else None,
                instruction_file=rules_file,
                file_texts=texts,
            )
        finally:
            if shown is not None:
                shown.close()
    emit(render(report, fmt, config), output)
    for warning in report.warnings:  # also on stderr: the report may be going to a file
        click.echo(f"reviewbot: warning: {plain(warning)}", err=True)
    code = exit_code(report, config)
    reason = not_reviewed_reason(report)
    if reason is not None:  # exit 3 says why, in one line, wherever the report went
        click.echo(f"reviewbot: error: not reviewed: {plain(without_status(reason))}", err=True)
        if "no reply was usable" in reason:
            click.echo(
                "hint: the models answered, but not with a usable review: try a stronger model, "
                "or run with --audit-log FILE and audit.include_prompts: true to see the replies",
                err=True,
            )
        else:
            click.echo(
                "hint: check the model settings and keys (`reviewbot config show`), the budget, "
                "or run with --audit-log FILE to see every call",
                err=True,
            )
    ctx.exit(code)


@cli.group()
def config() -> None:
    """Inspect the configuration (.reviewbot.yml)."""


@config.command("schema")
def config_schema_cmd() -> None:
    """Print the JSON Schema of .reviewbot.yml."""
    from .config import config_schema_json

    click.echo(config_schema_json(), nl=False)


@config.command("show", epilog=EPILOG)
@_config_options
@click.pass_context
def config_show_cmd(ctx: click.Context, /, **opts: Any) -> None:
    """Print the effective configuration: the config file (or REVIEWBOT_CONFIG), then the
    options and REVIEWBOT_* variables, then default models; with where each value came from."""
    from .config import config_to_yaml
    from .render.safe import plain

    origins: dict[str, str] = {}
    cfg, notes = load_effective_config({**opts, "_sources": _sources(ctx)}, origins=origins)
    if not origins:
        click.echo("# every value is the default (no config file, option or REVIEWBOT_* variable)")
    else:
        click.echo("# where each value came from (anything not listed is the default):")
        width = max(len(key) for key in origins)
        for key, where in origins.items():
            click.echo(f"#   {key:<{width}}  {plain(where)}")
    for note in notes:
        click.echo(f"# {plain(note)}")
    click.echo(config_to_yaml(cfg), nl=False)


@cli.command(epilog=EPILOG)
@_model_options
@click.option(
    "--pr",
    "pr_number",
    type=int,
    metavar="N",
    envvar="REVIEWBOT_PR_NUMBER",
    help="Pull request number (for workflow_dispatch or local use).",
)
@click.option(
    "--incremental/--full",
    default=None,
    envvar="REVIEWBOT_INCREMENTAL",
    help="Review only files changed since the last reviewed head (default: review.incremental).",
)
@click.option(
    "--require-review",
    is_flag=True,
    envvar="REVIEWBOT_REQUIRE_REVIEW",
    help="Fail (exit 3) instead of skipping when no provider key is available, e.g. on fork PRs.",
)
@click.option(
    "--on-not-reviewed",
    type=click.Choice(("fail", "warn")),
    default="fail",
    show_default=True,
    envvar="REVIEWBOT_ON_NOT_REVIEWED",
    help="When nothing was reviewed (every call failed, every reply unusable, everything skipped): fail the step with exit 3, or only warn.",
)
@click.option(
    "--budget-usd-per-pr",
    "max_usd_per_pr",
    type=click.FloatRange(min=0),
    metavar="USD",
    envvar="REVIEWBOT_BUDGET_USD_PER_PR",
    help="Hard cap on spend per pull request over all runs (the running total is kept in the summary comment). Overrides budget.max_usd_per_pr. When reached, the run reviews nothing and exits 3.",
)
@click.option(
    "--bot-login",
    metavar="LOGIN",
    envvar="REVIEWBOT_BOT_LOGIN",
    help="The login the token posts as: github-actions[bot] (the workflow's GITHUB_TOKEN; the action sets it), <app-slug>[bot] (a GitHub App) or the user of a personal token. Only its comments' hidden markers are trusted. Default: asked from GitHub once, when a marker must be judged.",
)
@click.pass_context
def github(ctx: click.Context, /, **opts: Any) -> None:
    """Review a pull request inside GitHub Actions: one review, one summary comment."""
    from .github.retry import RetryPolicy
    from .github.run import run_action

    # main(obj=RetryPolicy(...)) injects GitHub's retry and write pacing (tests: no sleeping).
    policy = ctx.obj if isinstance(ctx.obj, RetryPolicy) else None
    raise SystemExit(run_action(opts, policy=policy))


@cli.command(
    "eval",
    epilog="""\b
Cases: docs/eval-format.md (YAML/JSONL, or an AACR-Bench folder read in place).
Exit codes: 0 scored, 1 a policy's recall is under --min-recall, 2 usage,
case or config error, 3 no case run produced a review.""",
)
@click.argument("cases", nargs=-1, required=True, metavar="CASES...")
@click.option(
    "--config",
    "configs",
    multiple=True,
    metavar="PATH",
    help="A policy: a config file (routing, models, prompts, budget); repeat to compare. Default: ./.reviewbot.yml or the defaults.",
)
@click.option(
    "--model",
    "models",
    multiple=True,
    metavar="MODEL",
    help="Run each policy with MODEL in every tier; repeat to compare models.",
)
@click.option("--budget-usd", type=float, metavar="USD", help="Hard cap on model spend for the whole evaluation.")
@click.option(
    "--cache",
    "cache",
    metavar="DIR",
    help="Store model replies in DIR (keyed by model and prompt) and reuse them: re-scoring costs nothing.",
)
@click.option("--offline", is_flag=True, help="Only replay replies from --cache; send nothing, need no key.")
@click.option(
    "--head-files",
    "head_files",
    metavar="DIR",
    help="Head versions of the cases' files, as DIR/<case id>/<path>, for review.context (cases with their own head_files keep theirs).",
)
@click.option(
    "--line-tolerance",
    type=click.IntRange(0, 50),
    default=1,
    show_default=True,
    help="A finding within N lines of a label matches it.",
)
@click.option("--match-category", is_flag=True, help="A finding must also have the label's category.")
@click.option(
    "--concurrency", type=click.IntRange(1, 64), default=8, show_default=True, help="Case runs in flight at once."
)
@click.option(
    "--min-recall", type=float, metavar="FRACTION", help="Exit 1 when a policy's recall is under this (e.g. 0.6)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("text", "json", "markdown", "html")),
    default="text",
    show_default=True,
    help="Result format; markdown and html carry the recall-vs-cost chart.",
)
@click.option("--output", "-o", metavar="FILE", help="Write the result to FILE instead of standard output.")
@click.option("--no-progress", is_flag=True, help="Do not show progress on standard error.")
def eval_cmd(
    cases: tuple[str, ...],
    configs: tuple[str, ...],
    models: tuple[str, ...],
    budget_usd: float | None,
    cache: str | None,
    offline: bool,
    head_files: str | None,
    line_tolerance: int,
    match_category: bool,
    concurrency: int,
    min_recall: float | None,
    fmt: str,
    output: str | None,
    no_progress: bool,
) -> None:
    """Score reviews against labelled diffs: recall, precision, noise and cost per policy and model."""
    from .eval import command

    opts = command.EvalOptions(
        cases=cases,
        configs=configs,
        models=models,
        budget_usd=budget_usd,
        cache=cache,
        offline=offline,
        tolerance=line_tolerance,
        match_category=match_category,
        concurrency=concurrency,
        fmt=fmt,
        min_recall=min_recall,
        head_files=head_files,
    )

    def load(path: str | None) -> Config:
        return load_effective_config({"config_path": path})[0]

    progress = None if no_progress else progress_printer("case runs scored")
    result, _ = command.run(opts, load, None, progress=progress)
    if progress is not None:
        sys.stderr.write("\n")
    emit(command.render(result, fmt), output)
    code, reason = command.exit_code(result, min_recall)
    if reason:
        click.echo(f"reviewbot: {'error: ' if code == EXIT_SERVICE else ''}{reason}", err=True)
    raise SystemExit(code)


def render(report: Report, fmt: str, cfg: Config) -> str:
    from . import render as reporters

    if fmt == "json":
        return reporters.render_json(report)
    if fmt == "markdown":
        return reporters.render_markdown(report, min_severity=cfg.review.min_severity)
    if fmt == "sarif":
        return reporters.render_sarif(report)
    return reporters.render_text(report, color=sys.stdout.isatty(), min_severity=cfg.review.min_severity)


def emit(text: str, output: str | None) -> None:
    text = SCRUB(text)
    if output and output != "-":  # `-o -` is standard output, as everywhere else
        try:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text if text.endswith("\n") else text + "\n")
        except OSError as exc:
            raise UsageError(f"cannot write {output}: {exc.strerror}") from exc
    else:
        try:
            click.echo(text, nl=not text.endswith("\n"))
            sys.stdout.flush()
        except OSError as exc:  # a full disk behind `>`, a reader that closed the pipe
            _quiet_stdout()
            raise UsageError(f"cannot write the report to standard output: {exc.strerror or exc}") from exc


def _quiet_stdout() -> None:
    """Point standard output at /dev/null, so the interpreter's last flush of what could not
    be written raises nothing more (one error line, not a second one at exit)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ else 1)
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None, *, obj: object = None) -> None:
    """Console entry point: one line per error, a distinct exit code, no traceback. `obj`
    reaches the commands (`github` takes a github.retry.RetryPolicy from it)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    SCRUB.add_env(os.environ)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = ScrubbedStream(sys.stdout), ScrubbedStream(sys.stderr)
    try:
        code = _main(args, debug, obj)
    finally:
        sys.stdout, sys.stderr = saved
    if argv is None:  # the console script: this process ends now
        quick_teardown()
    raise SystemExit(code)


def _main(args: list[str], debug: bool, obj: object = None) -> int:
    try:
        code = cli.main(args=args, prog_name="reviewbot", standalone_mode=False, obj=obj)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.exceptions.Abort:
        click.echo("reviewbot: aborted", err=True)
        code = EXIT_INTERRUPTED
    except click.ClickException as exc:
        message, hint = click_error(exc)
        click.echo(f"reviewbot: error: {message}", err=True)
        click.echo(f"hint: {hint}", err=True)
        code = EXIT_USAGE
    except ReviewbotError as exc:
        if debug:  # the traceback, and still the exit code that says what happened
            traceback.print_exc()
        click.echo(f"reviewbot: error: {terminal_text(exc.message)}", err=True)
        if exc.hint:
            click.echo(f"hint: {terminal_text(exc.hint)}", err=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        click.echo("reviewbot: interrupted", err=True)
        code = EXIT_INTERRUPTED
    except Exception as exc:  # a bug: one line, the traceback only with --debug
        if debug:
            traceback.print_exc()
        click.echo(f"reviewbot: internal error: {type(exc).__name__}: {exc}", err=True)
        click.echo("hint: run again with --debug for the traceback, and please report it", err=True)
        code = EXIT_INTERNAL
    return code if isinstance(code, int) else EXIT_OK
