"""The argv for a picture that starts between two frames after its sound (the sync rule).

In-process, on probe facts: what `build_argv` emits. That the proxies it makes keep
their sound in place is measured with the system ffmpeg in tests/test_media_sync.py.
"""

from __future__ import annotations

import pytest

from proxx.content.jobplan import ClipPlan, JobPlan
from proxx.content.media import ProbeFacts, StreamFacts
from proxx.contract.profiles import Engine
from workers.ffmpeg.args import build_argv


def _argv(lead: float, rate: str, container: str, codec: str = "dnxhr_lb") -> list[str]:
    source = ProbeFacts(
        path="/src/a.mov",
        ok=True,
        format_name="mov,mp4,m4a,3gp,3g2,mj2",
        streams=[
            StreamFacts(
                codec_type="video",
                index=0,
                codec_name="h264",
                width=512,
                height=288,
                frame_rate=rate,
                avg_frame_rate=rate,
                nb_frames=96,
                start_time=lead,
            ),
            StreamFacts(codec_type="audio", index=1, channels=2, sample_rate=48000, start_time=0.0),
        ],
    )
    clip = ClipPlan(index=0, source_path="/src/a.mov", output_path="/out/a.mov", source=source)
    plan = JobPlan(
        job_id="sync",
        engine=Engine.FFMPEG,
        codec=codec,
        container=container,
        fps_mode="preserve_source",
        proxy_profile=f"proxy_{codec}",
        clips=[clip],
    )
    return build_argv(plan, clip)


def _vf(argv: list[str]) -> list[str]:
    return argv[argv.index("-vf") + 1].split(",")


@pytest.mark.parametrize(
    ("lead", "rate"),
    [(0.0, "25"), (0.4, "25"), (10 * 1001 / 24000, "24000/1001"), (0.0, "24000/1001")],
)
def test_a_picture_on_the_frame_grid_gets_the_plain_argv(lead: float, rate: str) -> None:
    for container in ("mov", "mxf"):
        argv = _argv(lead, rate, container)
        assert "-enc_time_base:v" not in argv and "-filter:a:0" not in argv
        assert not [f for f in _vf(argv) if f.startswith(("settb", "setpts"))]


def test_a_picture_between_frames_is_placed_at_its_own_start_in_mov() -> None:
    # 0.4 s at 23.976 is 9.59 frames: the fps filter alone would start it at 10 (0.417 s).
    argv = _argv(0.4, "24000/1001", "mov")
    vf = _vf(argv)
    at = vf.index("fps=24000/1001")
    assert vf[at - 1] == "setpts=PTS-STARTPTS"
    # 1/48000 holds a 23.976 frame (2002 ticks) and 0.4 s (19200 ticks) exactly.
    assert vf[at + 1 : at + 3] == ["settb=1/48000", "setpts=PTS+19200"]
    assert argv[argv.index("-enc_time_base:v") + 1] == "1/48000"
    assert argv[argv.index("-movie_timescale") + 1] == "48000"
    assert "-filter:a:0" not in argv


def test_an_mxf_proxy_moves_the_sound_by_what_the_held_frames_round() -> None:
    # MXF holds the first picture for round(9.59) = 10 frames = 0.41708 s: the sound
    # is delayed by the 17.083 ms the picture now starts late.
    argv = _argv(0.4, "24000/1001", "mxf")
    assert argv[argv.index("-filter:a:0") + 1] == "adelay=delays=820S:all=1"
    assert "-enc_time_base:v" not in argv
    # 0.45 s at 25 is 11.25 frames, held for 11 (0.44 s): the picture comes 10 ms
    # early, so the sound's first 10 ms are dropped.
    argv = _argv(0.45, "25", "mxf")
    assert argv[argv.index("-filter:a:0") + 1] == "atrim=start_sample=480,asetpts=PTS-STARTPTS"
