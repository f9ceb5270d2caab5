"""The worker behind `proxx plan`'s probe: `proxx probe`'s worker, minus stills and sound.

The same conversation as `workers.probe` (one ProbeFiles, a ProbeDecision per file,
under the asker's per-file deadline); only the decision differs: a still or an
audio-only file is rejected with what it is (`proxx.content.clipkind`).
"""

from __future__ import annotations

from multiprocessing.connection import Connection

from proxx.content.clipkind import route_for_plan

from .probe import probe_main


def plan_probe_main(conn: Connection) -> None:
    probe_main(conn, route=route_for_plan)
