"""`proxx report`: the relink report as a person sees it, in a real browser.

The demo's job and a PARTIAL job are rendered for real; each report is opened in
headless Chromium (tests/browser.py, the DevTools protocol over a pipe), which reads
the rows, the marks and the pictures after they decode, and records every request
the page makes.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from proxx.contract.deadlines import Deadlines
from proxx.deliver.looks import Ask, look_at
from testkit import make_clip, run_cli, write_spec
from tests.browser import Seen, see
from tests.report_jobs import demo_result, partial_result, report, run_job

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e

__all__ = ["demo_result", "partial_result"]  # module fixtures, used by name


def _no_network(seen: Seen, page: Path) -> None:
    """The page asked for itself and its own data: pictures, nothing else."""
    others = [u for u in seen.requests if u != page.resolve().as_uri()]
    assert others and all(u.startswith("data:image/png;base64,") for u in others), others


def test_demo_report_shows_three_rows_six_pictures_and_no_network(
    demo_result: Path, tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    proc = report(demo_result, "-o", page)
    assert proc.returncode == 0, proc.stderr
    seen = see(page)
    rows = seen.look["rows"]
    assert [r["id"] for r in rows] == ["clip-1", "clip-2", "clip-3"]
    assert [r["status"] for r in rows] == ["COMPLETED"] * 3 and not any(r["bad"] for r in rows)
    assert "01:02:10:12" in rows[1]["text"] and "24000/1001" in rows[1]["text"]
    assert "1920×1080" in rows[1]["text"] and "960×540" in rows[1]["text"]
    images = seen.look["images"]
    assert [i["cls"] for i in images] == ["thumb source", "thumb proxy"] * 3
    assert all(i["width"] == 160 and i["height"] == 90 for i in images), images
    assert seen.look["marks_class"] == "marks ok" and seen.look["marks"] == []
    _no_network(seen, page)


def test_the_network_check_sees_a_request(tmp_path: Path) -> None:
    """Control: a page that does reach out is caught (the check above can fail)."""
    page = tmp_path / "leaky.html"
    page.write_text('<!DOCTYPE html><img src="http://127.0.0.1:9/x.png"><table></table>\n')
    seen = see(page)
    assert "http://127.0.0.1:9/x.png" in seen.requests
    assert seen.look["images"] == [{"cls": "", "width": 0, "height": 0}]


def test_failed_and_skipped_clips_are_marked_at_the_top(
    partial_result: Path, tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    proc = report(partial_result, "-o", page)
    assert proc.returncode == 3, proc.stderr  # written, but the job needs a look
    assert "clip 2 b.mov: FAILED: execution_error" in proc.stderr
    seen = see(page)
    marks = seen.look["marks"]
    assert len(marks) == 2, marks
    assert marks[0].startswith("2. b.mov: FAILED: execution_error")
    assert marks[1].startswith("3. c.mov: SKIPPED")
    # seen without scrolling: the whole list sits inside the first screen
    assert seen.look["marks_class"] == "marks bad"
    assert seen.look["marks_box"]["bottom"] < seen.look["viewport_height"]
    assert [(r["status"], r["bad"]) for r in seen.look["rows"]] == [
        ("COMPLETED", False),
        ("FAILED", True),
        ("SKIPPED", True),
    ]
    # a.mov's two pictures, and one of each source that did not render
    assert [i["cls"] for i in seen.look["images"]] == [
        "thumb source",
        "thumb proxy",
        "thumb source",
        "thumb source",
    ]
    assert all(i["width"] == 160 for i in seen.look["images"])
    _no_network(seen, page)


def test_same_result_same_bytes(demo_result: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "1.html", tmp_path / "2.html"
    assert report(demo_result, "-o", first, "--csv", tmp_path / "1.csv").returncode == 0
    assert report(demo_result, "-o", second, "--csv", tmp_path / "2.csv").returncode == 0
    assert first.read_bytes() == second.read_bytes()
    assert (tmp_path / "1.csv").read_bytes() == (tmp_path / "2.csv").read_bytes()
    assert b"<img" in first.read_bytes()  # not equal because empty
    stdout = report(demo_result)  # no file asked for: the HTML on stdout
    assert stdout.returncode == 0 and stdout.stdout.encode() == first.read_bytes()


def test_csv_has_the_same_table(demo_result: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.csv"
    assert report(demo_result, "--csv", out).returncode == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    result = json.loads(demo_result.read_text())
    assert [r["output_path"] for r in rows] == [c["output_path"] for c in result["clips"]]
    street = rows[1]
    assert (street["source_timecode"], street["proxy_timecode"]) == ("01:02:10:12",) * 2
    assert (street["source_frame_size"], street["proxy_frame_size"]) == ("1920×1080", "960×540")
    assert street["timecode_differs"] == "no" and street["file_matches_sha256"] == "yes"
    assert street["output_sha256"] == result["clips"][1]["output_sha256"]


def test_a_forced_rate_is_marked_as_a_difference(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "s24.mov", rate="24")
    result = run_job(tmp_path, [src], fps_mode="force_25")
    out = tmp_path / "t.csv"
    proc = report(result, "--csv", out)
    assert proc.returncode == 3, proc.stderr
    (row,) = csv.DictReader(io.StringIO(out.read_text()))
    assert (row["source_frame_rate"], row["proxy_frame_rate"]) == ("24", "25")
    assert row["frame_rate_differs"] == "yes" and "frame rate differs: 24 → 25" in row["problems"]
    assert row["timecode_differs"] == "no"


def test_a_proxy_changed_and_a_source_gone_since_the_job_are_said(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "a.mov")
    result = run_job(tmp_path, [source])
    proxy = Path(json.loads(result.read_text())["clips"][0]["output_path"])
    data = bytearray(proxy.read_bytes())
    data[-100] ^= 0xFF
    proxy.write_bytes(bytes(data))
    source.unlink()
    page = tmp_path / "r.html"
    proc = report(result, "-o", page)
    assert proc.returncode == 3
    assert "clip 1 a.mov: the proxy's bytes no longer match output_sha256" in proc.stderr
    assert "clip 1 a.mov: source: cannot read it: No such file or directory" in proc.stderr
    html = page.read_text()
    assert "the file on disk does not match" in html
    assert '<td class="source">no picture</td>' in html


def test_an_existing_file_or_link_is_never_written_over(demo_result: Path, tmp_path: Path) -> None:
    taken = tmp_path / "taken.html"
    taken.write_text("mine\n")
    target = tmp_path / "target"
    link = tmp_path / "link.html"
    link.symlink_to(target)
    for path in (taken, link):
        proc = report(demo_result, "-o", path)
        assert proc.returncode == 1
        assert f"{path} already exists (or is a link)" in proc.stderr
    assert taken.read_text() == "mine\n" and not target.exists()


def test_what_is_not_a_result_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.json"
    junk.write_text('{"status": "COMPLETED"}')
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # would block a reader forever: refused, never opened for a wait
    for path, why in ((junk, "is not a Proxx result"), (fifo, "is not a regular file")):
        proc = report(path, "-o", tmp_path / "r.html")
        assert proc.returncode == 1 and why in proc.stderr, proc.stderr
    assert not (tmp_path / "r.html").exists()


def test_a_file_that_would_block_costs_its_own_look_only(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.mov"
    os.mkfifo(fifo)
    clip = make_clip(tmp_path / "a.mov")
    gone = tmp_path / "gone.mov"
    looks = look_at(
        [Ask(str(fifo), "0", 1.0), Ask(str(gone), "0", 1.0), Ask(str(clip), "1/2", 1.0)]
    )
    assert [lk.error for lk in looks[:2]] == [
        "not a regular file",
        "cannot read it: No such file or directory",
    ]
    assert looks[2].error is None and looks[2].png and (looks[2].width, looks[2].height) == (64, 36)


def _children() -> list[int]:
    """Our live child processes (the workers a look left behind, if any)."""
    kids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            kids.append(int(pid))
    return kids


def test_a_file_that_hangs_or_crashes_its_worker_costs_its_own_look_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent.parent))  # tests.fake_looks
    clip = make_clip(tmp_path / "a.mov")
    hang, crash = tmp_path / "HANG.mov", tmp_path / "CRASH.mov"
    for p in (hang, crash):
        p.write_bytes(clip.read_bytes())
    before = _children()
    looks = look_at(
        [Ask(str(p), "0", 1.0) for p in (clip, hang, clip, crash, clip)],
        deadlines=Deadlines(verify=lambda _: 5.0),
        target="tests.fake_looks:misbehave",
    )
    assert [lk.error for lk in looks] == [
        None,
        "no answer within 5 s (a hung mount, a FIFO?); the worker was killed",
        None,
        "the worker was killed by SIGSEGV on this file",
        None,
    ]
    assert all(lk.png for lk in looks[::2])
    assert _children() == before  # the hung worker went with its deadline


def test_a_job_that_never_ran_says_why_at_the_top(tmp_path: Path) -> None:
    missing = tmp_path / "missing.mov"
    spec = write_spec(tmp_path / "j.json", [str(missing)], tmp_path)
    result = tmp_path / "r.json"
    result.write_text(run_cli("run", str(spec)).stdout)
    page = tmp_path / "r.html"
    proc = report(result, "-o", page)
    assert proc.returncode == 3, proc.stderr
    html = page.read_text()
    top = html[html.index('<section id="marks" class="marks bad">') : html.index("</section>")]
    assert "The job rendered nothing" in top and str(missing) in top
    assert '<tr class="clip' not in html  # no clip rows: nothing ran
