"""Hard source kinds (issue 13): copy-trimmed, variable-rate and interlaced sources.

Each source is made here with FFmpeg (tiny), rendered by the real `proxx run`,
and the proxy is checked against the source with the system `ffprobe` and
FFmpeg's own filters — never with Proxx's probe or verification code.
The rules checked are the ones docs/MEDIA.md documents.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from testkit import ffprobe, run_cli, video

STANDARD = [
    Fraction(24000, 1001),
    Fraction(24),
    Fraction(25),
    Fraction(30000, 1001),
    Fraction(30),
    Fraction(48),
    Fraction(50),
    Fraction(60000, 1001),
    Fraction(60),
]
H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


def ffmpeg(*args: str) -> str:
    proc = subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", *args], capture_output=True, text=True, check=True
    )
    return proc.stderr


def made(cache: Path, name: str, *args: str) -> Path:
    path = cache / name
    if not path.exists():
        ffmpeg("-loglevel", "error", "-y", *args, str(path))
    return path


def timecode(info: dict[str, Any]) -> str | None:
    for s in info["streams"]:
        if "timecode" in s.get("tags", {}):
            return str(s["tags"]["timecode"])
    return None


def packets(path: Path | str) -> int:
    return int(video(ffprobe(path, "-count_packets"))["nb_read_packets"])


def shown_pts(path: Path) -> list[int]:
    """Timestamps of the pictures ffprobe decodes (edit list applied), in stream units."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=pts",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # A frame with side data prints extra (empty) columns: the pts is the first.
    firsts = (line.split(",")[0] for line in out.split())
    return sorted(int(x) for x in firsts if x.lstrip("-").isdigit())


def timeline_frames(path: Path) -> int:
    """Frames from the first to the last shown picture at the stream's rate (holes counted)."""
    v = video(ffprobe(path))
    pts = shown_pts(path)
    step = Fraction(v["time_base"]) ** -1 / Fraction(v["r_frame_rate"])
    return round((pts[-1] - pts[0]) / step) + 1


def run_job(tmp: Path, source: Path, name: str = "job", **spec: Any) -> dict[str, Any]:
    out = tmp / f"{name}_out"
    out.mkdir()
    doc = {
        "jobspec_version": "1.0.0",
        "created_at": "2026-01-15T09:30:00+01:00",
        "sources": [str(source)],
        "output_dir": str(out),
        "output_name_template": "{source_name}_proxy",
        "codec": "h264",
        "container": "mov",
        "fps_mode": "preserve_source",
        "proxy_profile": "proxy_h264_low",
        **spec,
    }
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(doc))
    proc = run_cli("run", str(path))
    result: dict[str, Any] = json.loads(proc.stdout)
    assert proc.returncode == 0, (result["validation_error"], result["clips"])
    clip: dict[str, Any] = result["clips"][0]
    return clip


# -- edit lists --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gop_sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """2 s at 25 fps, a keyframe every 12 frames, B-frames, timecode and sound (MOV and MP4)."""
    cache = tmp_path_factory.mktemp("gop")
    base = [
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=128x72:rate=25:duration=2",
        "-f",
        "lavfi",
        "-i",
        "sine=sample_rate=48000:duration=2",
        *H264,
        "-g",
        "12",
        "-bf",
        "2",
        "-timecode",
        "01:00:00:00",
    ]
    return {
        "mov": made(cache, "gop.mov", *base, "-c:a", "pcm_s16le"),
        "mp4": made(cache, "gop.mp4", *base, "-c:a", "aac"),
    }


TRIMS = {
    # Like an iPhone trim or a lossless cutter: 1.2 s is not a keyframe (0.96 s is).
    "start": ["-ss", "1.2"],
    # Start and end both mid-GOP; cutting the end in decode order drops a B-frame
    # whose picture lies inside the kept range: a hole the proxy must fill.
    "start-and-end": ["-ss", "0.3", "-t", "1.0"],
}


@pytest.mark.parametrize("ext", ["mov", "mp4"])
@pytest.mark.parametrize("trim", list(TRIMS))
def test_a_copy_trimmed_clip_gets_the_frames_a_player_shows(
    gop_sources: dict[str, Path],
    tmp_path: Path,
    ext: str,
    trim: str,
) -> None:
    cut = tmp_path / f"cut_{trim}.{ext}"
    ffmpeg("-loglevel", "error", *TRIMS[trim], "-i", str(gop_sources[ext]), "-c", "copy", str(cut))
    stored = int(video(ffprobe(cut))["nb_frames"])
    shown = len(shown_pts(cut))
    assert shown < stored  # control: the edit list really hides frames here

    clip = run_job(tmp_path, cut)

    proxy = Path(clip["output_path"])
    assert packets(proxy) == timeline_frames(cut) == timeline_frames(proxy)
    assert video(ffprobe(proxy))["r_frame_rate"] == "25/1"
    assert timecode(ffprobe(proxy)) == timecode(ffprobe(cut)) == "01:00:00:00"
    assert clip["fidelity"]["source"]["frames"] == clip["fidelity"]["proxy"]["frames"]
    assert any("edit list" in n for n in clip["fidelity"]["notes"])
    if trim == "start":
        assert packets(proxy) == shown == 20  # 0.8 s at 25 fps, no hole


def _empty_elst(src: Path, dst: Path) -> Path:
    """`src` with its video edit list emptied (entry count 0: the box stays, with no edits)."""
    data = bytearray(src.read_bytes())
    at = data.find(b"elst")
    assert at > 0 and int.from_bytes(data[at + 8 : at + 12], "big") == 1
    data[at + 8 : at + 12] = (0).to_bytes(4, "big")
    dst.write_bytes(bytes(data))
    return dst


def test_an_edit_list_that_ends_early_hides_the_tail(
    gop_sources: dict[str, Path],
    tmp_path: Path,
) -> None:
    # The same 2 s clip, its edit shortened to 1 s: what an NLE's "trim end" exports.
    data = bytearray(gop_sources["mov"].read_bytes())
    at = data.find(b"elst")
    duration = int.from_bytes(data[at + 12 : at + 16], "big")
    data[at + 12 : at + 16] = (duration // 2).to_bytes(4, "big")
    src = tmp_path / "tail_cut.mov"
    src.write_bytes(bytes(data))
    shown = len(shown_pts(src))
    assert (int(video(ffprobe(src))["nb_frames"]), shown) == (50, 25)

    clip = run_job(tmp_path, src)

    assert packets(clip["output_path"]) == shown
    assert clip["fidelity"]["proxy"]["frames"] == 25


def test_a_camera_prores_clip_trimmed_at_both_ends_by_its_edit_list(
    clip_cache: Path,
    tmp_path: Path,
) -> None:
    # Intra-only (ProRes): Proxx counts from the index, without reading the packets.
    src = made(
        clip_cache,
        "prores_edit.mov",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=128x72:rate=25:duration=2",
        "-c:v",
        "prores_ks",
        "-profile:v",
        "0",
        "-use_editlist",
        "1",
        "-timecode",
        "01:00:00:00",
    )
    data = bytearray(src.read_bytes())
    at = data.find(b"elst")
    data[at + 12 : at + 16] = (1000).to_bytes(4, "big")  # 1 s (movie timescale 1000) …
    data[at + 16 : at + 20] = (5 * 512).to_bytes(4, "big")  # … from frame 5 (12800 / 25)
    trimmed = tmp_path / "prores_trimmed.mov"
    trimmed.write_bytes(bytes(data))
    shown = len(shown_pts(trimmed))
    assert (int(video(ffprobe(trimmed))["nb_frames"]), shown) == (50, 25)

    clip = run_job(tmp_path, trimmed, codec="prores_proxy", proxy_profile="proxy_prores_proxy")

    assert packets(clip["output_path"]) == shown
    assert clip["fidelity"]["source"]["frames"] == 25


def test_an_empty_or_absent_edit_list_means_every_stored_frame(
    gop_sources: dict[str, Path],
    tmp_path: Path,
) -> None:
    absent = tmp_path / "no_edit_list.mp4"
    ffmpeg(
        "-loglevel",
        "error",
        "-i",
        str(gop_sources["mp4"]),
        "-c",
        "copy",
        "-use_editlist",
        "0",
        str(absent),
    )
    empty = _empty_elst(gop_sources["mov"], tmp_path / "empty_edit_list.mov")
    for source in (absent, empty):
        assert int(video(ffprobe(source))["nb_frames"]) == 50
        clip = run_job(tmp_path, source, name=source.stem)
        assert packets(clip["output_path"]) == 50
        assert clip["fidelity"]["notes"] == []


@pytest.mark.parametrize(
    ("container", "codec", "profile", "frames"),
    [
        ("mov", "h264", "proxy_h264_low", 25),  # the proxy keeps its own edit list
        ("mxf", "dnxhr_lb", "proxy_dnxhr_lb", 35),  # no edit lists: 10 held frames, sync kept
    ],
)
def test_a_picture_that_starts_after_the_sound_keeps_its_place(
    tmp_path: Path,
    clip_cache: Path,
    container: str,
    codec: str,
    profile: str,
    frames: int,
) -> None:
    # A MOV "empty edit": sound from 0 s, picture from 0.4 s (pre-roll audio).
    pic = made(
        clip_cache,
        "late_pic.mov",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=512x288:rate=25:duration=1",
        *H264,
    )
    snd = made(
        clip_cache, "late_snd.wav", "-f", "lavfi", "-i", "sine=sample_rate=48000:duration=1.4"
    )
    src = made(
        clip_cache,
        "late_start.mov",
        "-itsoffset",
        "0.4",
        "-i",
        str(pic),
        "-i",
        str(snd),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-c:v",
        "copy",
        "-c:a",
        "pcm_s16le",
        "-timecode",
        "01:00:00:00",
    )
    assert float(video(ffprobe(src))["start_time"]) == pytest.approx(0.4)

    clip = run_job(tmp_path, src, codec=codec, container=container, proxy_profile=profile)

    proxy = ffprobe(clip["output_path"], "-count_packets")
    assert int(video(proxy)["nb_read_packets"]) == frames
    (audio,) = [s for s in proxy["streams"] if s["codec_type"] == "audio"]
    picture_start = float(video(proxy)["start_time"]) + (frames - 25) / 25
    # The picture still starts 0.4 s after the sound: lip sync as in the source.
    assert picture_start - float(audio["start_time"]) == pytest.approx(0.4, abs=0.001)


# -- variable frame rate -----------------------------------------------------------------
VFR = {
    # A phone clip whose rate changes: 45 frames at 30 fps, then 24 frames at 24 fps.
    "rate-change": (
        "testsrc2=size=128x72:rate=30:duration=3",
        "settb=1/600,setpts='if(lt(N,45),N*20,900+(N-45)*25)'",
        69,
    ),
    # Timestamps wobbling ±4 ms around 30 fps.
    "jitter": (
        "testsrc2=size=128x72:rate=30:duration=1",
        "settb=1/600,setpts='N*20+if(N,if(mod(N,3),2,-2),0)'",
        30,
    ),
    # A screen capture that freezes: 15 frames, nothing for 1 s, 15 frames.
    "long-freeze": (
        "testsrc2=size=128x72:rate=30:duration=1",
        "settb=1/600,setpts='if(lt(N,15),N*20,600+N*20)'",
        30,
    ),
}


def _expected_rate(v: dict[str, Any]) -> Fraction:
    """docs/MEDIA.md's VFR rule, from ffprobe's numbers."""
    nominal, average = Fraction(v["r_frame_rate"]), Fraction(v["avg_frame_rate"])
    if nominal == average or nominal in STANDARD:
        return nominal
    return min(STANDARD, key=lambda r: (abs(r - average), r))


@pytest.mark.parametrize("kind", list(VFR))
def test_a_variable_rate_source_becomes_a_standard_constant_rate_of_the_same_length(
    clip_cache: Path,
    tmp_path: Path,
    kind: str,
) -> None:
    lavfi, setpts, frames = VFR[kind]
    src = made(
        clip_cache,
        f"vfr_{kind}.mp4",
        "-f",
        "lavfi",
        "-i",
        lavfi,
        "-vf",
        setpts,
        "-frames:v",
        str(frames),
        "-fps_mode",
        "passthrough",
        "-video_track_timescale",
        "600",
        *H264,
    )
    v_in = video(ffprobe(src, "-count_packets"))
    assert int(v_in["nb_read_packets"]) == frames
    duration = Fraction(v_in["duration"])

    clip = run_job(tmp_path, src)

    v_out = video(ffprobe(clip["output_path"], "-count_packets"))
    rate = Fraction(v_out["r_frame_rate"])
    assert rate == Fraction(v_out["avg_frame_rate"]) == _expected_rate(v_in)  # constant
    assert rate in STANDARD  # never an exotic rate from a timebase
    assert abs(int(v_out["nb_read_packets"]) - duration * rate) <= 1  # same duration
    if Fraction(v_in["r_frame_rate"]) != Fraction(v_in["avg_frame_rate"]):
        assert any("variable frame rate" in n for n in clip["fidelity"]["notes"])


def test_the_vfr_rule_never_keeps_a_rate_guessed_from_a_timebase() -> None:
    # libav's guess for a 30→24 fps phone clip can be the timebase multiple 120;
    # the average (≈ 27.7) decides, among standard rates only. (A real file whose
    # guess is 120 could not be made here: FFmpeg 5.1 and 8 both guess 30 for ours.)
    from proxx.content.media import parse_probe_json

    facts = parse_probe_json(
        "/m/phone.mov",
        {
            "streams": [
                {
                    "codec_type": "video",
                    "codec_name": "hevc",
                    "width": 1920,
                    "height": 1080,
                    "r_frame_rate": "120/1",
                    "avg_frame_rate": "1035/37",
                    "duration": "2.466667",
                    "nb_frames": "69",
                }
            ],
            "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "2.466667"},
        },
    )

    assert facts.conform_rate() == Fraction(30000, 1001)
    assert facts.frame_count_at_rate(facts.conform_rate()) == 74


# -- interlaced ----------------------------------------------------------------------------
INTERLACED = {
    # (tinterlace mode, field flag, encoder options): 50p → 25i, first field = frame 2n
    "h264-tff": (
        "interleave_top",
        "tff",
        [*H264, "-flags", "+ildct+ilme", "-x264-params", "tff=1"],
    ),
    "h264-bff": (
        "interleave_bottom",
        "bff",
        [*H264, "-flags", "+ildct+ilme", "-x264-params", "bff=1"],
    ),
    "prores-tff": (
        "interleave_top",
        "tff",
        ["-c:v", "prores_ks", "-profile:v", "2", "-flags", "+ildct"],
    ),
    "prores-bff": (
        "interleave_bottom",
        "bff",
        ["-c:v", "prores_ks", "-profile:v", "2", "-flags", "+ildct"],
    ),
}
LAVFI_50P = "testsrc2=size=640x360:rate=50:duration=1"


def _psnr(proxy: str, truth: Path, frames: str, size: tuple[int, int]) -> float:
    """Mean PSNR of the proxy against every other frame of the 50p original, scaled alike."""
    w, h = size
    log = ffmpeg(
        "-i",
        proxy,
        "-i",
        str(truth),
        "-lavfi",
        f"[1:v]select='{frames}',setpts=N/25/TB,scale={w}:{h}:flags=bicubic[t];"
        "[0:v]format=yuv420p[p];[p][t]psnr",
        "-f",
        "null",
        "-",
    )
    match = re.search(r"average:([0-9.]+)", log)
    assert match, log
    return float(match.group(1))


@pytest.mark.parametrize("kind", list(INTERLACED))
@pytest.mark.parametrize(
    ("codec", "profile", "size"),
    [
        ("h264", "proxy_h264_low", (320, 180)),  # reduced size
        ("prores422", "proxy_prores422_1080", (640, 360)),  # full height (never upscaled)
    ],
    ids=["half", "full-height"],
)
def test_an_interlaced_source_gets_a_progressive_proxy_from_its_first_fields(
    clip_cache: Path,
    tmp_path: Path,
    kind: str,
    codec: str,
    profile: str,
    size: tuple[int, int],
) -> None:
    mode, flag, encoder = INTERLACED[kind]
    truth = made(clip_cache, "truth_50p.mkv", "-f", "lavfi", "-i", LAVFI_50P, "-c:v", "ffv1")
    src = made(
        clip_cache,
        f"interlaced_{kind}.mov",
        "-f",
        "lavfi",
        "-i",
        LAVFI_50P,
        "-vf",
        f"tinterlace={mode},setfield={flag}",
        *encoder,
        "-timecode",
        "10:00:00:00",
    )
    v_in = video(ffprobe(src))
    assert v_in["field_order"] not in ("progressive", "unknown")

    clip = run_job(tmp_path, src, codec=codec, proxy_profile=profile)

    out = clip["output_path"]
    v_out = video(ffprobe(out, "-count_packets"))
    assert v_out["field_order"] == "progressive"
    assert (v_out["width"], v_out["height"]) == size
    assert v_out["r_frame_rate"] == v_in["r_frame_rate"] == "25/1"
    assert int(v_out["nb_read_packets"]) == int(v_in["nb_frames"]) == 25
    assert timecode(ffprobe(out)) == "10:00:00:00"
    # Each proxy frame shows its first field's instant (50p frame 2n), not the
    # second's (2n+1), and not both blended: scaling the woven fields (or the
    # wrong parity) scores the same or better against the odd frames.
    first, second = (_psnr(out, truth, sel, size) for sel in ("not(mod(n\\,2))", "mod(n\\,2)"))
    assert first > second + 3, (first, second)


# -- what the clip result records --------------------------------------------------------
def test_the_result_records_compared_facts_and_the_proxy_hash(
    clip_cache: Path,
    tmp_path: Path,
) -> None:
    src = made(
        clip_cache,
        "facts_src.mov",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=128x72:rate=30000/1001:duration=1",
        "-f",
        "lavfi",
        "-i",
        "sine=sample_rate=48000:duration=1",
        "-f",
        "lavfi",
        "-i",
        "sine=sample_rate=48000:duration=1",
        "-filter_complex",
        "[2:a]aformat=channel_layouts=5.1[s]",
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "[s]",
        *H264,
        "-c:a",
        "pcm_s16le",
        "-timecode",
        "01:00:00;00",
        "-metadata:s:v:0",
        "reel_name=B007",
    )

    clip = run_job(tmp_path, src, codec="prores_proxy", proxy_profile="proxy_prores_proxy")

    out = Path(clip["output_path"])
    assert clip["output_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    info = ffprobe(out, "-count_packets")
    want = {
        "frames": int(video(info)["nb_read_packets"]),
        "frame_rate": "30000/1001",
        "timecode": "01:00:00;00",
        "reel_name": "B007",
        "audio_channels": [1, 6],
    }
    for side in ("source", "proxy"):
        got = clip["fidelity"][side]
        assert {k: got[k] for k in want} == want, side
    assert [s["channels"] for s in info["streams"] if s["codec_type"] == "audio"] == [1, 6]
    assert timecode(info) == "01:00:00;00"


def test_hard_kinds_render_byte_identically_run_to_run(
    clip_cache: Path,
    tmp_path: Path,
) -> None:
    src = made(
        clip_cache,
        "interlaced_h264-tff.mov",
        "-f",
        "lavfi",
        "-i",
        LAVFI_50P,
        "-vf",
        "tinterlace=interleave_top,setfield=tff",
        *INTERLACED["h264-tff"][2],
        "-timecode",
        "10:00:00:00",
    )
    vfr = made(
        clip_cache,
        "vfr_rate-change.mp4",
        "-f",
        "lavfi",
        "-i",
        VFR["rate-change"][0],
        "-vf",
        VFR["rate-change"][1],
        "-frames:v",
        "69",
        "-fps_mode",
        "passthrough",
        "-video_track_timescale",
        "600",
        *H264,
    )
    for source in (src, vfr):
        clips = [run_job(tmp_path, source, name=f"{source.stem}_{i}") for i in range(2)]
        hashes = {c["output_sha256"] for c in clips}
        assert len(hashes) == 1, source
        # The filters (bwdif is slice-threaded) give the same bytes whatever
        # thread count FFmpeg picks from the machine's cores.
        argv = shlex.split(clips[0]["ffmpeg_command"])
        for threads in ("1", "3"):
            out = tmp_path / f"{source.stem}_ft{threads}.mov"
            subprocess.run([argv[0], "-filter_threads", threads, *argv[1:-1], str(out)], check=True)
            assert hashlib.sha256(out.read_bytes()).hexdigest() in hashes, (source, threads)
