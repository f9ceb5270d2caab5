"""`proxx probe FILE…`: the routing decision for each file, exactly as a job would make it."""

from __future__ import annotations

import os

from proxx.content.routing import route_source


def probe_report(paths: list[str]) -> list[dict[str, str | None]]:
    """One row per path: absolute path, engine (None when rejected) and the reason."""
    rows: list[dict[str, str | None]] = []
    for path in paths:
        decision = route_source(os.path.abspath(path))
        rows.append(
            {
                "path": decision.path,
                "engine": decision.engine.value if decision.engine is not None else None,
                "reason": decision.reason,
            }
        )
    return rows
