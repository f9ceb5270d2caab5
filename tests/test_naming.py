"""Model-level tests of output naming: templates, tokens, safe and unique names.

Judged from the JobSpec alone (no processes), with hypothesis for the
properties that must hold for any template and any source name.
"""

from __future__ import annotations

import json
import os
import tempfile
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxx.contract.errors import ValidationError
from proxx.contract.naming import (
    MAX_NAME_BYTES,
    TOKENS,
    partial_path,
    record_path,
    template_tokens,
)
from proxx.contract.profiles import (
    PROFILES,
    Engine,
    fps_label,
)
from testkit import model_spec, names_of, refusal, refusal_of

FFMPEG_PROFILES = [p for p in PROFILES.values() if p.engine is Engine.FFMPEG]


# -- naming --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{reel}_proxy", "unknown token(s) {reel}"),
        ("{Source_Name}", "unknown token"),
        ("{}", "unknown token"),
        ("{source_name", "unbalanced"),
        ("a}b", "unbalanced"),
        ("{{index}}", "unbalanced"),
    ],
)
def test_bad_templates_are_rejected_by_the_model(template: str, expected: str) -> None:
    msg = refusal(output_name_template=template)
    assert expected in msg


def test_every_documented_token_resolves_from_the_spec_alone() -> None:
    template = "_".join("{" + t + "}" for t in TOKENS)
    assert set(template_tokens(template)) == set(TOKENS)
    got = names_of(
        template,
        ["/m/A001_C001.mov"],
        codec="prores_lt",
        proxy_profile="proxy_prores_lt",
        fps_mode="force_29_97",
    )
    # created_at 2026-01-15T09:30:00+01:00 stays as written: no host time zone involved.
    assert got == ["A001_C001_mov_001_prores_lt_proxy_prores_lt_29.97_20260115_093000.mov"]


@pytest.mark.parametrize(
    ("mode", "label"),
    [
        ("preserve_source", "source"),
        ("force_23_976", "23.976"),
        ("force_25", "25"),
        ("force_59_94", "59.94"),
    ],
)
def test_fps_token(mode: str, label: str) -> None:
    assert fps_label(mode) == label


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("a/{source_name}", "path separator"),
        ("..", "'..'"),
        ("{source_name}/..", "separator"),
        ("a\\b", "path separator"),
        ("a\x00b", "control character"),
        ("a\nb", "control character"),
        ("", "empty name"),
        ("   ", "empty name"),
        (".hidden", "starts with '.'"),
        ("x" * 10_000, "bytes"),
    ],
    ids=[
        "slash",
        "dotdot",
        "slash-dotdot",
        "backslash",
        "nul",
        "newline",
        "empty",
        "blank",
        "hidden",
        "10k",
    ],
)
def test_unsafe_names_are_rejected(template: str, expected: str) -> None:
    with pytest.raises(ValidationError, match="output name") as info:
        names_of(template, ["/m/clip.mov"])
    assert expected in str(info.value)


def test_a_long_name_is_shown_shortened_in_the_message() -> None:
    with pytest.raises(ValidationError) as info:
        names_of("x" * 10_000, ["/m/clip.mov"])
    assert len(str(info.value)) < 300


def test_multi_source_needs_index_or_source_name() -> None:
    msg = refusal_of(
        json.dumps(
            model_spec(sources=["/a.mov", "/b.mov"], output_name_template="{codec}_{date}")
        ).encode()
    )
    assert "{index} or {source_name}" in msg
    assert names_of("{index}", ["/a.mov", "/b.mov"]) == ["001.mov", "002.mov"]


def test_index_is_zero_padded_to_the_source_count() -> None:
    got = names_of("{index}", [f"/m/{i}.mov" for i in range(1000)])
    assert got[0] == "0001.mov" and got[-1] == "1000.mov"


def test_same_name_from_two_folders_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"sources\[0\] and sources\[1\] both resolve"):
        names_of("{source_name}", ["/a/clip.mov", "/b/clip.mov"])


@pytest.mark.parametrize(
    ("a", "b"), [("Clip", "clip"), ("STRASSE", "straße"), ("e\u0301", "\u00e9")]
)
def test_names_equal_ignoring_case_or_normalisation_are_rejected(a: str, b: str) -> None:
    with pytest.raises(ValidationError, match="both resolve"):
        names_of("{source_name}", [f"/m/{a}.mov", f"/n/{b}.mov"])


def test_unicode_names_work() -> None:
    assert names_of("日本語_{source_name}_é", ["/m/Ünïcødé 🎬.mov"]) == ["日本語_Ünïcødé 🎬_é.mov"]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(template=st.text(max_size=300), stem=st.text(max_size=60))
def test_any_accepted_name_is_one_safe_component_that_can_be_created(
    template: str, stem: str
) -> None:
    """Whatever the template and source, a name is either refused or safe to create,
    together with the temporary name it is rendered under."""
    template = template.replace("{", "").replace("}", "") + "{source_name}"
    source = "/m/" + stem.replace("/", "_") + ".mov"
    try:
        (name,) = names_of(template, [source])
    except ValidationError:
        return
    assert name.endswith(".mov") and os.path.basename(name) == name
    assert name not in (".", "..") and not name.startswith(".")
    assert not any(unicodedata.category(c) == "Cc" for c in name)
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    with tempfile.TemporaryDirectory() as tmp:
        final = os.path.join(tmp, name)
        temp = partial_path(final, "0123456789ab")
        private = os.path.dirname(temp)
        assert os.path.dirname(private) == tmp and os.path.basename(temp).startswith(".")
        os.mkdir(private)
        for path in (temp, record_path(temp), final):
            with open(path, "x"):
                pass
        assert sorted(os.listdir(tmp)) == sorted([os.path.basename(private), name])


def test_the_longest_allowed_name_still_has_room_for_its_temporary_name() -> None:
    stem = "x" * (MAX_NAME_BYTES - len(".mov"))
    (name,) = names_of(stem, ["/m/a.mov"])
    assert len(name.encode()) == MAX_NAME_BYTES
    temp = partial_path("/o/" + name, "f" * 32)
    for part in (temp, os.path.dirname(temp), record_path(temp)):
        assert len(os.path.basename(part).encode()) <= 255
    with pytest.raises(ValidationError, match="bytes"):
        names_of(stem + "x", ["/m/a.mov"])


@settings(max_examples=150)
@given(st.lists(st.text(alphabet="aAbBß.é-", min_size=1, max_size=4), min_size=1, max_size=6))
def test_resolved_names_are_unique_ignoring_case_or_refused(stems: list[str]) -> None:
    sources = [f"/d{i}/{s}.mov" for i, s in enumerate(stems)]
    try:
        got = names_of("{source_name}", sources)
    except ValidationError as exc:
        assert "both resolve to output name" in str(exc) or "output name" in str(exc)
        return
    keys = [unicodedata.normalize("NFC", n).casefold() for n in got]
    assert len(set(keys)) == len(keys)


@given(st.lists(st.text(alphabet="aAbB", min_size=1, max_size=3), min_size=2, max_size=6))
def test_index_names_are_always_unique_and_in_source_order(stems: list[str]) -> None:
    got = names_of("{index}_{source_name}", [f"/d/{s}.mov" for s in stems])
    assert got == [f"{i + 1:03d}_{s}.mov" for i, s in enumerate(stems)]
