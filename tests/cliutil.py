"""Run the CLI in-process the way the console script does, for tests."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from reviewbot.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], argv: Sequence[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `reviewbot ARGV`."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0), out, err
