"""Compliance judges every path a file carries: a renamed file whose OLD path is locked to
local models never reaches a cloud model, in the plan a dry run shows and in a real run."""

from __future__ import annotations

from reviewbot.config import Config
from reviewbot.cost import Pricer
from reviewbot.diff import parse_diff
from reviewbot.pipeline import plan_review

RENAME_OUT_OF_LOCKED = b"""\
diff --git a/secure/crypto.py b/lib/crypto.py
similarity index 90%
rename from secure/crypto.py
rename to lib/crypto.py
index 1111111..2222222 100644
--- a/secure/crypto.py
+++ b/lib/crypto.py
@@ -1,3 +1,3 @@
 import hmac
-KEY_ROUNDS = 100_000
+KEY_ROUNDS = 1_000
 def derive(p): return p
"""


def test_a_file_renamed_out_of_a_locked_folder_is_routed_by_its_old_path() -> None:
    cfg = Config.model_validate(
        {
            "models": {"cheap": ["openai/gpt-4.1-mini"], "frontier": ["anthropic/claude-opus-4-1"]},
            "compliance": [{"paths": ["secure/**"], "allow": "local"}],
        }
    )
    plan = plan_review(parse_diff(RENAME_OUT_OF_LOCKED), cfg, source="test", pricer=Pricer(cfg.prices))
    [route] = plan.routes
    assert route.chunk.files == ("lib/crypto.py",)
    assert route.chunk.group == "rule1"
    assert route.models == ()  # no local model configured: blocked, never a cloud fallback
    assert route.blocked is not None and "local" in route.blocked
