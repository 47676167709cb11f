"""The judge for everything reviewbot posts: render it as GitHub would (CommonMark + GFM
tables, via markdown-it-py) and assert that nothing live survives outside code — no
@-mention, image, raw HTML other than reviewbot's own few tags, no script link — and that
the only hidden markers are the ones reviewbot itself writes."""

from __future__ import annotations

import re

from reviewbot.render.safe import unsafe_nodes

# reviewbot's own markup: <details>/<summary> sections, <sub> footers, <b> in summaries, and
# its hidden markers (the summary state, a run id, fingerprints) — nothing else.
OWN_HTML = (
    r"<details( open)?>",
    r"</details>",
    r"<summary>.*</summary>",
    r"<details( open)?><summary>.*",
    r"</?summary>",
    r"</?sub>",
    r"</?b>",
    r"<!-- reviewbot:summary \{[^<>]*\} -->",
    r"<!-- reviewbot:run:[0-9A-Za-z_.-]+ -->",
    r"<!-- reviewbot:fp:[0-9A-Za-z_-]+ -->",
    r"<!-- reviewbot:reply -->",
)
_MARKERS = re.compile(r"<!-- reviewbot:(summary|run|fp|reply)")


def assert_inert(text: str, *, max_markers: int | None = None) -> None:
    """Nothing in `text` pings, embeds or executes; at most `max_markers` hidden markers."""
    problems = unsafe_nodes(text, OWN_HTML)
    assert problems == [], f"live markup in what reviewbot posts: {problems[:5]}"
    if max_markers is not None:
        found = len(_MARKERS.findall(text))
        assert found <= max_markers, f"{found} hidden markers, expected at most {max_markers}"
