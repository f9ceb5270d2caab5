"""`proxx report --mhl`: an ASC MHL generation, checked by the ASC's own `ascmhl` commands.

The checks call the commands `ascmhl-debug` runs (`xsd-schema-check`, `verify`) from the
`ascmhl` package itself, without its command-line group: that group asks GitHub for a
newer release on every start, and a test makes no network request. The schemas are the
ASC's (tests/data/ascmhl/, which the wheel does not ship).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from testkit import make_clip, run_cli, write_spec
from tests.report_jobs import report

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e

XSD = Path(__file__).parent / "data" / "ascmhl"
NS = {"m": "urn:ASC:MHL:v2.0", "d": "urn:ASC:MHL:DIRECTORY:v2.0"}


def ascmhl(command: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """`ascmhl-debug COMMAND ARGS…`, as the package runs it (exit code and all)."""
    code = f"import sys; from ascmhl import commands; commands.{command}.main(sys.argv[1:])"
    return subprocess.run(
        [sys.executable, "-c", code, *(str(a) for a in args)],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def job(folder: Path, out: Path, names: list[str]) -> Path:
    """A real `proxx run` of tiny clips into `out`; its result in a file."""
    folder.mkdir()
    sources = [str(make_clip(folder / n)) for n in names]
    spec = write_spec(folder / "job.json", sources, out)
    proc = run_cli("run", str(spec), timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = folder / "job.result.json"
    result.write_text(proc.stdout)
    return result


def hashed(generation: Path) -> dict[str, str]:
    root = ET.parse(generation).getroot()
    return {
        h.findtext("m:path", namespaces=NS) or "": h.findtext("m:xxh64", namespaces=NS) or ""
        for h in root.iterfind("m:hashes/m:hash", NS)
    }


def test_mhl_passes_the_schema_and_verification_and_a_tampered_proxy_fails(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = job(tmp_path / "a", out, ["a1.mov", "a2.mov"])
    proc = report(result, "--mhl")
    assert proc.returncode == 0, proc.stderr
    (generation,) = (out / "ascmhl").glob("0001_*.mhl")
    assert f"ASC MHL generation 1: {generation} (2 proxies)" in proc.stderr
    assert sorted(hashed(generation)) == ["a1_proxy.mov", "a2_proxy.mov"]
    assert all(len(h) == 16 for h in hashed(generation).values())  # xxh64, hex
    schema = ascmhl("xsd_schema_check", generation, "--xsd_file", XSD / "ASCMHL.xsd")
    assert schema.returncode == 0, schema.stderr
    verified = ascmhl("verify", out)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    proxy = out / "a2_proxy.mov"
    data = bytearray(proxy.read_bytes())
    data[-100] ^= 0xFF
    proxy.write_bytes(bytes(data))
    tampered = ascmhl("verify", out)
    assert tampered.returncode != 0
    assert "hash mismatch" in tampered.stdout + tampered.stderr
    assert "a2_proxy.mov" in tampered.stdout + tampered.stderr
    # and Proxx will not seal the changed file in a new generation
    again = report(result, "--mhl")
    assert again.returncode == 1 and "a2_proxy.mov" in again.stderr
    assert "no longer match output_sha256" in again.stderr
    assert len(list((out / "ascmhl").glob("*.mhl"))) == 1


def test_a_second_job_appends_a_generation_and_keeps_the_history(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    first = job(tmp_path / "a", out, ["a1.mov"])
    assert report(first, "--mhl").returncode == 0
    second = job(tmp_path / "b", out, ["b1.mov", "b2.mov"])
    proc = report(second, "--mhl")
    assert proc.returncode == 0, proc.stderr
    gens = sorted((out / "ascmhl").glob("*.mhl"))
    assert [g.name[:5] for g in gens] == ["0001_", "0002_"]
    assert sorted(hashed(gens[0])) == ["a1_proxy.mov"]
    assert sorted(hashed(gens[1])) == ["b1_proxy.mov", "b2_proxy.mov"]
    chain = out / "ascmhl" / "ascmhl_chain.xml"
    listed = [e.text for e in ET.parse(chain).getroot().iterfind("d:hashlist/d:path", NS)]
    assert listed == [g.name for g in gens]
    combined = XSD / "ASCMHLDirectory__combined.xsd"
    schema = ascmhl("xsd_schema_check", chain, "--directory_file", "--xsd_file", combined)
    assert schema.returncode == 0, schema.stderr
    verified = ascmhl("verify", out)  # every proxy of both jobs, against the whole history
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_proxy_whose_result_records_no_sha256_is_not_sealed(tmp_path: Path) -> None:
    """As a Resolve proxy's result was before its engine recorded the hash: refused,
    saying so (not that the bytes changed), and no generation is written."""
    out = tmp_path / "out"
    out.mkdir()
    result = job(tmp_path / "a", out, ["a1.mov"])
    data = json.loads(result.read_text())
    data["clips"][0]["output_sha256"] = None
    result.write_text(json.dumps(data))
    proc = report(result, "--mhl")
    assert proc.returncode == 1, proc.stderr
    assert "the result records no output_sha256 for these proxies: a1_proxy.mov" in proc.stderr
    assert "clip 1 a1.mov: the result records no output_sha256 for this proxy" in proc.stderr
    assert not (out / "ascmhl").exists()


def test_a_job_that_published_nothing_gets_no_mhl(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "j.json", [str(tmp_path / "missing.mov")], tmp_path)
    run = run_cli("run", str(spec))
    assert json.loads(run.stdout)["status"] == "FAILED"
    result = tmp_path / "r.json"
    result.write_text(run.stdout)
    proc = report(result, "--mhl")
    assert proc.returncode == 1
    assert "no ASC MHL: the job published no proxy" in proc.stderr
    assert not (tmp_path / "ascmhl").exists()


def test_the_mhl_process_seals_nothing_whose_sha256_differs(tmp_path: Path) -> None:
    """workers/mhl.py itself: a file whose bytes are not the result's is refused before
    ascmhl runs (the report's own check is not the only one)."""
    proxy = tmp_path / "p.mov"
    proxy.write_bytes(b"not what the result hashed")
    wrong = "0" * 64
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "proxx_workers.mhl", str(tmp_path), wrong, str(proxy)],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"{proxy} no longer has the result's output_sha256" in proc.stderr
    assert not (tmp_path / "ascmhl").exists()
    right = hashlib.sha256(proxy.read_bytes()).hexdigest()
    argv = [sys.executable, "-P", "-m", "proxx_workers.mhl", str(tmp_path), right, str(proxy)]
    made = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["sequence"] == 1
    (gen,) = (tmp_path / "ascmhl").glob("0001_*.mhl")
    assert list(hashed(gen)) == ["p.mov"]


def _mhl_process(root: Path, proxy: Path) -> subprocess.Popen[str]:
    sha = hashlib.sha256(proxy.read_bytes()).hexdigest()
    return subprocess.Popen(
        [sys.executable, "-P", "-m", "proxx_workers.mhl", str(root), sha, str(proxy)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def test_appends_to_one_folder_take_turns_on_its_lock(tmp_path: Path) -> None:
    """ascmhl numbers a generation from the history it read and rewrites the chain in
    place: a second append waits for the folder's lock, and the lock file is gone after."""
    proxy = tmp_path / "p.mov"
    proxy.write_bytes(b"a proxy's bytes")
    lock = tmp_path / ".proxx-mhl.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another append, under way
    proc = _mhl_process(tmp_path, proxy)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=3)  # ascmhl and its imports take < 1 s
        assert not (tmp_path / "ascmhl").exists()
    finally:
        os.close(fd)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert json.loads(out)["sequence"] == 1
    assert not lock.exists()  # not a new file for `ascmhl verify`
    assert ascmhl("verify", tmp_path).returncode == 0


def test_a_link_at_the_lock_name_is_refused(tmp_path: Path) -> None:
    proxy = tmp_path / "p.mov"
    proxy.write_bytes(b"a proxy's bytes")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"keep")
    (tmp_path / ".proxx-mhl.lock").symlink_to(elsewhere)
    proc = _mhl_process(tmp_path, proxy)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and out == ""
    assert "ascmhl create failed" in err and ".proxx-mhl.lock" in err
    assert not (tmp_path / "ascmhl").exists()
    assert elsewhere.read_bytes() == b"keep"
