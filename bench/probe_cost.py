"""What probing costs now that it runs in-process (PyAV) instead of an ffprobe per file.

    .venv/bin/python -m bench.probe_cost [--repeat N]

Prints medians: the PyAV import in a fresh interpreter, one probe of a tiny
source (2 s 640×360 H.264 + PCM MOV, timecode, reel), one probe of a
copy-trimmed clip (its packets are read to apply the edit list), the same
file through the `ffprobe` process Proxx used before, and the RSS a process
gains by loading PyAV. Standalone: not part of `./dev bench`'s table.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import testkit

_IMPORT = (
    "import time; t = time.perf_counter(); import proxx.content.libav; "
    "print(time.perf_counter() - t)"
)
_RSS = """
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
before = rss()
import proxx.content.libav
print(rss() - before)
"""


def _median_ms(fn: object, n: int) -> float:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def _sources(tmp: Path) -> tuple[Path, Path]:
    """The tiny source (H.264, 12-frame GOP, PCM, timecode, reel) and a copy-trimmed cut of it."""
    src = testkit.make_clip(
        tmp / "tiny.mov",
        size="640x360",
        seconds=2.0,
        vcodec=["-c:v", "libx264", "-preset", "ultrafast", "-g", "12"],
        audio_channels=1,
        reel="A001",
    )
    cut = tmp / "cut.mov"
    argv = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-ss", "1.2", "-i", str(src)]
    subprocess.run([*argv, "-c", "copy", str(cut)], check=True)
    return src, cut


def _in_fresh_interpreter(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    n = parser.parse_args().repeat
    from proxx.content.probe import probe

    with tempfile.TemporaryDirectory() as tmp:
        src, cut = _sources(Path(tmp))
        imports = [float(_in_fresh_interpreter(_IMPORT)) for _ in range(max(3, n // 6))]
        rss = _in_fresh_interpreter(_RSS)
        probe(str(src))  # the import and first-call set-up, once, as a worker pays them
        rows = [
            (
                "import proxx.content.libav (PyAV), fresh interpreter",
                statistics.median(imports) * 1000,
            ),
            ("probe: tiny source", _median_ms(lambda: probe(str(src)), n)),
            ("probe: copy-trimmed source (packets read)", _median_ms(lambda: probe(str(cut)), n)),
            (
                "ffprobe process, same tiny source",
                _median_ms(lambda: testkit.ffprobe(src), max(5, n // 3)),
            ),
        ]
    for name, ms in rows:
        print(f"{name:<48} {ms:8.1f} ms")
    print(f"{'RSS added by loading PyAV':<48} {int(rss) / 1024:8.1f} MiB")


if __name__ == "__main__":
    main()
