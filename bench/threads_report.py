"""What `bench.threads` found per profile, and the Markdown tables it is shown in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.common import fmt_s, median
from bench.runner import SIMD_LEVELS

THREADS = (1, 2, 4, 8)


@dataclass
class ProfileResult:
    profile: str
    encoder: str
    chosen: str
    speed: dict[int, list[float]] = field(default_factory=dict)  # threads → wall seconds
    cpu: dict[int, list[float]] = field(default_factory=dict)  # threads → CPU seconds
    sizes: dict[int, set[int]] = field(default_factory=dict)  # of the speed clip's outputs
    speed_hashes: dict[int, set[str]] = field(default_factory=dict)
    by_threads: dict[int, set[str]] = field(default_factory=dict)  # small clip, each count
    alone: list[str] = field(default_factory=list)
    paired: list[str] = field(default_factory=list)
    one_cpu: list[str] = field(default_factory=list)
    simd: dict[str, str] = field(default_factory=dict)  # SIMD level → hash
    watch: dict[int, list[str]] = field(default_factory=dict)  # --max-workers → hashes

    def stable(self) -> bool:
        return len(set(self.alone) | set(self.paired) | set(self.one_cpu)) == 1

    def watch_stable(self) -> bool:
        """Proxx itself, at every --max-workers, made the bytes its bare argv makes."""
        return set(h for hs in self.watch.values() for h in hs) <= set(self.alone[:1])

    def simd_stable(self) -> bool:
        return set(self.simd.values()) <= set(self.alone[:1])

    def raw(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "encoder": self.encoder,
            "chosen": self.chosen,
            "speed": self.speed,
            "cpu": self.cpu,
            "sizes": {n: sorted(s) for n, s in self.sizes.items()},
            "speed_hashes": {n: sorted(s) for n, s in self.speed_hashes.items()},
            "by_threads": {n: sorted(s) for n, s in self.by_threads.items()},
            "alone": self.alone,
            "paired": self.paired,
            "one_cpu": self.one_cpu,
            "simd": self.simd,
            "watch": self.watch,
        }


def watch_cell(r: ProfileResult, workers: int) -> str:
    got = r.watch.get(workers, [])
    same = set(got) <= set(r.alone[:1])
    return f"{len(got)} runs, {'same bytes' if same else 'OTHER BYTES'}"


def tables(results: list[ProfileResult]) -> str:
    """Markdown tables, as they go into docs/BENCHMARKS.md."""
    return "\n".join([*_stability_table(results), *_speed_table(results)]) + "\n"


def _stability_table(results: list[ProfileResult]) -> list[str]:
    levels = list(SIMD_LEVELS)
    out = [
        "| profile | encoder | Proxx's threading | alone | two at once | one CPU | stable | "
        f"same bytes with only {' / '.join(levels)} | `proxx watch` -w 1 / -w 2 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.alone:
            out.append(
                f"| `{r.profile}` | {r.encoder} | `{r.chosen}` | "
                f"{len(r.alone)} runs, {len(set(r.alone))} hash | "
                f"{len(r.paired)} runs, {len(set(r.paired))} hash | "
                f"{len(r.one_cpu)} runs, {len(set(r.one_cpu))} hash | "
                f"{'yes' if r.stable() else 'NO'} | "
                + " / ".join(
                    "yes" if r.simd.get(lv) == r.alone[0] else "NO" for lv in levels if lv in r.simd
                )
                + " | "
                + " / ".join(watch_cell(r, w) for w in (1, 2))
                + " |"
            )
    return out


def _speed_table(results: list[ProfileResult]) -> list[str]:
    out = [
        "",
        "| profile | "
        + " | ".join(f"{n} thr: wall (cores used)" for n in THREADS)
        + " | distinct outputs per count | sizes (kB) |",
        "|---|" + "---|" * (len(THREADS) + 2),
    ]
    for r in results:
        if not r.speed:
            continue
        cells = []
        for n in THREADS:
            w, c = median(r.speed[n]), median(r.cpu[n])
            cells.append(f"{fmt_s(w)} ({c / w:.2f})")
        hashes = r.by_threads or r.speed_hashes
        distinct = " / ".join(str(len(hashes.get(n, ()))) for n in THREADS)
        every = {h for n in THREADS for h in hashes.get(n, ())}
        sizes = " / ".join(f"{min(r.sizes[n]) / 1000:.0f}" for n in THREADS)
        out.append(
            f"| `{r.profile}` | "
            + " | ".join(cells)
            + f" | {distinct} ({len(every)} in all) | {sizes} |"
        )
    return out
