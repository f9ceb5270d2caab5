"""The MHL history in a shared output folder: no link followed, no torn chain (issue 18).

A user who can write the output folder must not make the runner write anywhere
else through `OUTPUT/ascmhl`. Each case runs the real MHL process
(`python -P -m proxx_workers.mhl`) on real files and looks at what a user sees: its
exit code and message, and the bytes and mtimes of what the link points to.

Two cases need the attacker (or the kill) to act at one moment inside the process:
a link planted at the new generation's name just before it is written, and a kill
-9 in the middle of the chain's writing. A small wrapper runs the MHL process
with `ascmhl`'s writer wrapped to do exactly that, then carries on as usual.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.report_jobs import report
from tests.test_report_mhl import NS, ascmhl, hashed, job

pytestmark = pytest.mark.e2e

# Runs proxx_workers.mhl with ascmhl's writers wrapped. argv: MODE REAL_ASCMHL then the
# worker's own. plant: just before a generation is written under NAME, a link is made
# at REAL_ASCMHL/NAME (the folder users see) to ../../victim. kill: the chain's writer is
# killed (-9) after its first element, the file half written. kill-publishing: killed
# between the generation's publication and the chain's.
_WRAPPER = """
import os, runpy, signal, sys
from ascmhl import chain_xml_parser, hashlist_xml_parser

mode, real = sys.argv[1], sys.argv[2]
del sys.argv[1:3]
if mode == "plant":
    write_hash_list = hashlist_xml_parser.write_hash_list
    def planted(hash_list, file_path):
        name = os.path.basename(file_path)
        victim = os.path.join(os.path.dirname(os.path.dirname(real)), "victim")
        os.symlink(victim, os.path.join(real, name))
        return write_hash_list(hash_list, file_path)
    hashlist_xml_parser.write_hash_list = planted
if mode == "kill":
    write_element = chain_xml_parser._write_xml_element_to_file
    def killed(file, element, indent):
        write_element(file, element, indent)
        file.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    chain_xml_parser._write_xml_element_to_file = killed
if mode == "kill-publishing":  # the generation is linked in; the chain's rename never comes
    os.rename = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
runpy.run_module("proxx_workers.mhl", run_name="__main__", alter_sys=True)
"""


def _mhl(
    root: Path, proxy: Path, *, job_id: str = "job1", wrap: tuple[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    sha = hashlib.sha256(proxy.read_bytes()).hexdigest()
    start = [sys.executable, "-P", "-c", _WRAPPER, *wrap] if wrap else [sys.executable, "-P", "-m"]
    module = [] if wrap else ["proxx_workers.mhl"]
    return subprocess.run(
        [*start, *module, str(root), "--job", job_id, sha, str(proxy)],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def _tree(top: Path) -> dict[str, tuple[str, bytes, int]]:
    """Every name under `top` (no link followed): its kind, bytes (files) and mtime."""
    seen: dict[str, tuple[str, bytes, int]] = {}
    for folder, dirs, files in os.walk(top):
        for name in dirs + files:
            path = Path(folder) / name
            st = path.lstat()
            data = path.read_bytes() if stat.S_ISREG(st.st_mode) else b""
            seen[str(path.relative_to(top))] = (stat.filemode(st.st_mode), data, st.st_mtime_ns)
    return seen


def _history(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A folder with a proxy and a real one-generation history; (folder, proxy)."""
    folder = tmp_path / name
    folder.mkdir()
    proxy = folder / "p.mov"
    proxy.write_bytes(f"the proxy of {name}".encode())
    first = _mhl(folder, proxy, job_id=f"first-{name}")
    assert first.returncode == 0, first.stderr
    return folder, proxy


def _leftovers(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder) if n.startswith(".proxx-mhl.") and n.endswith(".partial")]


def test_a_link_at_the_ascmhl_folder_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    """`OUTPUT/ascmhl` a link to another folder's history: ascmhl followed it and
    appended to that history (a generation, the chain rewritten)."""
    other, _ = _history(tmp_path, "other")
    before = _tree(other)
    out = tmp_path / "out"
    out.mkdir()
    proxy = out / "q.mov"
    proxy.write_bytes(b"the shared folder's proxy")
    (out / "ascmhl").symlink_to(other / "ascmhl")

    proc = _mhl(out, proxy)

    assert proc.returncode == 2 and proc.stdout == ""
    assert f"{out}/ascmhl is a symbolic link (to {other}/ascmhl): refused" in proc.stderr
    assert _tree(other) == before
    assert (out / "ascmhl").is_symlink() and _leftovers(out) == []


@pytest.mark.parametrize("kind", ["a FIFO", "a regular file"])
def test_anything_but_a_folder_at_ascmhl_is_refused(tmp_path: Path, kind: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    proxy = out / "p.mov"
    proxy.write_bytes(b"a proxy")
    if kind == "a FIFO":
        os.mkfifo(out / "ascmhl")  # opened, it would block whoever reads it
    else:
        (out / "ascmhl").write_bytes(b"not a history")
    proc = _mhl(out, proxy)
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"{out}/ascmhl is {kind}: refused" in proc.stderr
    assert sorted(os.listdir(out)) == ["ascmhl", "p.mov"]


def test_a_link_at_the_chain_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    """The chain file a link (here to a copy of the chain kept elsewhere, so that
    ascmhl can read it): ascmhl read it and then rewrote the target in place."""
    out, proxy = _history(tmp_path, "out")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    chain = out / "ascmhl" / "ascmhl_chain.xml"
    (elsewhere / "chain.xml").write_bytes(chain.read_bytes())
    chain.unlink()
    chain.symlink_to(elsewhere / "chain.xml")
    before = _tree(elsewhere)
    history = sorted(os.listdir(out / "ascmhl"))

    proc = _mhl(out, proxy, job_id="second")

    assert proc.returncode == 2 and proc.stdout == ""
    assert f"{chain} is a symbolic link (to {elsewhere}/chain.xml): refused" in proc.stderr
    assert _tree(elsewhere) == before
    assert sorted(os.listdir(out / "ascmhl")) == history  # no generation added
    assert _leftovers(out) == []


def test_a_fifo_in_the_history_is_refused(tmp_path: Path) -> None:
    out, proxy = _history(tmp_path, "out")
    os.mkfifo(out / "ascmhl" / "0002_out_2000-01-01_000000Z.mhl")
    proc = _mhl(out, proxy, job_id="second")
    assert proc.returncode == 2
    assert "0002_out_2000-01-01_000000Z.mhl is a FIFO, not a regular file: refused" in proc.stderr
    assert _leftovers(out) == []


def test_a_link_among_the_generations_is_refused(tmp_path: Path) -> None:
    """Planted before the append: ascmhl read it as a generation (through the link)."""
    out, proxy = _history(tmp_path, "out")
    victim = tmp_path / "victim"
    victim.write_bytes(b"the runner's file, elsewhere")
    planted = out / "ascmhl" / "0002_out_2000-01-01_000000Z.mhl"
    planted.symlink_to(victim)
    proc = _mhl(out, proxy, job_id="second")
    assert proc.returncode == 2
    assert f"{planted} is a symbolic link (to {victim}): refused" in proc.stderr
    assert victim.read_bytes() == b"the runner's file, elsewhere"


def test_a_link_planted_at_the_next_generation_name_is_refused(tmp_path: Path) -> None:
    """The new generation's name is predictable (`0002_out_<UTC second>.mhl`): a link
    made there while the generation is being made (the wrapper plants it just
    before the write) had ascmhl write the generation through it."""
    out, proxy = _history(tmp_path, "out")
    victim = tmp_path / "victim"
    victim.write_bytes(b"the runner's file, elsewhere")
    mtime = victim.stat().st_mtime_ns

    proc = _mhl(out, proxy, job_id="second", wrap=("plant", str(out / "ascmhl")))

    assert proc.returncode == 2, proc.stderr
    (planted,) = [p for p in (out / "ascmhl").iterdir() if p.is_symlink()]
    assert planted.name.startswith("0002_out_")
    assert f"{planted} already exists: is a symbolic link (to {victim})" in proc.stderr
    assert "the new generation is not written" in proc.stderr
    assert victim.read_bytes() == b"the runner's file, elsewhere"
    assert victim.stat().st_mtime_ns == mtime
    chain = ET.parse(out / "ascmhl" / "ascmhl_chain.xml").getroot()
    assert [h.get("sequencenr") for h in chain.iterfind("d:hashlist", NS)] == ["1"]
    assert _leftovers(out) == []


def test_a_folder_someone_else_owns_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("making a folder another user owns needs root")
    out, proxy = _history(tmp_path, "out")
    os.chown(out / "ascmhl", 12345, 12345)
    before = _tree(out / "ascmhl")
    proc = _mhl(out, proxy, job_id="second")
    assert proc.returncode == 2
    assert f"{out}/ascmhl belongs to uid 12345, not to the runner" in proc.stderr
    assert _tree(out / "ascmhl") == before


def test_a_kill_in_the_chain_rewrite_leaves_the_old_chain_and_the_next_append_sweeps(
    tmp_path: Path,
) -> None:
    out, proxy = _history(tmp_path, "out")
    before = _tree(out / "ascmhl")

    killed = _mhl(out, proxy, job_id="second", wrap=("kill", str(out / "ascmhl")))

    assert killed.returncode == -9
    assert _tree(out / "ascmhl") == before  # the old chain, whole; no generation 2
    chain = ET.parse(out / "ascmhl" / "ascmhl_chain.xml").getroot()
    assert [h.get("sequencenr") for h in chain.iterfind("d:hashlist", NS)] == ["1"]
    # The killed append's private folder (0700), with its torn copy: `ascmhl verify`
    # run as the runner would take it for a nested history until it is swept.
    assert len(_leftovers(out)) == 1
    again = _mhl(out, proxy, job_id="second")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["sequence"] == 2
    assert _leftovers(out) == []  # swept, under the folder's lock
    verified = ascmhl("verify", out)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_same_job_twice_gets_one_generation(tmp_path: Path) -> None:
    """Idempotent per job: the generation names the job, so asking again (a job-end
    action replayed after a kill) answers it instead of writing another."""
    out = tmp_path / "out"
    out.mkdir()
    result = job(tmp_path / "a", out, ["a1.mov"])
    first = report(result, "--mhl")
    assert first.returncode == 0, first.stderr
    (gen,) = (out / "ascmhl").glob("*.mhl")
    before = _tree(out / "ascmhl")

    again = report(result, "--mhl")

    assert again.returncode == 0, again.stderr
    assert f"ASC MHL generation 1: {gen} (1 proxies, this job's, already in the history" in (
        again.stderr
    )
    assert _tree(out / "ascmhl") == before
    assert list(hashed(gen)) == ["a1_proxy.mov"]
    job_id = json.loads(result.read_text())["job_id"]
    assert ET.parse(gen).getroot().findtext("m:creatorinfo/m:comment", namespaces=NS) == (
        f"Proxx job {job_id}"
    )


def test_the_report_says_why_the_link_is_refused(tmp_path: Path) -> None:
    """What a user of `proxx report --mhl` sees: exit 1 and the reason."""
    other, _ = _history(tmp_path, "other")
    before = _tree(other)
    out = tmp_path / "out"
    out.mkdir()
    (out / "ascmhl").symlink_to(other / "ascmhl")
    result = job(tmp_path / "a", out, ["a1.mov"])

    proc = report(result, "--mhl")

    assert proc.returncode == 1
    assert "no ASC MHL: ascmhl failed (exit 2): ascmhl history refused: " in proc.stderr
    assert f"{out}/ascmhl is a symbolic link (to {other}/ascmhl): refused" in proc.stderr
    assert _tree(other) == before


def test_a_kill_between_the_generation_and_the_chain_is_mended_by_the_same_job(
    tmp_path: Path,
) -> None:
    out, proxy = _history(tmp_path, "out")
    killed = _mhl(out, proxy, job_id="second", wrap=("kill-publishing", str(out / "ascmhl")))
    assert killed.returncode == -9
    (orphan,) = (out / "ascmhl").glob("0002_*.mhl")  # published, not in the chain yet
    chain = out / "ascmhl" / "ascmhl_chain.xml"
    listed = [h.get("sequencenr") for h in ET.parse(chain).getroot().iterfind("d:hashlist", NS)]
    assert listed == ["1"]

    again = _mhl(out, proxy, job_id="second")

    assert again.returncode == 0, again.stderr
    answer = json.loads(again.stdout)
    assert (answer["generation"], answer["sequence"]) == (str(orphan), 2)
    assert sorted(p.name[:5] for p in (out / "ascmhl").glob("*.mhl")) == ["0001_", "0002_"]
    paths = [e.text for e in ET.parse(chain).getroot().iterfind("d:hashlist/d:path", NS)]
    assert paths[-1] == orphan.name and len(paths) == 2
    verified = ascmhl("verify", out)
    assert verified.returncode == 0, verified.stdout + verified.stderr
