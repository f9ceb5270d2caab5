"""`proxx plan` through the real CLI: real lavfi media in card-like trees, real workers.

What a user sees is asserted: the JobSpec's bytes, what `proxx validate` says of it,
the table and refusals on stderr, the exit code, and which files exist afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from testkit import ANY_ROOT, make_clip, noise, redcode, run_cli

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e

PROFILE = ("--profile", "proxy_h264_low")


def ffmpeg(path: Path, *lavfi: str) -> Path:
    """A file FFmpeg makes from lavfi input (a still, a sound file)."""
    argv = ["ffmpeg", "-v", "error", "-nostdin", "-f", "lavfi", "-i", *lavfi, str(path)]
    subprocess.run(argv, check=True)
    return path


def card(root: Path) -> Path:
    """A camera folder as a card reader leaves it: two cards, sidecars, a still, sound."""
    sony = root / "A001" / "PRIVATE" / "M4ROOT"
    (sony / "CLIP").mkdir(parents=True)
    (sony / "SUB").mkdir()
    (sony / "THMBNL").mkdir()
    make_clip(sony / "CLIP" / "C0002.MP4")
    make_clip(sony / "CLIP" / "C0001.MP4")
    (sony / "CLIP" / "C0001M01.XML").write_text("<xml/>")
    make_clip(sony / "SUB" / "C0001S03.MP4")  # the camera's own proxy
    ffmpeg(sony / "THMBNL" / "C0001T01.JPG", "color=s=64x36", "-frames:v", "1")
    stream = root / "B001" / "PRIVATE" / "AVCHD" / "BDMV" / "STREAM"
    stream.mkdir(parents=True)
    make_clip(stream / "00000.MTS")
    (stream.parent / "CLIPINF").mkdir()
    (stream.parent / "CLIPINF" / "00000.CPI").write_bytes(b"HDMV0200")
    ffmpeg(root / "B001" / "sound.wav", "sine=d=0.5")
    ffmpeg(root / "B001" / "slate.png", "color=s=64x36", "-frames:v", "1")
    arri = root / "C003R1AB"  # ARRI, BRAW: flat folders of clips
    arri.mkdir()
    make_clip(arri / "C003C001_260115_R1AB.mov")
    (arri / "C003C002_260115_R1AB.mov").write_bytes(noise(4096))  # damaged in the copy
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return root


def plan(*args: str, cwd: Path | None = None) -> Any:
    return run_cli("plan", *args, cwd=cwd)


def planned(spec: Path) -> list[tuple[str, str]]:
    """(source, output name) per clip, as `proxx validate --json` reads the JobSpec."""
    checked = run_cli("validate", "--json", str(spec))
    assert checked.returncode == 0, checked.stderr
    return [
        (c["source_path"], os.path.basename(c["output_path"]))
        for c in json.loads(checked.stdout)["clips"]
    ]


def test_a_camera_folder_becomes_one_valid_jobspec_with_one_source_per_clip(
    tmp_path: Path,
) -> None:
    cam, out = card(tmp_path / "camera"), tmp_path / "proxies"
    out.mkdir()
    done = plan(str(cam), *PROFILE, "--output-dir", str(out), "-o", str(tmp_path / "day1.json"))
    assert done.returncode == 0, done.stderr
    assert planned(tmp_path / "day1.json") == [
        (f"{cam}/A001/PRIVATE/M4ROOT/CLIP/C0001.MP4", "C0001_proxy.mov"),
        (f"{cam}/A001/PRIVATE/M4ROOT/CLIP/C0002.MP4", "C0002_proxy.mov"),
        (f"{cam}/B001/PRIVATE/AVCHD/BDMV/STREAM/00000.MTS", "00000_proxy.mov"),
        (f"{cam}/C003R1AB/C003C001_260115_R1AB.mov", "C003C001_260115_R1AB_proxy.mov"),
    ]
    # Everything else is named on stderr with why it was left out.
    err = done.stderr
    assert f"{cam}/A001/PRIVATE/M4ROOT/SUB/C0001S03.MP4: the camera's own proxy" in err
    assert f"{cam}/A001/PRIVATE/M4ROOT/THMBNL/C0001T01.JPG: Sony card structure" in err
    assert f"{cam}/A001/PRIVATE/M4ROOT/CLIP/C0001M01.XML: sidecar" in err
    assert f"{cam}/B001/sound.wav: audio only (1 audio stream, no video)" in err
    assert f"{cam}/B001/slate.png: a still image (png, demuxer png_pipe)" in err
    assert f"{cam}/B001/PRIVATE/AVCHD/BDMV/CLIPINF/00000.CPI: AVCHD card structure" in err
    assert f"{cam}/.DS_Store: hidden file" in err
    assert f"{cam}/C003R1AB/C003C002_260115_R1AB.mov: unsupported or damaged source" in err
    assert "001  ffmpeg   C0001_proxy.mov" in err  # the table: index, engine, output


def test_the_same_folder_and_options_give_the_same_bytes(tmp_path: Path) -> None:
    cam, out = tmp_path / "camera", tmp_path / "proxies"
    cam.mkdir()
    out.mkdir()
    make_clip(cam / "A.mov")
    os.utime(cam / "A.mov", (1_767_000_000, 1_767_000_000))
    args = (str(cam), *PROFILE, "--output-dir", str(out), "--user-metadata", "show=Night")
    first, second = plan(*args, "-o", str(tmp_path / "1.json")), plan(*args)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert (tmp_path / "1.json").read_bytes() == second.stdout.encode()
    spec = json.loads(second.stdout)
    assert spec["created_at"] == "2025-12-29T09:20:00Z"  # the clip's mtime, not the clock
    assert spec["user_metadata"] == {"show": "Night"}
    assert list(spec) == [  # the JobSpec's own field order
        "jobspec_version", "created_at", "sources", "output_dir", "output_name_template",
        "codec", "container", "fps_mode", "proxy_profile", "user_metadata",
    ]  # fmt: skip
    now = plan(*args, "--created-at", "now")
    assert json.loads(now.stdout)["created_at"] != spec["created_at"]


def test_colliding_names_take_index_by_default_and_refuse_a_chosen_template(
    tmp_path: Path,
) -> None:
    out = tmp_path / "proxies"
    out.mkdir()
    for roll in ("A", "B"):
        (tmp_path / roll).mkdir()
        make_clip(tmp_path / roll / "C001.mov")
    both = (str(tmp_path / "A"), str(tmp_path / "B"), *PROFILE, "--output-dir", str(out))
    auto = plan(*both)
    assert auto.returncode == 0, auto.stderr
    assert json.loads(auto.stdout)["output_name_template"] == "{index}_{source_name}_proxy"
    chosen = plan(*both, "--template", "{source_name}_edit", "-o", str(tmp_path / "j.json"))
    assert chosen.returncode == 1
    assert "both resolve to output name 'C001_edit.mov'" in chosen.stderr
    assert "fix: put {index} in --template" in chosen.stderr
    assert not (tmp_path / "j.json").exists()


def test_refusals_come_before_anything_is_written_with_the_fix(tmp_path: Path) -> None:
    cam, out, spec = tmp_path / "camera", tmp_path / "proxies", tmp_path / "job.json"
    cam.mkdir()
    out.mkdir()
    make_clip(cam / "A.mov")
    (out / "A_proxy.mov").write_bytes(b"an earlier proxy")
    exists = plan(str(cam), *PROFILE, "--output-dir", str(out), "-o", str(spec))
    assert exists.returncode == 1
    assert "already exists" in exists.stderr and "fix: move the existing proxies" in exists.stderr
    assert not spec.exists() and sorted(os.listdir(tmp_path)) == ["camera", "proxies"]
    rdc = cam / "A001_C001.RDC"
    rdc.mkdir()
    redcode(rdc / "A001_C001_001.R3D")
    mixed = plan(str(cam), *PROFILE, "--output-dir", str(out), "-o", str(spec))
    assert mixed.returncode == 1
    assert "camera RAW (1 clip(s)" in mixed.stderr and "fix: plan them apart" in mixed.stderr
    assert not spec.exists()
    nothing = plan(str(cam / "nothing.wav"), *PROFILE, "--output-dir", str(out))
    assert nothing.returncode == 1 and "no clip to plan" in nothing.stderr
    assert nothing.stdout == ""


def test_a_raw_clip_without_resolve_is_refused_with_exit_4(tmp_path: Path) -> None:
    rdc, out = tmp_path / "A001_0101AB.RDM" / "A001_C001_0101AB.RDC", tmp_path / "proxies"
    rdc.mkdir(parents=True)
    out.mkdir()
    for n in (1, 2):
        redcode(rdc / f"A001_C001_0101AB_00{n}.R3D")
    args = ("--profile", "proxy_prores_proxy_resolve", "--output-dir", str(out))
    done = plan(str(tmp_path / "A001_0101AB.RDM"), *args, "-o", str(tmp_path / "raw.json"))
    assert done.returncode == 4, done.stderr
    first = rdc / "A001_C001_0101AB_001.R3D"
    assert f"001  resolve  A001_C001_0101AB_001_proxy.mov  ←  {first}" in done.stderr
    assert "span 2 of 2" in done.stderr and "[RED .RDC (2 spans)]" in done.stderr
    assert "fix: plan RAW clips on a host with DaVinci Resolve" in done.stderr
    assert not (tmp_path / "raw.json").exists()


def test_dry_run_prints_the_table_and_writes_nothing(tmp_path: Path) -> None:
    cam, out = tmp_path / "camera", tmp_path / "proxies"
    cam.mkdir()
    out.mkdir()
    make_clip(cam / "A.mov")
    done = plan(str(cam), *PROFILE, "--output-dir", str(out), "-o", str(tmp_path / "j.json"),
                "--dry-run")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "001  ffmpeg   A_proxy.mov  ←  " + str(cam / "A.mov") in done.stderr
    assert done.stdout == "" and not (tmp_path / "j.json").exists()


def test_split_by_folder_writes_one_jobspec_per_roll_into_pending(tmp_path: Path) -> None:
    watch, out = tmp_path / "watch", tmp_path / "proxies"
    for state in ("pending", "running", "completed", "failed"):
        (watch / state).mkdir(parents=True)
    out.mkdir()
    for roll, name in (("A001", "C1.mov"), ("A001", "C2.mov"), ("B002", "C1.mov")):
        (tmp_path / "day" / roll).mkdir(parents=True, exist_ok=True)
        make_clip(tmp_path / "day" / roll / name)
    args = (str(tmp_path / "day"), *PROFILE, "--output-dir", str(out), "--split-by", "folder")
    done = plan(*args, "--into", str(watch), *ANY_ROOT)  # sources outside the watch folder
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(watch / "pending")) == ["A001.json", "B002.json"]
    assert [s for s, _ in planned(watch / "pending" / "A001.json")] == [
        str(tmp_path / "day" / "A001" / "C1.mov"),
        str(tmp_path / "day" / "A001" / "C2.mov"),
    ]
    again = plan(*args, "--into", str(watch), *ANY_ROOT)  # the same names: never overwritten
    assert again.returncode == 1 and "already exists" in again.stderr
    assert sorted(os.listdir(watch / "pending")) == ["A001.json", "B002.json"]


def test_split_by_folder_into_a_folder_and_the_option_refusals(tmp_path: Path) -> None:
    out, specs = tmp_path / "proxies", tmp_path / "specs"
    out.mkdir()
    specs.mkdir()
    for card_root in ("day/A001", "day/B002", "day2/x/CAM", "day2/y/CAM"):
        (tmp_path / card_root / "Clip").mkdir(parents=True)  # XDCAM: the roll is the card
        make_clip(tmp_path / card_root / "Clip" / f"{card_root.replace('/', '_')}.mov")
    opts = (*PROFILE, "--output-dir", str(out), "--split-by", "folder")
    done = plan(str(tmp_path / "day"), *opts, "-o", str(specs))
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(specs)) == ["A001.json", "B002.json"]
    same = plan(str(tmp_path / "day2"), *opts, "-o", str(specs))
    assert same.returncode == 1
    assert "two camera rolls are both named 'CAM'" in same.stderr
    assert sorted(os.listdir(specs)) == ["A001.json", "B002.json"]  # nothing written
    base = (str(tmp_path / "day"), *opts)
    refusals = {
        "--split-by folder writes several JobSpecs: give -o DIR or --into WATCH": plan(*base),
        "with --split-by folder, an existing folder": plan(*base, "-o", str(tmp_path / "no")),
        "--name names one JobSpec": plan(*base, "-o", str(specs), "--name", "x"),
        "give -o or --into, not both": plan(*base, "-o", str(specs), "--into", str(tmp_path)),
    }
    for why, refused in refusals.items():
        assert refused.returncode == 1 and why in refused.stderr, (why, refused.stderr)


def test_o_never_replaces_a_file_nor_writes_through_a_link(tmp_path: Path) -> None:
    cam, out = tmp_path / "camera", tmp_path / "proxies"
    cam.mkdir()
    out.mkdir()
    make_clip(cam / "A.mov")
    (tmp_path / "old.json").write_text("an operator's JobSpec")
    (tmp_path / "victim").write_text("not Proxx's")
    (tmp_path / "link.json").symlink_to(tmp_path / "victim")
    for name in ("old.json", "link.json"):
        done = plan(str(cam), *PROFILE, "--output-dir", str(out), "-o", str(tmp_path / name))
        assert done.returncode == 1 and "already exists; Proxx never overwrites" in done.stderr
    assert (tmp_path / "old.json").read_text() == "an operator's JobSpec"
    assert (tmp_path / "victim").read_text() == "not Proxx's"
    assert sorted(os.listdir(tmp_path)) == ["camera", "link.json", "old.json", "proxies", "victim"]
