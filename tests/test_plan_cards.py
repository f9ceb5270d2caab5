"""Camera card layouts → one candidate per clip, by names alone (proxx.content.cards).

The trees are built with stand-in files (a few bytes each): cards.py never opens
a file, so what it decides from the layout is all these tests see. Real media in
the same layouts goes through the CLI in test_plan_cli.py.
"""

from __future__ import annotations

import os
from pathlib import Path

from proxx.content.cards import scan_sources


def tree(root: Path, *names: str) -> Path:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"stand-in")
    return root


def picked(root: Path, *sources: Path) -> tuple[list[str], dict[str, str]]:
    scan = scan_sources([str(s) for s in sources or (root,)])

    def rel(path: str) -> str:
        return os.path.relpath(path, root)

    return [rel(c.path) for c in scan.candidates], {rel(x.path): x.reason for x in scan.left_out}


def test_a_spanned_red_clip_is_one_source_its_first_span(tmp_path: Path) -> None:
    rdm = "A001_0101AB.RDM"
    root = tree(
        tmp_path,
        f"{rdm}/A001_C001_0101AB.RDC/A001_C001_0101AB_001.R3D",
        f"{rdm}/A001_C001_0101AB.RDC/A001_C001_0101AB_002.R3D",
        f"{rdm}/A001_C001_0101AB.RDC/A001_C001_0101AB_003.R3D",
        f"{rdm}/A001_C001_0101AB.RDC/A001_C001_0101AB.RMD",
        f"{rdm}/A001_C002_0101AB.RDC/A001_C002_0101AB_001.R3D",
    )
    sources, left = picked(root)
    assert sources == [
        f"{rdm}/A001_C001_0101AB.RDC/A001_C001_0101AB_001.R3D",
        f"{rdm}/A001_C002_0101AB.RDC/A001_C002_0101AB_001.R3D",
    ]
    span2 = left[f"{rdm}/A001_C001_0101AB.RDC/A001_C001_0101AB_002.R3D"]
    assert "span 2 of 3" in span2 and "from the first (A001_C001_0101AB_001.R3D)" in span2
    assert "span 3 of 3" in left[f"{rdm}/A001_C001_0101AB.RDC/A001_C001_0101AB_003.R3D"]
    assert "RED look metadata" in left[f"{rdm}/A001_C001_0101AB.RDC/A001_C001_0101AB.RMD"]
    scan = scan_sources([str(root)])
    assert {c.roll for c in scan.candidates} == {str(root / rdm)}
    assert scan.candidates[0].layout == "RED .RDC (3 spans)"


def test_a_red_clip_missing_a_span_is_left_out_whole(tmp_path: Path) -> None:
    root = tree(tmp_path, "C.RDC/C_001.R3D", "C.RDC/C_003.R3D")
    sources, left = picked(root)
    assert sources == []
    assert left["C.RDC/C_001.R3D"] == "RED clip is incomplete: span(s) _002.R3D missing"
    assert left["C.RDC/C_003.R3D"] == "RED clip is incomplete: span(s) _002.R3D missing"


def test_xdcam_and_sony_xavc_cards_give_the_clip_folder_not_the_camera_proxies(
    tmp_path: Path,
) -> None:
    root = tree(
        tmp_path,
        "XD01/Clip/C0001.MXF",
        "XD01/Clip/C0001M01.XML",
        "XD01/Sub/C0001S01.MXF",
        "FX6/PRIVATE/M4ROOT/CLIP/C0001.MP4",
        "FX6/PRIVATE/M4ROOT/CLIP/C0001M01.XML",
        "FX6/PRIVATE/M4ROOT/SUB/C0001S03.MP4",
        "FX6/PRIVATE/M4ROOT/THMBNL/C0001T01.JPG",
        "FX6/PRIVATE/M4ROOT/MEDIAPRO.XML",
    )
    sources, left = picked(root)
    assert sources == ["FX6/PRIVATE/M4ROOT/CLIP/C0001.MP4", "XD01/Clip/C0001.MXF"]
    assert "camera's own proxy" in left["XD01/Sub/C0001S01.MXF"]
    assert "camera's own proxy" in left["FX6/PRIVATE/M4ROOT/SUB/C0001S03.MP4"]
    assert "Sony card structure" in left["FX6/PRIVATE/M4ROOT/THMBNL/C0001T01.JPG"]
    assert "sidecar" in left["XD01/Clip/C0001M01.XML"]
    rolls = {os.path.relpath(c.roll, root) for c in scan_sources([str(root)]).candidates}
    assert rolls == {"XD01", "FX6"}


def test_canon_xf_and_avchd_cards_give_their_clips_only(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        "XF/CONTENTS/CLIPS001/AA0001/AA000101.MXF",
        "XF/CONTENTS/CLIPS001/AA0001/AA0001A1.MXF",
        "XF/CONTENTS/CLIPS001/AA0001/AA0001.CPF",
        "XF/CONTENTS/CLIPS001/INDEX.MIF",
        "XF/CONTENTS/UNKNOWN.BIN",
        "HMC/PRIVATE/AVCHD/BDMV/STREAM/00000.MTS",
        "HMC/PRIVATE/AVCHD/BDMV/STREAM/00001.MTS",
        "HMC/PRIVATE/AVCHD/BDMV/CLIPINF/00000.CPI",
        "HMC/PRIVATE/AVCHD/BDMV/BACKUP/MovieObject.bdmv",
        "HMC/PRIVATE/AVCHD/BDMV/PLAYLIST/00000.MPL",
    )
    sources, left = picked(root)
    assert sources == [
        "HMC/PRIVATE/AVCHD/BDMV/STREAM/00000.MTS",
        "HMC/PRIVATE/AVCHD/BDMV/STREAM/00001.MTS",
        "XF/CONTENTS/CLIPS001/AA0001/AA000101.MXF",
    ]
    assert "audio track of clip AA0001" in left["XF/CONTENTS/CLIPS001/AA0001/AA0001A1.MXF"]
    assert "AVCHD card structure" in left["HMC/PRIVATE/AVCHD/BDMV/CLIPINF/00000.CPI"]
    assert "Canon XF clip metadata" in left["XF/CONTENTS/CLIPS001/AA0001/AA0001.CPF"]
    rolls = {os.path.relpath(c.roll, root) for c in scan_sources([str(root)]).candidates}
    assert rolls == {"XF", "HMC"}


def test_sidecars_hidden_files_links_and_fifos_are_left_out_by_name(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        "A001_C001.braw",
        "A001_C001.sidecar",
        "A001_C001.THM",
        "A001_C001.BIM",
        "A001_C001.ppn",
        ".DS_Store",
        "._A001_C001.braw",
    )
    (root / "link.mov").symlink_to(root / "A001_C001.braw")
    os.mkfifo(root / "fifo.mov")
    (root / "empty.mov").write_bytes(b"")
    sources, left = picked(root)
    assert sources == ["A001_C001.braw"]
    assert set(left) == {
        "A001_C001.sidecar",
        "A001_C001.THM",
        "A001_C001.BIM",
        "A001_C001.ppn",
        ".DS_Store",
        "._A001_C001.braw",
        "link.mov",
        "fifo.mov",
        "empty.mov",
    }
    assert "symbolic link" in left["link.mov"] and "FIFO" in left["fifo.mov"]


def test_order_is_bytewise_within_a_source_and_sources_keep_their_order(tmp_path: Path) -> None:
    root = tree(tmp_path, "b/Z.mov", "b/a.mov", "b/é.mov", "b/_.mov", "a/1.mov")
    sources, _ = picked(root, root / "b", root / "a")
    # Bytewise: "Z" (0x5a) < "_" (0x5f) < "a" (0x61) < "é" (0xc3 0xa9); then SOURCE a.
    assert sources == ["b/Z.mov", "b/_.mov", "b/a.mov", "b/é.mov", "a/1.mov"]


def test_a_card_marker_above_the_named_source_is_not_a_card(tmp_path: Path) -> None:
    """A folder called `private` above what the operator named does not make a card."""
    root = tree(tmp_path, "private/shoot/day1/A.mov", "private/shoot/day2/B.mov")
    scan = scan_sources([str(root / "private" / "shoot")])
    assert [os.path.relpath(c.roll, root) for c in scan.candidates] == [
        "private/shoot/day1",
        "private/shoot/day2",
    ]


def test_frames_of_an_image_sequence_are_left_out_not_planned_one_by_one(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        *(f"A001C001_R1AB/A001C001_R1AB.{n:07d}.ari" for n in range(3)),
        *(f"DNG/clip_{n:06d}.dng" for n in range(2)),
        "DNG/single_000001.dng",  # one numbered frame is no sequence: the probe decides
    )
    sources, left = picked(root)
    assert sources == ["DNG/single_000001.dng"]
    assert len(left) == 5
    why = left["A001C001_R1AB/A001C001_R1AB.0000001.ari"]
    assert "image sequence A001C001_R1AB.*.ari (3 frames)" in why
    assert "(2 frames)" in left["DNG/clip_000000.dng"]
