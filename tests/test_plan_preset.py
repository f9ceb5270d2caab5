"""Presets: `proxx validate --preset` checks one alone; `proxx plan --preset` uses it, options
over it. The docs' example presets are checked as shipped (docs/PLANNING.md)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from testkit import make_clip, run_cli

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e

DOCS = Path(__file__).resolve().parent.parent / "docs" / "PLANNING.md"


def doc_presets() -> dict[str, str]:
    """Each ```toml block in docs/PLANNING.md that starts with `# preset: NAME`."""
    blocks = re.findall(r"```toml\n(# preset: (\S+)\n.*?)```", DOCS.read_text(), re.S)
    return {name: text for text, name in blocks}


def test_the_docs_ship_three_example_presets() -> None:
    assert sorted(doc_presets()) == ["avid-dnxhr-mxf", "offline-edit", "resolve-prores"]


@pytest.mark.parametrize("name", sorted(doc_presets()))
def test_each_example_preset_in_the_docs_is_valid(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.toml"
    path.write_text(doc_presets()[name])
    done = run_cli("validate", "--preset", str(path), "--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("valid preset: proxy_profile=")
    report = json.loads(done.stdout)
    assert report["valid"] is True and report["fields"]["proxy_profile"].startswith("proxy_")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('proxy_profile = "proxy_h264_low"\nsource = "x"\n', "source: unknown field"),
        ('proxy_profile = "nope"\n', "unknown profile 'nope'"),
        (
            'proxy_profile = "proxy_dnxhr_lb"\ncontainer = "mp4"\n',
            "codec 'dnxhr_lb' cannot go in container 'mp4'",
        ),
        ('proxy_profile = "proxy_h264_low"\noutput_name_template = "{take}"\n', "{take}"),
        ('codec = "h264"\n', "proxy_profile: required field is missing"),
        ('proxy_profile = "proxy_h264_low"\nfps_mode = 25\n', "fps_mode"),
        ("proxy_profile = ", "not valid TOML"),
    ],
)
def test_a_bad_preset_is_refused_with_the_field_named(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "show.toml"
    path.write_text(text)
    done = run_cli("validate", "--preset", str(path))
    assert done.returncode == 1
    assert why in done.stderr and str(path) in done.stderr


def test_a_json_preset_reads_like_a_toml_one_and_a_fifo_is_not_opened(tmp_path: Path) -> None:
    (tmp_path / "show.json").write_text(json.dumps({"proxy_profile": "proxy_prores_proxy"}))
    assert run_cli("validate", "--preset", str(tmp_path / "show.json")).returncode == 0
    os.mkfifo(tmp_path / "fifo.toml")  # nobody writes it: opening it to read would block
    done = run_cli("validate", "--preset", str(tmp_path / "fifo.toml"))
    assert done.returncode == 1 and "not a regular file" in done.stderr


def test_plan_uses_the_preset_and_options_override_it(tmp_path: Path) -> None:
    cam, out = tmp_path / "cam", tmp_path / "proxies"
    cam.mkdir()
    out.mkdir()
    make_clip(cam / "A.mov")
    preset = tmp_path / "show.toml"
    preset.write_text(
        f'proxy_profile = "proxy_h264_low"\noutput_dir = "{out}"\n'
        'output_name_template = "{source_name}_offline"\n'
        '[user_metadata]\nshow = "Night Shift"\nseason = 2\n'
    )
    done = run_cli("plan", str(cam), "--preset", str(preset), "--user-metadata", "season=3",
                   "--container", "mp4")  # fmt: skip
    assert done.returncode == 0, done.stderr
    spec = json.loads(done.stdout)
    assert spec["output_dir"] == str(out)
    assert spec["output_name_template"] == "{source_name}_offline"
    assert spec["container"] == "mp4"  # the option over the preset's default (mov)
    assert spec["user_metadata"] == {"show": "Night Shift", "season": "3"}
    pinned = tmp_path / "pinned.toml"  # names its codec: another profile contradicts it
    pinned.write_text(f'proxy_profile = "proxy_h264_low"\ncodec = "h264"\noutput_dir = "{out}"\n')
    clash = run_cli("plan", str(cam), "--preset", str(pinned), "--profile", "proxy_prores_lt")
    assert clash.returncode == 1
    assert "profile 'proxy_prores_lt' renders prores_lt, not 'h264'" in clash.stderr
    assert clash.stdout == ""


def test_plan_without_a_profile_or_output_dir_says_which_to_give(tmp_path: Path) -> None:
    no_profile = run_cli("plan", str(tmp_path), "--output-dir", str(tmp_path))
    assert no_profile.returncode == 1 and "give --profile PROFILE or --preset" in no_profile.stderr
    no_out = run_cli("plan", str(tmp_path), "--profile", "proxy_h264_low")
    assert no_out.returncode == 1 and "give --output-dir DIR" in no_out.stderr
