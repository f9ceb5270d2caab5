"""`proxx run` end to end on real FFmpeg: exit codes 0–4, the result JSON, and outputs.

Exit 1 for every kind of bad input is in test_validate_cli.py, exit 5 in
test_run_interrupt.py. Damaged sources are real: a MOV with its index at the
front (`+faststart`) whose tail is cut off — ffprobe still reads it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import stat
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from proxx.contract.naming import MAX_NAME_BYTES
from testkit import run_cli, spec_in, write_spec


@pytest.fixture(scope="module")
def result_schema() -> dict[str, Any]:
    out = run_cli("schema", "result")
    assert out.returncode == 0
    schema: dict[str, Any] = json.loads(out.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def run_spec(
    spec: Path, schema: dict[str, Any], **kw: Any
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run the real CLI; stdout must be exactly one result JSON that fits the schema."""
    proc = run_cli("run", str(spec), **kw)
    result = json.loads(proc.stdout)  # raises if anything but the JSON is on stdout
    assert proc.stdout.endswith("}\n") and proc.stdout.startswith("{")
    jsonschema.validate(result, schema)
    return proc, result


def listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def damaged(
    clip: Callable[..., Path],
    tmp: Path,
    name: str,
    keep: float | None = None,
    cut_bytes: int | None = None,
) -> Path:
    """A copy of a +faststart MOV (index at the front) with its tail cut off."""
    whole = clip("faststart.mov", extra=["-movflags", "+faststart"])
    data = whole.read_bytes()
    end = len(data) - cut_bytes if cut_bytes is not None else int(len(data) * (keep or 0.5))
    out = tmp / name
    out.write_bytes(data[:end])
    probed = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-show_streams", str(out)],
        capture_output=True,
        text=True,
    )
    assert probed.returncode == 0, "the damage must be invisible to ffprobe"
    assert json.loads(probed.stdout)["streams"][0]["nb_frames"] == "25"
    return out


def assert_clean_failure(clip_result: dict[str, Any], out: Path) -> None:
    """A failed clip: nothing at its final name; any kept partial is hidden, in the job's
    private folder (mode 0700, no publication record left), and reported."""
    assert clip_result["status"] == "FAILED"
    assert not os.path.lexists(clip_result["output_path"])
    assert clip_result["output_size_bytes"] is None
    for name in listing(out):
        if name.endswith(".partial"):
            assert name.startswith(".")
            private = out / name
            assert stat.S_IMODE(private.lstat().st_mode) == 0o700 and private.is_dir()
            for inner in listing(private):
                assert clip_result["partial_output_path"] == str(private / inner)


def assert_rendered_by_ffmpeg(c: dict[str, Any]) -> None:
    """A clip result of a COMPLETED FFmpeg render: its output on disk, its command recorded."""
    assert c["status"] == "COMPLETED" and c["engine"] == "ffmpeg" and c["exit_code"] == 0
    assert c["failure_reason"] is None and c["failure_detail"] is None
    assert c["output_size_bytes"] == os.path.getsize(c["output_path"]) > 0
    assert c["started_at"].endswith("Z") and c["duration_seconds"] >= 0
    argv = shlex.split(c["ffmpeg_command"])
    assert os.path.basename(argv[0]) == "ffmpeg" and c["source_path"] in argv


def test_completed_run(
    tmp_path: Path, clip: Callable[..., Path], result_schema: dict[str, Any]
) -> None:
    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(clip(), media / "A001_C001.mov")
    absolute = clip("second.mov", audio_channels=1)
    spec, out = spec_in(
        tmp_path,
        ["media/A001_C001.mov", absolute],
        output_name_template="{index}_{source_name}_{fps}",
        user_metadata={"show": "x", "ep": 3},
    )
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    proc, result = run_spec(spec, result_schema, cwd=elsewhere, env={"PROXX_LOG_LEVEL": "DEBUG"})

    assert proc.returncode == 0, proc.stderr
    assert result["status"] == "COMPLETED" and result["validation_error"] is None
    counts = ("total_clips", "successful_clips", "failed_clips", "skipped_clips")
    assert [result[k] for k in counts] == [2, 2, 0, 0]
    assert result["jobspec_version"] == "1.0.0" and result["result_version"]
    assert result["execution_engine"] == "ffmpeg" and result["engine_routing_reason"]
    assert result["worker_id"] == 0 and result["concurrency_mode"] == "sequential"
    assert result["jobspec_fingerprint"].startswith("sha256:")
    assert len(result["jobspec_fingerprint"]) == len("sha256:") + 64
    assert result["_metadata"]["jobspec_path"] == str(spec)
    assert result["_metadata"]["engine_versions"].get("ffmpeg")
    assert result["started_at"] <= result["ended_at"]
    assert all(result[k].endswith("Z") for k in ("started_at", "ended_at", "worker_started_at"))
    expected_sources = [str(media / "A001_C001.mov"), str(absolute)]  # relative → spec folder
    expected_outputs = [str(out / "001_A001_C001_source.mov"), str(out / "002_second_source.mov")]
    assert [c["source_path"] for c in result["clips"]] == expected_sources
    assert [c["output_path"] for c in result["clips"]] == expected_outputs
    for c in result["clips"]:
        assert_rendered_by_ffmpeg(c)
    assert listing(out) == ["001_A001_C001_source.mov", "002_second_source.mov"]  # no leftovers
    assert "DEBUG" in proc.stderr  # logs go to stderr, never stdout


def test_unicode_names_render(
    tmp_path: Path,
    clip: Callable[..., Path],
    job: Callable[..., Path],
    result_schema: dict[str, Any],
) -> None:
    src = tmp_path / "Интервью été 🎬.mov"
    shutil.copy(clip(), src)
    proc, result = run_spec(job([src], output_name_template="日本語 {source_name}"), result_schema)
    assert proc.returncode == 0, proc.stderr
    assert listing(tmp_path / "out") == ["日本語 Интервью été 🎬.mov"]
    assert result["clips"][0]["source_path"] == str(src)


def test_the_longest_allowed_name_renders_and_one_byte_more_is_refused(
    tmp_path: Path,
    clip: Callable[..., Path],
    job: Callable[..., Path],
    result_schema: dict[str, Any],
) -> None:
    # é is two bytes in UTF-8: the limit is in bytes, as file systems count.
    stem = "é" * ((MAX_NAME_BYTES - 4) // 2) + "x" * ((MAX_NAME_BYTES - 4) % 2)
    assert len((stem + ".mov").encode()) == MAX_NAME_BYTES
    proc, result = run_spec(job([clip()], output_name_template=stem), result_schema)
    assert proc.returncode == 0, result["clips"] or result["validation_error"]
    assert listing(tmp_path / "out") == [stem + ".mov"]

    proc, result = run_spec(job([clip()], output_name_template=stem + "y"), result_schema)
    assert proc.returncode == 1 and "bytes; the limit is" in result["validation_error"]


def test_first_clip_failing_is_exit_2_and_the_rest_are_skipped(
    tmp_path: Path,
    clip: Callable[..., Path],
    job: Callable[..., Path],
    result_schema: dict[str, Any],
) -> None:
    bad = damaged(clip, tmp_path, "A001_broken.mov")
    proc, result = run_spec(job([bad, clip()]), result_schema)
    assert proc.returncode == 2, proc.stderr
    assert result["status"] == "FAILED" and result["validation_error"] is None
    assert (
        result["total_clips"],
        result["successful_clips"],
        result["failed_clips"],
        result["skipped_clips"],
    ) == (2, 0, 1, 1)
    first, second = result["clips"]
    assert first["failure_reason"] == "execution_error"
    assert first["exit_code"] not in (0, None)
    assert "FFmpeg exit code" in first["failure_detail"] and str(bad) in first["failure_detail"]
    assert_clean_failure(first, tmp_path / "out")
    assert second["status"] == "SKIPPED" and "fail-fast" in second["failure_detail"]
    assert not os.path.lexists(second["output_path"])
    assert f"proxx: {bad}: execution_error" in proc.stderr


def test_partial_is_exit_3_with_counts(
    tmp_path: Path,
    clip: Callable[..., Path],
    job: Callable[..., Path],
    result_schema: dict[str, Any],
) -> None:
    bad = damaged(clip, tmp_path, "B_broken.mov")
    proc, result = run_spec(job([clip(), bad, clip("c.mov")]), result_schema)
    assert proc.returncode == 3, proc.stderr
    assert result["status"] == "PARTIAL"
    assert (
        result["total_clips"],
        result["successful_clips"],
        result["failed_clips"],
        result["skipped_clips"],
    ) == (3, 1, 1, 1)
    done, failed, skipped = result["clips"]
    assert done["status"] == "COMPLETED" and os.path.getsize(done["output_path"]) > 0
    assert_clean_failure(failed, tmp_path / "out")
    assert skipped["status"] == "SKIPPED" and not os.path.lexists(skipped["output_path"])
    assert [n for n in listing(tmp_path / "out") if not n.startswith(".")] == ["clip_proxy.mov"]


@pytest.mark.parametrize(
    "damage",
    [{"cut_bytes": 100}, {"cut_bytes": 5000}, {"keep": 0.5}],
    ids=["audio-tail-only", "last-frame", "half"],
)
def test_a_damaged_source_never_yields_a_completed_proxy(
    damage: dict[str, Any],
    tmp_path: Path,
    clip: Callable[..., Path],
    job: Callable[..., Path],
    result_schema: dict[str, Any],
) -> None:
    bad = damaged(clip, tmp_path, "broken.mov", **damage)
    proc, result = run_spec(job([bad]), result_schema)
    assert proc.returncode == 2, result["clips"]
    (only,) = result["clips"]
    assert only["failure_reason"] in ("execution_error", "output_missing")
    assert_clean_failure(only, tmp_path / "out")


def test_ffmpeg_missing_is_a_system_error(
    tmp_path: Path,
    clip: Callable[..., Path],
    job: Callable[..., Path],
    result_schema: dict[str, Any],
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ffprobe = shutil.which("ffprobe")
    assert ffprobe is not None
    (bin_dir / "ffprobe").symlink_to(ffprobe)  # validation can probe; rendering cannot
    proc, result = run_spec(job([clip(), clip("b.mov")]), result_schema, env={"PATH": str(bin_dir)})
    assert proc.returncode == 4, proc.stderr
    assert result["status"] == "FAILED"
    first, second = result["clips"]
    assert first["failure_reason"] == "engine_unavailable"
    assert "ffmpeg not found" in first["failure_detail"]
    assert second["status"] == "SKIPPED"
    assert "engine_unavailable" in proc.stderr and "ffmpeg not found" in proc.stderr
    assert listing(tmp_path / "out") == []


@contextlib.contextmanager
def tiny_tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    mounted = subprocess.run(
        [
            "mount",
            "-t",
            "tmpfs",
            "-o",
            f"size={size},mode=0755",
            f"proxx-test-{uuid.uuid4().hex[:8]}",
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def test_disk_full_is_a_system_error(
    tmp_path: Path, clip: Callable[..., Path], result_schema: dict[str, Any]
) -> None:
    src = clip("v640.mov", size="640x360")
    with tiny_tmpfs(tmp_path / "small", "200k") as out:
        spec = write_spec(
            tmp_path / "job.json",
            [src, src],
            out,
            output_name_template="{index}",
            codec="prores422hq",
            proxy_profile="proxy_prores422hq_1080",
        )
        proc, result = run_spec(spec, result_schema)
        assert proc.returncode == 4, proc.stderr
        assert result["status"] == "FAILED"
        first, second = result["clips"]
        assert first["failure_reason"] == "execution_error" and first["system_error"] is True
        assert "No space left on device" in first["failure_detail"]
        assert_clean_failure(first, out)
        assert second["status"] == "SKIPPED"
        assert not os.path.lexists(out / "001.mov") and not os.path.lexists(out / "002.mov")
