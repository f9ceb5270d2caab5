"""The deploy/ recipes as systemd and cron read them (issue 18, "the service unit, hardened")."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"


def exposure(unit: Path, tmp_path: Path) -> float:
    # An instance of the template, as `systemctl enable proxx-watch@srv-proxx-watch` makes.
    instance = tmp_path / unit.name.replace("@.", "@srv-proxx-watch.")
    shutil.copy(unit, instance)
    out = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(instance)],
        capture_output=True,
        text=True,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out.stdout)
    assert found, out.stdout + out.stderr
    return float(found.group(1))


def test_the_watch_unit_is_sandboxed_to_an_exposure_of_at_most_2(tmp_path: Path) -> None:
    assert exposure(DEPLOY / "proxx-watch@.service", tmp_path) <= 2.0


def test_control_an_unhardened_unit_rates_far_worse(tmp_path: Path) -> None:
    bare = tmp_path / "bare@.service"
    bare.write_text("[Service]\nExecStart=/bin/true\n")
    assert exposure(bare, tmp_path) > 9.0


def test_a_fatal_configuration_error_is_not_restarted_in_a_loop() -> None:
    unit = (DEPLOY / "proxx-watch@.service").read_text()
    assert re.search(r"^RestartPreventExitStatus=1$", unit, re.M)
    assert re.search(r"^Restart=on-failure$", unit, re.M)


def test_the_cron_recipe_has_a_name_debians_cron_reads_and_a_log_the_user_can_write() -> None:
    # Debian's cron skips /etc/cron.d files whose names are not [A-Za-z0-9_-]+.
    (recipe,) = DEPLOY.glob("*cron*")
    assert re.fullmatch(r"[A-Za-z0-9_-]+", recipe.name)
    (line,) = [ln for ln in recipe.read_text().splitlines() if ln and not ln.startswith("#")]
    assert line.split()[5] == "proxx"  # the user it runs as
    tmpfiles = (DEPLOY / "proxx.tmpfiles").read_text()
    log = re.search(r">>(\S+)", line)
    assert log and log.group(1).startswith("/var/log/proxx/")
    assert re.search(r"^d /var/log/proxx\s+\d+ proxx proxx", tmpfiles, re.M)
    assert "/tmp/" not in line  # a lock in /tmp could be taken first by anyone
