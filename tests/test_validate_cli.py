"""Bad JobSpecs through the real CLI: `proxx validate` (plain and --json) and `proxx run`.

Every case asserts the exit code, the reason on stderr, the result JSON's
validation_error naming the problem, and that nothing at all was written
(the whole test folder is snapshotted before and after). What validate and
run report for valid and odd JobSpecs: test_validate_report.py.
"""

from __future__ import annotations

import json
import random
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from testkit import finish_cli, run_cli, snapshot, spec_dict, start_cli


@dataclass
class Case:
    spec: Path
    expected: list[str]  # substrings the reason must contain
    drop_dac: bool = False


Builder = Callable[[Path, Callable[..., Path]], Case]


def _write(tmp: Path, obj: Any = None, raw: bytes | None = None, **overrides: Any) -> Path:
    path = tmp / "job.json"
    if raw is None:
        obj = (
            obj
            if obj is not None
            else spec_dict([str(tmp / "src" / "a.mov")], tmp / "out", **overrides)
        )
        raw = json.dumps(obj, ensure_ascii=False).encode()
    path.write_bytes(raw)
    return path


def _std(tmp: Path, clip: Callable[..., Path], **overrides: Any) -> Path:
    """A JobSpec on one real clip, with overrides."""
    obj = spec_dict([str(clip())], tmp / "out")
    obj.update(overrides)
    return _write(tmp, obj)


def _without(field: str) -> Builder:
    def build(tmp: Path, clip: Callable[..., Path]) -> Case:
        obj = spec_dict([str(clip())], tmp / "out")
        del obj[field]
        return Case(_write(tmp, obj), [f"{field}: required field is missing"])

    return build


def _over(expected: list[str], **overrides: Any) -> Builder:
    def build(tmp: Path, clip: Callable[..., Path]) -> Case:
        return Case(_std(tmp, clip, **overrides), expected)

    return build


def _raw(data: bytes, expected: list[str]) -> Builder:
    def build(tmp: Path, clip: Callable[..., Path]) -> Case:
        return Case(_write(tmp, raw=data), expected)

    return build


def _missing_source(tmp: Path, clip: Callable[..., Path]) -> Case:
    gone = tmp / "media" / "A001_C009.mov"
    return Case(
        _write(tmp, spec_dict([str(clip()), str(gone)], tmp / "out")), ["source missing", str(gone)]
    )


def _relative_missing_source(tmp: Path, clip: Callable[..., Path]) -> Case:
    # Relative sources resolve against the JobSpec's folder, and the result says so.
    return Case(
        _write(tmp, spec_dict(["media/nope.mov"], tmp / "out")),
        ["source missing", str(tmp / "media" / "nope.mov")],
    )


def _source_through_a_file(tmp: Path, clip: Callable[..., Path]) -> Case:
    bad = str(clip()) + "/inner.mov"  # a path "under" a regular file: ENOTDIR
    return Case(_write(tmp, spec_dict([bad], tmp / "out")), ["source missing", bad])


def _source_name_too_long(tmp: Path, clip: Callable[..., Path]) -> Case:
    bad = str(tmp / ("n" * 5000 + ".mov"))  # ENAMETOOLONG: the JobSpec's fault, not the host's
    return Case(_write(tmp, spec_dict([bad], tmp / "out")), ["source path unusable", "too long"])


def _source_is_directory(tmp: Path, clip: Callable[..., Path]) -> Case:
    folder = tmp / "A001.mov"
    folder.mkdir()
    return Case(
        _write(tmp, spec_dict([str(folder)], tmp / "out")), ["source a directory", str(folder)]
    )


def _unreadable_source(tmp: Path, clip: Callable[..., Path]) -> Case:
    private = tmp / "private.mov"
    private.write_bytes(clip().read_bytes())
    private.chmod(0o000)
    return Case(
        _write(tmp, spec_dict([str(private)], tmp / "out")),
        ["source unreadable", str(private)],
        drop_dac=True,
    )


def _undecodable_source(tmp: Path, clip: Callable[..., Path]) -> Case:
    junk = tmp / "junk.mov"
    junk.write_bytes(random.Random(20260115).randbytes(100_000))  # same bytes every run
    return Case(
        _write(tmp, spec_dict([str(junk)], tmp / "out")),
        [str(junk), "unsupported or damaged source"],
    )


def _audio_only_source(tmp: Path, clip: Callable[..., Path]) -> Case:
    wav = tmp / "voice.wav"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=duration=0.2", str(wav)],
        check=True,
    )
    return Case(_write(tmp, spec_dict([str(wav)], tmp / "out")), [str(wav), "no video stream"])


def _output_dir_missing(tmp: Path, clip: Callable[..., Path]) -> Case:
    return Case(
        _std(tmp, clip, output_dir=str(tmp / "nowhere")),
        [f"output_dir {tmp / 'nowhere'} does not exist"],
    )


def _output_dir_is_file(tmp: Path, clip: Callable[..., Path]) -> Case:
    (tmp / "out.txt").write_text("x")
    return Case(_std(tmp, clip, output_dir=str(tmp / "out.txt")), ["is not a directory"])


def _output_dir_read_only(tmp: Path, clip: Callable[..., Path]) -> Case:
    ro = tmp / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    return Case(
        _std(tmp, clip, output_dir=str(ro)), [f"output_dir {ro} is not writable"], drop_dac=True
    )


def _dnxhr_too_small(tmp: Path, clip: Callable[..., Path]) -> Case:
    return Case(
        _std(tmp, clip, codec="dnxhr_lb", proxy_profile="proxy_dnxhr_lb"),
        ["would render 32×18", "needs at least 256×120"],
    )


def _resolve_profile_on_ffmpeg_source(tmp: Path, clip: Callable[..., Path]) -> Case:
    return Case(
        _std(tmp, clip, codec="prores_proxy", proxy_profile="proxy_prores_proxy_resolve"),
        ["renders with resolve", "route to ffmpeg"],
    )


def _mxf_rate(tmp: Path, clip: Callable[..., Path]) -> Case:
    src = clip("v640_12fps.mov", size="640x360", rate="12", audio_channels=0)
    return Case(
        _write(
            tmp,
            spec_dict(
                [str(src)],
                tmp / "out",
                codec="dnxhr_lb",
                container="mxf",
                proxy_profile="proxy_dnxhr_lb",
            ),
        ),
        ["mxf cannot carry 12 fps"],
    )


def _two_sources(names: list[str], template: str, expected: list[str]) -> Builder:
    def build(tmp: Path, clip: Callable[..., Path]) -> Case:
        paths = []
        for n in names:
            p = tmp / n
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(clip().read_bytes())
            paths.append(str(p))
        return Case(
            _write(tmp, spec_dict(paths, tmp / "out", output_name_template=template)), expected
        )

    return build


def _output_exists(tmp: Path, clip: Callable[..., Path]) -> Case:
    (tmp / "out").mkdir(exist_ok=True)
    (tmp / "out" / "clip_proxy.mov").write_bytes(b"an earlier proxy, precious")
    return Case(_std(tmp, clip), ["output already exists", str(tmp / "out" / "clip_proxy.mov")])


def _dangling_symlink_output(tmp: Path, clip: Callable[..., Path]) -> Case:
    (tmp / "out").mkdir(exist_ok=True)
    (tmp / "out" / "clip_proxy.mov").symlink_to(tmp / "elsewhere.mov")
    return Case(_std(tmp, clip), ["output already exists"])


def _surrogate(tmp: Path, clip: Callable[..., Path]) -> Case:
    text = json.dumps(spec_dict([str(clip())], tmp / "out", output_name_template="X_PROXY"))
    return Case(
        _write(tmp, raw=text.replace("X_PROXY", "\\udc80proxy").encode()),
        ["output_name_template", "surrogate"],
    )


_BASE_BYTES = json.dumps(spec_dict(["/m/a.mov"], "/tmp"))

CASES: dict[str, Builder] = {
    "invalid-json": _raw(b'{"jobspec_version": "1.0.0",', ["invalid JSON"]),
    "json-array": _raw(b"[]", ["a JSON object, not a JSON array"]),
    "json-scalar": _raw(b"3.5", ["a JSON object, not a JSON number"]),
    "not-utf8": _raw(b'{"a": "\xe9t\xe9"}', ["not UTF-8"]),
    "duplicate-key": _raw(
        (_BASE_BYTES[:-1] + ', "codec": "hevc"}').encode(), ["duplicate key 'codec'"]
    ),
    "lone-surrogate": _surrogate,
    "unknown-field": _over(["priority: unknown field"], priority="high"),
    "missing-field": _without("codec"),
    "wrong-version": _over(["jobspec_version", "'2.0.0'"], jobspec_version="2.0.0"),
    "bad-created-at": _over(["created_at", "not an ISO 8601"], created_at="15/01/2026 09:30"),
    "created-at-without-offset": _over(
        ["created_at", "no UTC offset"], created_at="2026-01-15T09:30:00"
    ),
    "empty-sources": _over(["sources", "at least 1 item"], sources=[]),
    "missing-source": _missing_source,
    "relative-missing-source": _relative_missing_source,
    "source-through-a-file": _source_through_a_file,
    "source-name-too-long": _source_name_too_long,
    "source-is-directory": _source_is_directory,
    "unreadable-source": _unreadable_source,
    "undecodable-source": _undecodable_source,
    "audio-only-source": _audio_only_source,
    "relative-output-dir": _over(["output_dir", "'out' is not an absolute path"], output_dir="out"),
    "missing-output-dir": _output_dir_missing,
    "output-dir-is-a-file": _output_dir_is_file,
    "output-dir-not-writable": _output_dir_read_only,
    "codec-container-pair": _over(
        ["cannot go in container 'mp4'", "allowed pairs", "prores_proxy → mov"],
        codec="prores_proxy",
        container="mp4",
        proxy_profile="proxy_prores_proxy",
    ),
    "unknown-fps-mode": _over(
        ["fps_mode", "'force_23.976'", "'force_23_976'"], fps_mode="force_23.976"
    ),
    "unknown-profile": _over(["unknown profile 'proxy_h265_low'"], proxy_profile="proxy_h265_low"),
    "profile-codec-mismatch": _over(
        ["profile 'proxy_h264_low' renders h264, not 'prores_lt'"], codec="prores_lt"
    ),
    "resolve-profile-on-ffmpeg-source": _resolve_profile_on_ffmpeg_source,
    "dnxhr-source-too-small": _dnxhr_too_small,
    "mxf-unsupported-rate": _mxf_rate,
    "unknown-token": _over(["unknown token(s) {reel}"], output_name_template="{reel}_{index}"),
    "template-slash": _over(["path separator"], output_name_template="proxies/{source_name}"),
    "template-dotdot": _over(["contains '..'"], output_name_template=".."),
    "template-nul": _over(["control character"], output_name_template="a\x00{source_name}"),
    "template-empty": _over(["empty name"], output_name_template=""),
    "template-hidden": _over(["starts with '.'"], output_name_template=".{source_name}"),
    "name-10000-chars": _over(["bytes; the limit is"], output_name_template="x" * 10_000),
    "multi-source-no-index": _two_sources(
        ["a/one.mov", "b/two.mov"], "{codec}_{date}", ["{index} or {source_name}"]
    ),
    "same-output-name": _two_sources(
        ["a/clip.mov", "b/clip.mov"],
        "{source_name}",
        ["sources[0] and sources[1] both resolve", "clip.mov"],
    ),
    "same-name-ignoring-case": _two_sources(
        ["a/Clip.mov", "b/clip.MOV"], "{source_name}", ["same name ignoring case"]
    ),
    "output-exists": _output_exists,
    "output-is-dangling-symlink": _dangling_symlink_output,
}


@pytest.fixture(scope="module")
def result_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(run_cli("schema", "result").stdout)
    return schema


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_is_rejected_everywhere_and_writes_nothing(
    case: str, tmp_path: Path, clip: Callable[..., Path], result_schema: dict[str, Any]
) -> None:
    (tmp_path / "out").mkdir()
    built = CASES[case](tmp_path, clip)
    before = snapshot(tmp_path)

    # Both commands at once: they only read, and the suite stays fast.
    validating = start_cli("validate", "--json", str(built.spec), drop_dac=built.drop_dac)
    running = start_cli("run", str(built.spec), drop_dac=built.drop_dac)
    checked, run = finish_cli(validating), finish_cli(running)

    assert checked.returncode == 1, checked.stderr
    report = json.loads(checked.stdout)
    assert report["valid"] is False and report["jobspec_path"] == str(built.spec)
    assert checked.stderr.startswith("invalid: ") or "\ninvalid: " in checked.stderr
    for text in built.expected:
        assert text in report["validation_error"]
        assert text in checked.stderr

    assert run.returncode == 1, run.stderr
    result = json.loads(run.stdout)  # stdout holds the result JSON and nothing else
    jsonschema.validate(result, result_schema)
    assert result["status"] == "FAILED"
    for text in built.expected:
        assert text in result["validation_error"]
        assert text in run.stderr
    assert result["clips"] == [] and result["successful_clips"] == 0
    assert result["failed_clips"] == 0 and result["execution_engine"] is None
    assert result["jobspec_fingerprint"].startswith("sha256:")
    assert result["_metadata"]["jobspec_path"] == str(built.spec)
    assert "Traceback" not in checked.stderr

    assert snapshot(tmp_path) == before  # nothing written, nothing touched
