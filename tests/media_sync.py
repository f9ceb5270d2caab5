"""Sync-marker sources and an independent A/V offset measurement (issue 21, docs/MEDIA.md §3b).

A marker clip is black with a one-frame white flash at known frames, and silent
with a beep starting at exactly the instant each flash is shown. Both are made
with lavfi, the beep sample-accurately (`aevalsrc` on the sample number `n`,
not a timeline `enable`, which switches only at audio-frame boundaries).

The measurement uses only the system `ffmpeg` and `ffprobe`, never Proxx's code,
and measures what a player shows: edit lists applied (FFmpeg applies them when
demuxing) and both streams on the file's one timeline: `-copyts`, the demuxer's
timestamps as they are. (Without it FFmpeg 5.1's CLI moves a stream decoded on its
own to zero: an MPEG-TS picture read alone starts at 0, not 21 ms after its sound.)
A flash is the `pts_time` of the frame whose mean luma is bright; a beep onset is
the first decoded PCM sample above half the loudest, the decoded audio padded from
the timeline's zero (`aresample=first_pts=0`) so that sample i is at i / rate.
Offset = onset − flash.
"""

from __future__ import annotations

import array
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from testkit import ffprobe

SIZE = "512x288"  # DNxHR LB at half size needs at least 256×120
SECONDS = 4
BEEP_SECONDS = 0.1
H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-bf", "2"]
PCM = ["-c:a", "pcm_s16le"]
AAC = ["-c:a", "aac", "-b:a", "128k"]


@dataclass(frozen=True)
class Marked:
    """One kind of marker source: rate, container and sound, and where the picture starts."""

    rate: Fraction
    suffix: str  # the container, by the file's extension
    audio: tuple[str, ...] = tuple(PCM)
    sample_rate: int = 48000
    lead: Fraction = Fraction(0)  # the picture starts this long after the sound
    extra: tuple[str, ...] = ()  # muxer options (an MPEG-TS start offset)
    beep_shift: int = 0  # frames the beeps come late: the control, deliberately out of sync

    def flash_frames(self) -> tuple[int, int]:
        """The flashes: the frames shown nearest 1 s and 3 s into the picture."""
        return round(self.rate), round(3 * self.rate)


VARIANTS: dict[str, Marked] = {
    "25p-mov-pcm": Marked(Fraction(25), "mov"),
    "23.976-mp4-aac": Marked(Fraction(24000, 1001), "mp4", tuple(AAC)),
    "29.97-mov-pcm": Marked(Fraction(30000, 1001), "mov"),
    "44.1k-aac-mp4": Marked(Fraction(25), "mp4", tuple(AAC), sample_rate=44100),
    # Audio pre-roll (a MOV empty edit): 0.4 s is 10 frames at 25 fps, 9.59 at 23.976.
    "late-picture-25-mov": Marked(Fraction(25), "mov", lead=Fraction(2, 5)),
    "late-picture-23.976-mov": Marked(Fraction(24000, 1001), "mov", lead=Fraction(2, 5)),
    # FFmpeg's MPEG-TS muxer starts at 1.4 s; 10 s more, as a recorder's PCR might.
    "mpegts-start-11.4": Marked(Fraction(25), "ts", tuple(AAC), extra=("-output_ts_offset", "10")),
}
# The control: beeps 2 frames (80 ms) after their flashes.
LATE_BEEPS = Marked(Fraction(25), "mov", beep_shift=2)


def _ffmpeg(*args: str) -> bytes:
    proc = subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        capture_output=True,
        check=True,
    )
    return proc.stdout


def beep_starts(kind: Marked) -> list[int]:
    """The sample numbers at which the beeps start (the flashes' instants, plus any shift)."""
    at = [kind.lead + Fraction(f + kind.beep_shift) / kind.rate for f in kind.flash_frames()]
    return [round(t * kind.sample_rate) for t in at]


def _pictures(kind: Marked) -> str:
    rate = f"{kind.rate.numerator}/{kind.rate.denominator}"
    frames = "+".join(f"eq(n\\,{f})" for f in kind.flash_frames())
    return (
        f"color=black:size={SIZE}:rate={rate}:duration={SECONDS},"
        f"drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='{frames}'"
    )


def _sound(kind: Marked) -> str:
    width = round(BEEP_SECONDS * kind.sample_rate)
    on = "+".join(f"between(n\\,{s}\\,{s + width - 1})" for s in beep_starts(kind))
    # A cosine starts at full amplitude, so the onset is its first sample.
    seconds = SECONDS + kind.lead
    return (
        f"aevalsrc='0.5*({on})*cos(2*PI*1000*t)':s={kind.sample_rate}:c=stereo:d={float(seconds)}"
    )


def marked_source(folder: Path, name: str, kind: Marked) -> Path:
    """A marker clip of `kind` (cached by name in `folder`)."""
    path = folder / f"{name}.{kind.suffix}"
    if path.exists():
        return path
    picture = ["-f", "lavfi", "-i", _pictures(kind)]
    if kind.lead:  # the picture made on its own, then placed late beside the sound
        alone = folder / f"{name}.picture.mov"
        _ffmpeg(*picture, *H264, str(alone))
        picture = ["-itsoffset", str(float(kind.lead)), "-i", str(alone)]
    tc = [] if kind.suffix == "ts" else ["-timecode", "01:00:00:00"]
    _ffmpeg(
        *picture,
        *("-f", "lavfi", "-i", _sound(kind)),
        *("-map", "0:v", "-map", "1:a"),
        *(["-c:v", "copy"] if kind.lead else H264),
        *kind.audio,
        *tc,
        *kind.extra,
        str(path),
    )
    return path


def flash_times(path: Path) -> list[float]:
    """The instants (s, on the file's timeline) of the frames whose mean luma is bright."""
    out = _ffmpeg(
        *("-copyts", "-i", str(path), "-map", "0:v:0"),
        *("-vf", "signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-"),
        *("-f", "null", "-"),
    ).decode()
    # The pts in the stream's timebase (`pts_time` is printed to 6 digits only).
    (stream,) = [s for s in ffprobe(path)["streams"] if s["codec_type"] == "video"]
    tb = Fraction(stream["time_base"])
    times, when = [], 0.0
    for line in out.splitlines():
        if "pts_time:" in line:
            when = float(int(line.split("pts:", 1)[1].split()[0]) * tb)
        elif line.startswith("lavfi.signalstats.YAVG=") and float(line.split("=")[1]) > 128:
            times.append(when)
    return times


def beep_onsets(path: Path) -> list[float]:
    """The instants (s, on the file's timeline) at which each beep starts, to one sample."""
    (audio,) = [s for s in ffprobe(path)["streams"] if s["codec_type"] == "audio"]
    rate = int(audio["sample_rate"])
    raw = _ffmpeg(
        *("-copyts", "-i", str(path), "-map", "0:a:0"),
        # Pad from the timeline's zero: sample i of the output is at i / rate.
        *("-af", "aresample=first_pts=0,pan=mono|c0=c0", "-f", "f32le", "-"),
    )
    samples = array.array("f")
    samples.frombytes(raw)
    threshold = max(abs(x) for x in samples) / 2
    onsets: list[float] = []
    quiet_until = -1
    for i, x in enumerate(samples):
        if i > quiet_until and abs(x) > threshold:
            onsets.append(i / rate)
            quiet_until = i + rate // 2  # the beep and its decay: 0.5 s
    return onsets


def offsets(path: Path) -> list[float]:
    """Each beep's onset minus its flash's instant, in seconds (positive: sound late)."""
    flashes, beeps = flash_times(path), beep_onsets(path)
    assert len(flashes) == len(beeps) == 2, (path.name, flashes, beeps)
    return [b - f for f, b in zip(flashes, beeps, strict=True)]
