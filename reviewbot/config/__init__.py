"""Support (boundary): the `.reviewbot.yml` model. Input: a YAML file, YAML text or nothing,
plus CLI/action overrides and the environment (for default models). Output: a validated,
frozen Config. pydantic lives here and nowhere else in the pipeline; every problem becomes a
one-line ConfigError naming the file and key path, with a "did you mean" for unknown keys.
Pure apart from reading the one file (load.py); imports nothing heavy (no litellm, no PyGithub).

model.py     the pydantic models and the checks on single values
load.py      finding and reading the file, YAML with its size and duplicate-key rules
messages.py  validation, with pydantic's errors turned into one line
text.py      key paths, values and "did you mean" as the messages show them
schema.py    the JSON Schema (the committed reviewbot.schema.json)
defaults.py  default models from the provider keys in the environment
edit.py      overrides by key path; the effective config as YAML, secrets masked
checks.py    run-time checks of the endpoints' transport and key sources"""

from .checks import check_key_sources, check_transport
from .defaults import (
    DEFAULT_MODELS,
    FALLBACK_PROVIDER,
    OLLAMA_DEFAULT_BASE,
    OLLAMA_ENV,
    PROVIDER_ORDER,
    resolve_models,
)
from .edit import config_to_yaml, override
from .load import CONFIG_FILENAMES, MAX_CONFIG_BYTES, find_config_file, load_config
from .model import (
    DEFAULT_INSTRUCTION_FILES,
    FORBIDDEN_KEY_PREFIXES,
    FORBIDDEN_KEY_VARS,
    TIERS,
    AuditConfig,
    BudgetConfig,
    ComplianceRule,
    Config,
    ContextMode,
    ConversationConfig,
    EndpointConfig,
    EnvName,
    FailOn,
    ModelName,
    ModelsConfig,
    PathInstruction,
    Pattern,
    PriceConfig,
    ReviewConfig,
    RiskConfig,
    Severity,
    Tier,
)
from .schema import SCHEMA_DIALECT, config_schema, config_schema_json

__all__ = [
    "CONFIG_FILENAMES",
    "DEFAULT_INSTRUCTION_FILES",
    "DEFAULT_MODELS",
    "FALLBACK_PROVIDER",
    "FORBIDDEN_KEY_PREFIXES",
    "FORBIDDEN_KEY_VARS",
    "MAX_CONFIG_BYTES",
    "OLLAMA_DEFAULT_BASE",
    "OLLAMA_ENV",
    "PROVIDER_ORDER",
    "SCHEMA_DIALECT",
    "TIERS",
    "AuditConfig",
    "BudgetConfig",
    "ComplianceRule",
    "Config",
    "ContextMode",
    "ConversationConfig",
    "EndpointConfig",
    "EnvName",
    "FailOn",
    "ModelName",
    "ModelsConfig",
    "PathInstruction",
    "Pattern",
    "PriceConfig",
    "ReviewConfig",
    "RiskConfig",
    "Severity",
    "Tier",
    "check_key_sources",
    "check_transport",
    "config_schema",
    "config_schema_json",
    "config_to_yaml",
    "find_config_file",
    "load_config",
    "override",
    "resolve_models",
]
