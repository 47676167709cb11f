"""Render stage (pure): one Report as terminal text, JSON, markdown or SARIF — strings only.
`safe` owns turning untrusted text into markdown or terminal text for every format and for
what the GitHub edge posts."""

from .jsonreport import render_json, report_to_dict
from .markdown import MARKDOWN_MAX_CHARS, render_markdown
from .sarif import render_sarif
from .text import render_text

__all__ = ["MARKDOWN_MAX_CHARS", "render_json", "render_markdown", "render_sarif", "render_text", "report_to_dict"]
