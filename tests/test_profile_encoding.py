"""Encoder arguments live with each profile; the published quality text says what runs.

The argv checks read what `build_argv` really emits for a real probed clip, and the
published table as `proxx profiles --json` prints it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from proxx.content.jobplan import ClipPlan, JobPlan
from proxx.content.probe import probe
from proxx.contract.profiles import PARAM_TEXT, PROFILES, Engine, Profile, VideoEncoder
from testkit import make_clip, run_cli, spec_dict
from workers.ffmpeg.args import build_argv

FFMPEG_PROFILES = [p for p in PROFILES.values() if p.engine is Engine.FFMPEG]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("enc") / "src.mov", size="640x360", seconds=0.2)


def _argv(profile: Profile, source: Path) -> list[str]:
    clip = ClipPlan(
        index=0, source_path=str(source), output_path="/tmp/out.mov", source=probe(str(source))
    )
    plan = JobPlan(
        job_id="enc",
        engine=Engine.FFMPEG,
        codec=profile.codecs[0],
        container="mov",
        fps_mode="preserve_source",
        proxy_profile=profile.name,
        clips=[clip],
    )
    return build_argv(plan, clip)


def _value(argv: list[str], option: str) -> str:
    assert argv.count(option) == 1, (option, argv)
    return argv[argv.index(option) + 1]


@pytest.mark.parametrize("profile", FFMPEG_PROFILES, ids=lambda p: p.name)
def test_the_argv_carries_the_profiles_own_encoder_arguments(
    profile: Profile, source: Path
) -> None:
    argv = _argv(profile, source)
    assert isinstance(profile.encoding, VideoEncoder)
    args = list(profile.encoding.argv())
    start = argv.index("-c:v")
    assert argv[start : start + len(args)] == args


@pytest.mark.parametrize("profile", FFMPEG_PROFILES, ids=lambda p: p.name)
def test_encoder_threading_is_a_fixed_number(profile: Profile, source: Path) -> None:
    # A thread count left to FFmpeg or x265 ("auto", "none", absent) would follow the
    # machine's core count, and x264/x265 bytes follow the thread count.
    argv = _argv(profile, source)
    if _value(argv, "-c:v") == "libx265":
        params = dict(kv.split("=", 1) for kv in _value(argv, "-x265-params").split(":"))
        assert params["pools"].isdigit() and params["frame-threads"].isdigit(), params
        assert "-threads:v" not in argv
    else:
        assert _value(argv, "-threads:v").isdigit()


@pytest.mark.parametrize("profile", FFMPEG_PROFILES, ids=lambda p: p.name)
def test_the_quality_text_names_every_encoder_setting(profile: Profile, source: Path) -> None:
    argv = _argv(profile, source)
    text = profile.quality
    expected = [_value(argv, "-c:v")]
    for option in ("-profile:v", "-preset", "-crf", "-tag:v"):
        if option in argv:
            expected.append(_value(argv, option))
    private: list[str] = []
    if "-x265-params" in argv:
        private = _value(argv, "-x265-params").split(":")
        params = dict(kv.split("=", 1) for kv in private)
        expected += [f"pool of {params['pools']} thread", f"{params['frame-threads']} frame thread"]
        private = [
            kv for kv in private if kv.split("=")[0] not in ("log-level", "pools", "frame-threads")
        ]
    else:
        expected.append(f"{_value(argv, '-threads:v')} encoder thread")
        if "-x264-params" in argv:
            private = _value(argv, "-x264-params").split(":")
    # Every encoder-private setting is in the text, in words where the table has words.
    expected += [PARAM_TEXT.get(kv, kv) for kv in private]
    missing = [e for e in expected if e not in text]
    assert not missing, (text, missing)
    depth = {"yuv420p": "8-bit 4:2:0", "yuv422p": "8-bit 4:2:2", "yuv422p10le": "10-bit 4:2:2"}
    assert depth[_value(argv, "-pix_fmt")] in text


@pytest.mark.e2e
def test_the_published_table_shows_the_derived_text() -> None:
    rows = {r["profile"]: r for r in json.loads(run_cli("profiles", "--json").stdout)["profiles"]}
    for p in FFMPEG_PROFILES:
        assert rows[p.name]["quality"] == p.quality
        assert re.search(r"\d+ (encoder thread|frame thread)", p.quality), p.quality


def test_two_profiles_of_one_codec_can_differ(
    source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import workers.ffmpeg.args as ffmpeg_args

    base = PROFILES["proxy_h264_low"]
    assert isinstance(base.encoding, VideoEncoder)
    encoding = replace(base.encoding, crf=18)
    variant = replace(base, name="proxy_h264_low_crf18", encoding=encoding)
    monkeypatch.setitem(PROFILES, variant.name, variant)
    monkeypatch.setitem(ffmpeg_args._VIDEO, variant.name, list(encoding.argv()))
    assert _value(_argv(variant, source), "-crf") == "18"
    assert _value(_argv(base, source), "-crf") == "23"
    assert "CRF 18" in variant.quality and "CRF 23" in base.quality


@pytest.mark.e2e
def test_the_encoder_table_does_not_follow_the_cpus() -> None:
    # The table is built at import: build it on one CPU and on all, compare.
    code = (
        "import json; from workers.ffmpeg.args import _VIDEO; "
        "print(json.dumps(_VIDEO, sort_keys=True))"
    )

    def table(one_cpu: bool) -> str:
        def pin() -> None:
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

        return subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            preexec_fn=pin if one_cpu else None,
        ).stdout

    assert table(one_cpu=True) == table(one_cpu=False) != ""


def test_an_encoder_without_fixed_threads_is_refused() -> None:
    with pytest.raises(ValueError):
        VideoEncoder("libx264", "yuv420p", 0)
    with pytest.raises(ValueError):
        VideoEncoder("libx265", "yuv420p", 2)  # x265 needs its frame threads too


@pytest.mark.e2e
@pytest.mark.parametrize(("size", "valid"), [("24x24", False), ("32x32", True)])
def test_an_hevc_proxy_under_16_pixels_is_refused_at_validation(
    size: str, valid: bool, tmp_path: Path
) -> None:
    # x265 refuses pictures under 16×16: found by validation, not by a failed render.
    # The 32×32 control (→ 16×16) validates and renders.
    src = make_clip(tmp_path / f"src_{size}.mov", size=size, seconds=0.2)
    out = tmp_path / "out"
    out.mkdir()
    spec = tmp_path / "job.json"
    hevc = {"codec": "hevc", "container": "mp4", "proxy_profile": "proxy_hevc_low"}
    spec.write_text(json.dumps(spec_dict([str(src)], out, **hevc)))
    proc = run_cli("validate", str(spec))
    if not valid:
        assert proc.returncode == 1
        assert "would render 12×12, but hevc needs at least 16×16" in proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    run = run_cli("run", str(spec))
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["clips"][0]["output_size_bytes"] > 0
