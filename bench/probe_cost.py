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


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def _median_ms(fn: object, n: int) -> float:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    n = parser.parse_args().repeat
    from proxx.content.media import probe

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "tiny.mov"
        _ffmpeg(
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25:duration=2",
            "-f",
            "lavfi",
            "-i",
            "sine=sample_rate=48000:duration=2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "12",
            "-c:a",
            "pcm_s16le",
            "-timecode",
            "01:00:00:00",
            "-metadata:s:v:0",
            "reel_name=A001",
            str(src),
        )
        cut = Path(tmp) / "cut.mov"
        _ffmpeg("-ss", "1.2", "-i", str(src), "-c", "copy", str(cut))
        imports = [
            float(
                subprocess.run(
                    [sys.executable, "-c", _IMPORT], check=True, capture_output=True, text=True
                ).stdout
            )
            for _ in range(max(3, n // 6))
        ]
        rss = subprocess.run(
            [sys.executable, "-c", _RSS], check=True, capture_output=True, text=True
        ).stdout.strip()
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
                _median_ms(
                    lambda: subprocess.run(
                        [
                            "ffprobe",
                            "-v",
                            "error",
                            "-of",
                            "json",
                            "-show_streams",
                            "-show_format",
                            str(src),
                        ],
                        check=True,
                        capture_output=True,
                    ),
                    max(5, n // 3),
                ),
            ),
        ]
    for name, ms in rows:
        print(f"{name:<48} {ms:8.1f} ms")
    print(f"{'RSS added by loading PyAV':<48} {int(rss) / 1024:8.1f} MiB")


if __name__ == "__main__":
    main()
