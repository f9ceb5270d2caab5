"""A RAW job rendered the whole way by the Resolve engine (on the Resolve double), as a
watch folder files it: its result's `output_sha256` is the proxy's, `proxx report
--mhl` seals the proxy, and a worker killed right after publishing leaves a proxy
that recovery counts with that sha256 (from its publication record).

The worker is the real one with its Resolve engine on the double
(integration/fake_workers.py `resolve_double`): Resolve cannot run here, the
double's renders are real files (tests/resolve_double.py).
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xxhash

from integration.watch_folder import drop, result, spec, specs_in
from integration.watch_helpers import Launcher, assert_session_empty
from testkit import redcode, run_cli

RAW = {"codec": "prores_proxy", "proxy_profile": "proxy_prores_proxy_resolve"}
NS = {"m": "urn:ASC:MHL:v2.0"}


def _watch(root: Path, launcher: Launcher, target: str, env: dict[str, str], *args: str) -> str:
    """`watch --once` with the worker `target`; its log."""
    watch = launcher.driver(root, target, "--once", *args, env=env)
    assert watch.wait() == 0, watch.log()
    assert_session_empty(watch)
    return watch.log()


def _hashes(generation: Path) -> dict[str | None, str | None]:
    """Each file an MHL generation lists, with its xxh64."""
    return {
        h.findtext("m:path", namespaces=NS): h.findtext("m:xxh64", namespaces=NS)
        for h in ET.parse(generation).getroot().iterfind("m:hashes/m:hash", NS)
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_a_resolve_job_records_the_proxy_hash_and_report_mhl_seals_it(
    tmp_path: Path, root: Path, out: Path, launcher: Launcher
) -> None:
    r3d = redcode(tmp_path / "A001_C001.R3D")
    drop(root, "raw.json", spec([r3d], out, output_name_template="{source_name}_proxy", **RAW))
    _watch(root, launcher, "resolve_double", {"FAKE_RESOLVE_LOCK": str(tmp_path / "r.lock")})

    assert specs_in(root, "completed") == ["raw.json"]
    proxy = out / "A001_C001_proxy.mov"
    # Sealed, and nothing marked (exit 0): the result's hash is the proxy's.
    report = run_cli("report", str(root / "completed" / "raw.result.json"), "--mhl", timeout=300)
    assert report.returncode == 0, report.stderr
    (generation,) = (out / "ascmhl").glob("0001_*.mhl")
    assert _hashes(generation) == {proxy.name: xxhash.xxh64(proxy.read_bytes()).hexdigest()}

    res = result(root, "completed", "raw")
    [clip] = res["clips"]
    assert (res["execution_engine"], clip["engine"], clip["status"]) == (
        "resolve",
        "resolve",
        "COMPLETED",
    )
    assert clip["output_sha256"] == _sha256(proxy)
    fid = clip["fidelity"]
    assert (fid["source"]["frames"], fid["source"]["frame_rate"]) == (10, "25")
    assert (fid["proxy"]["frames"], fid["proxy"]["frame_rate"]) == (10, "25")
    assert fid["source"]["timecode"] == fid["proxy"]["timecode"] == "01:00:00:00"
    assert any("not compared" in n for n in fid["notes"])


@pytest.mark.slow
def test_watch_mhl_seals_a_resolve_proxy(
    tmp_path: Path, root: Path, out: Path, launcher: Launcher
) -> None:
    r3d = redcode(tmp_path / "A001_C001.R3D")
    drop(root, "raw.json", spec([r3d], out, output_name_template="{source_name}_proxy", **RAW))
    env = {"FAKE_RESOLVE_LOCK": str(tmp_path / "r.lock")}
    log = _watch(root, launcher, "resolve_double", env, "--mhl")

    assert specs_in(root, "completed") == ["raw.json"], log
    assert f"--mhl into {out} succeeded" in log
    proxy = out / "A001_C001_proxy.mov"
    (generation,) = (out / "ascmhl").glob("0001_*.mhl")
    assert _hashes(generation) == {proxy.name: xxhash.xxh64(proxy.read_bytes()).hexdigest()}


@pytest.mark.slow
def test_recovery_counts_a_resolve_proxy_with_its_sha256(
    tmp_path: Path, root: Path, out: Path, launcher: Launcher
) -> None:
    sources = [redcode(tmp_path / f"MISBEHAVE_{n}.R3D") for n in (1, 2)]
    drop(root, "raw.json", spec(sources, out, output_name_template="{source_name}_proxy", **RAW))
    spawns = tmp_path / "spawns.log"
    env = {"FAKE_RESOLVE_LOCK": str(tmp_path / "r.lock"), "FAKE_WORKER_LOG": str(spawns)}
    _watch(root, launcher, "resolve_double_dies_after_publish", env)

    assert spawns.read_text().count("misbehave") == 1, spawns.read_text()
    first, second = result(root, "failed", "raw")["clips"]
    final = out / "MISBEHAVE_1_proxy.mov"
    assert (first["status"], first["engine"]) == ("COMPLETED", "resolve"), first
    assert "published (verified) before the worker process" in first["failure_detail"]
    assert first["output_sha256"] == _sha256(final)
    assert first["output_size_bytes"] == final.stat().st_size
    assert second["failure_reason"] == "worker_crashed"
    assert not (out / "MISBEHAVE_2_proxy.mov").exists()
