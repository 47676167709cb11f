"""Config schema (pure): the JSON Schema of `.reviewbot.yml`, read off the pydantic models;
`config_schema_json()` is the exact text of the committed `reviewbot.schema.json`."""

from __future__ import annotations

import json
from typing import Any, Final

from .model import Config

SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"


def config_schema() -> dict[str, Any]:
    """JSON Schema of `.reviewbot.yml`, for editors (yaml-language-server) and the docs."""
    schema = Config.model_json_schema()
    schema["$schema"] = SCHEMA_DIALECT
    schema["title"] = "reviewbot configuration"
    schema["description"] = "`.reviewbot.yml` at the repository root. Every key is optional; unknown keys are errors."
    return schema


def config_schema_json() -> str:
    """The exact text of the committed `reviewbot.schema.json` (sorted, trailing newline)."""
    # Same bytes as `reviewbot config schema` (json.dumps with indent=2, sort_keys=True).
    return json.dumps(config_schema(), indent=2, sort_keys=True) + "\n"
