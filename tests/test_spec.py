"""Model-level tests of the JobSpec contract: parsing, fields, naming, fingerprints, tables.

No processes here: everything judged from the JSON alone (plus naming and the
profile tables), with hypothesis for the properties that must hold for any input.
"""

from __future__ import annotations

import json
import os
import random
import string
import tempfile
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from proxx.content.plan import output_names
from proxx.content.spec import fingerprint, load_spec, parse_json_object
from proxx.contract.errors import ExitCode, FailureReason, ValidationError
from proxx.contract.naming import MAX_NAME_BYTES, TOKENS, partial_path, template_tokens
from proxx.contract.profiles import (
    CODEC_CONTAINERS,
    CODECS,
    CONTAINERS,
    FORCED_RATES,
    FPS_MODES,
    PROFILES,
    Engine,
    FrameSize,
    fps_label,
)
from proxx.contract.results import ClipResult, build_result, job_status

BASE: dict[str, Any] = {
    "jobspec_version": "1.0.0",
    "created_at": "2026-01-15T09:30:00+01:00",
    "sources": ["/media/A001_C001.mov"],
    "output_dir": "/proxies",
    "output_name_template": "{source_name}_proxy",
    "codec": "h264",
    "container": "mov",
    "fps_mode": "preserve_source",
    "proxy_profile": "proxy_h264_low",
}
FFMPEG_PROFILES = [p for p in PROFILES.values() if p.engine is Engine.FFMPEG]
LEGACY_IDS = [
    "proxy_h264_low",
    "proxy_h264_quarter",
    "proxy_prores_proxy",
    "proxy_prores_lt",
    "proxy_dnxhr_lb",
    "proxy_prores_proxy_resolve",
    "proxy_prores_lt_resolve",
    "proxy_prores_hq_resolve",
    "proxy_dnxhr_lb_resolve",
    "proxy_dnxhr_sq_resolve",
]


def spec(**overrides: Any) -> dict[str, Any]:
    out = dict(BASE)
    out.update(overrides)
    return out


def load(obj: Any) -> Any:
    return load_spec(json.dumps(obj, ensure_ascii=False).encode("utf-8"))


def reason(data: bytes) -> str:
    with pytest.raises(ValidationError) as info:
        load_spec(data)
    return str(info.value)


def refusal(**overrides: Any) -> str:
    """Why load_spec refuses the base JobSpec with `overrides` applied."""
    return reason(json.dumps(spec(**overrides)).encode())


def names(template: str, sources: list[str], **overrides: Any) -> list[str]:
    return output_names(
        load(spec(output_name_template=template, sources=sources, **overrides)), sources
    )


# -- parsing -------------------------------------------------------------------------------------


def test_a_complete_spec_loads_with_every_field() -> None:
    loaded = load(spec(user_metadata={"project": "x", "reel": 3, "ratio": 1.5, "ok": True}))
    assert loaded.sources == ["/media/A001_C001.mov"]
    assert loaded.user_metadata == {"project": "x", "reel": 3, "ratio": 1.5, "ok": True}
    assert loaded.created == datetime(2026, 1, 15, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"{not json", "invalid JSON"),
        (b"", "invalid JSON"),
        (b"[1, 2]", "a JobSpec is a JSON object, not a JSON array"),
        (b"42", "not a JSON number"),
        (b'"text"', "not a JSON string"),
        (b"true", "not a JSON boolean"),
        (b"null", "not a JSON null"),
        (b"\xff\xfe{}", "not UTF-8"),
        (json.dumps(spec(user_metadata={"x": 1})).replace("1}", "NaN}").encode(), "NaN"),
    ],
    ids=["garbage", "empty", "array", "number", "string", "bool", "null", "not-utf8", "nan"],
)
def test_unparseable_input_is_named(data: bytes, expected: str) -> None:
    assert expected in reason(data)


def test_duplicate_keys_are_rejected_not_last_one_wins() -> None:
    text = json.dumps(spec())[:-1] + ', "codec": "hevc"}'
    assert "duplicate" in reason(text.encode()) and "codec" in reason(text.encode())


def test_a_lone_surrogate_escape_is_a_validation_error_not_a_crash() -> None:
    # Valid JSON, valid UTF-8 bytes, but "\ud800" cannot become a file name or UTF-8 output.
    text = json.dumps(spec(sources=["/media/x.mov"])).replace("x.mov", "\\ud800.mov")
    msg = reason(text.encode())
    assert "sources" in msg and "surrogate" in msg


def test_an_infinite_number_is_rejected() -> None:
    text = json.dumps(spec(user_metadata={"x": 1})).replace(": 1}", ": 1e400}")
    assert "1e400 is out of range" in reason(text.encode())


def test_oversized_spec_is_rejected_before_parsing() -> None:
    assert "limit" in reason(b" " * (1024 * 1024 + 1))


@pytest.mark.parametrize("field", sorted(BASE))
def test_every_required_field_is_required(field: str) -> None:
    obj = spec()
    del obj[field]
    assert f"{field}: required field is missing" in reason(json.dumps(obj).encode())


def test_unknown_fields_are_named() -> None:
    msg = refusal(priority=1, outputDir="/x")
    assert "priority: unknown field" in msg and "outputDir: unknown field" in msg


@pytest.mark.parametrize("version", ["1.0", "1.0.1", "2.0.0", " 1.0.0", "v1.0.0"])
def test_only_version_1_0_0_is_read(version: str) -> None:
    msg = refusal(jobspec_version=version)
    assert "jobspec_version" in msg and repr(version) in msg


def test_version_must_be_a_string() -> None:
    assert "jobspec_version" in refusal(jobspec_version=1.0)


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-15T09:30:00Z",
        "2026-01-15T09:30:00+01:00",
        "2026-01-15T09:30:00.123-05:30",
        "2026-01-15T09:30:00+00:00",
    ],
)
def test_created_at_with_offset_is_accepted(value: str) -> None:
    assert load(spec(created_at=value)).created.utcoffset() is not None


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("created_at", "yesterday", "not an ISO 8601"),
        ("created_at", "2026-13-01T00:00:00Z", "not an ISO 8601"),
        ("created_at", "", "not an ISO 8601"),
        ("created_at", "2026-01-15T09:30:00", "no UTC offset"),
        ("created_at", "2026-01-15", "no UTC offset"),
        ("sources", [], "at least 1 item"),
        ("sources", "/a.mov", "valid list"),
        ("sources", [""], "sources[0] is empty"),
        ("sources", ["/a.mov", "/b\x00.mov"], "sources[1] contains a NUL"),
        ("sources", [3], "sources.0"),
        ("output_dir", "proxies", "not an absolute path"),
        ("output_dir", "./out", "not an absolute path"),
        ("output_dir", "", "not an absolute path"),
        ("output_dir", "/out\x00x", "NUL"),
    ],
)
def test_bad_field_is_named(field: str, value: Any, expected: str) -> None:
    msg = refusal(**{field: value})
    assert field in msg and expected in msg


@given(st.datetimes(timezones=st.timezones()))
def test_any_aware_timestamp_round_trips(ts: datetime) -> None:
    assume(ts.utcoffset() is not None)
    created = load(spec(created_at=ts.isoformat())).created
    assert created.isoformat() == ts.isoformat()  # the offset as written, not the host's


@given(st.datetimes())
def test_any_naive_timestamp_is_rejected(ts: datetime) -> None:
    assert "no UTC offset" in refusal(created_at=ts.isoformat())


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("container", CONTAINERS)
def test_codec_container_pairs_follow_the_published_table(codec: str, container: str) -> None:
    profile = next(p.name for p in FFMPEG_PROFILES if codec in p.codecs)
    obj = spec(codec=codec, container=container, proxy_profile=profile)
    allowed = {
        "h264": {"mp4", "mov"},
        "hevc": {"mp4", "mov"},
        "dnxhr_lb": {"mov", "mxf"},
        "dnxhr_sq": {"mov", "mxf"},
        "dnxhr_hq": {"mov", "mxf"},
    }.get(codec, {"mov"})  # DESIGN §3: ProRes → mov only
    assert set(CODEC_CONTAINERS[codec]) == allowed
    if container in allowed:
        assert load(obj).container == container
    else:
        msg = reason(json.dumps(obj).encode())
        assert f"cannot go in container {container!r}" in msg
        assert "allowed pairs" in msg and "prores422hq → mov" in msg


@pytest.mark.parametrize("mode", ["force_23.976", "force_23976", "force_120", "preserve", "25"])
def test_unknown_fps_mode_is_named_with_the_choices(mode: str) -> None:
    msg = refusal(fps_mode=mode)
    assert "fps_mode" in msg and repr(mode) in msg and "'force_23_976'" in msg


def test_every_published_fps_mode_loads() -> None:
    assert {load(spec(fps_mode=m)).fps_mode for m in FPS_MODES} == set(FPS_MODES)
    assert FORCED_RATES["force_23_976"] == Fraction(24000, 1001)
    assert FORCED_RATES["force_29_97"] == Fraction(30000, 1001)
    assert FORCED_RATES["force_59_94"] == Fraction(60000, 1001)


def test_unknown_profile_is_named() -> None:
    msg = refusal(proxy_profile="proxy_h265")
    assert "unknown profile 'proxy_h265'" in msg and "proxy_h264_low" in msg


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("codec", CODECS)
def test_profile_and_codec_must_fit(profile: str, codec: str) -> None:
    obj = spec(codec=codec, container=CODEC_CONTAINERS[codec][0], proxy_profile=profile)
    if codec in PROFILES[profile].codecs:
        assert load(obj).proxy_profile == profile
    else:
        msg = reason(json.dumps(obj).encode())
        assert f"profile {profile!r} renders" in msg and f"not {codec!r}" in msg


def test_legacy_profile_ids_are_kept() -> None:
    assert set(LEGACY_IDS) <= set(PROFILES)
    assert all(PROFILES[p].engine is Engine.RESOLVE for p in LEGACY_IDS if "_resolve" in p)
    assert all(PROFILES[p].engine is Engine.FFMPEG for p in LEGACY_IDS if "_resolve" not in p)


def test_user_metadata_accepts_only_flat_scalars() -> None:
    assert "user_metadata" in refusal(user_metadata={"a": [1]})
    assert "user_metadata" in refusal(user_metadata={"a": None})
    assert "user_metadata" in refusal(user_metadata=["a"])


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
    got = names(
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
        names(template, ["/m/clip.mov"])
    assert expected in str(info.value)


def test_a_long_name_is_shown_shortened_in_the_message() -> None:
    with pytest.raises(ValidationError) as info:
        names("x" * 10_000, ["/m/clip.mov"])
    assert len(str(info.value)) < 300


def test_multi_source_needs_index_or_source_name() -> None:
    msg = reason(
        json.dumps(
            spec(sources=["/a.mov", "/b.mov"], output_name_template="{codec}_{date}")
        ).encode()
    )
    assert "{index} or {source_name}" in msg
    assert names("{index}", ["/a.mov", "/b.mov"]) == ["001.mov", "002.mov"]


def test_index_is_zero_padded_to_the_source_count() -> None:
    got = names("{index}", [f"/m/{i}.mov" for i in range(1000)])
    assert got[0] == "0001.mov" and got[-1] == "1000.mov"


def test_same_name_from_two_folders_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"sources\[0\] and sources\[1\] both resolve"):
        names("{source_name}", ["/a/clip.mov", "/b/clip.mov"])


@pytest.mark.parametrize(
    ("a", "b"), [("Clip", "clip"), ("STRASSE", "straße"), ("e\u0301", "\u00e9")]
)
def test_names_equal_ignoring_case_or_normalisation_are_rejected(a: str, b: str) -> None:
    with pytest.raises(ValidationError, match="both resolve"):
        names("{source_name}", [f"/m/{a}.mov", f"/n/{b}.mov"])


def test_unicode_names_work() -> None:
    assert names("日本語_{source_name}_é", ["/m/Ünïcødé 🎬.mov"]) == ["日本語_Ünïcødé 🎬_é.mov"]


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
        (name,) = names(template, [source])
    except ValidationError:
        return
    assert name.endswith(".mov") and os.path.basename(name) == name
    assert name not in (".", "..") and not name.startswith(".")
    assert not any(unicodedata.category(c) == "Cc" for c in name)
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    with tempfile.TemporaryDirectory() as tmp:
        final = os.path.join(tmp, name)
        temp = partial_path(final, "0123456789ab")
        assert os.path.dirname(temp) == tmp and os.path.basename(temp).startswith(".")
        for path in (temp, final):
            with open(path, "x"):
                pass
        assert sorted(os.listdir(tmp)) == sorted([os.path.basename(temp), name])


def test_the_longest_allowed_name_still_has_room_for_its_temporary_name() -> None:
    stem = "x" * (MAX_NAME_BYTES - len(".mov"))
    (name,) = names(stem, ["/m/a.mov"])
    assert len(name.encode()) == MAX_NAME_BYTES
    assert len(os.path.basename(partial_path("/o/" + name, "f" * 32)).encode()) <= 255
    with pytest.raises(ValidationError, match="bytes"):
        names(stem + "x", ["/m/a.mov"])


@settings(max_examples=150)
@given(st.lists(st.text(alphabet="aAbBß.é-", min_size=1, max_size=4), min_size=1, max_size=6))
def test_resolved_names_are_unique_ignoring_case_or_refused(stems: list[str]) -> None:
    sources = [f"/d{i}/{s}.mov" for i, s in enumerate(stems)]
    try:
        got = names("{source_name}", sources)
    except ValidationError as exc:
        assert "both resolve to output name" in str(exc) or "output name" in str(exc)
        return
    keys = [unicodedata.normalize("NFC", n).casefold() for n in got]
    assert len(set(keys)) == len(keys)


@given(st.lists(st.text(alphabet="aAbB", min_size=1, max_size=3), min_size=2, max_size=6))
def test_index_names_are_always_unique_and_in_source_order(stems: list[str]) -> None:
    got = names("{index}_{source_name}", [f"/d/{s}.mov" for s in stems])
    assert got == [f"{i + 1:03d}_{s}.mov" for i, s in enumerate(stems)]


# -- fingerprints ---------------------------------------------------------------------------------

_json_scalars = st.one_of(
    st.text(max_size=10),
    st.integers(),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
)


@given(
    meta=st.dictionaries(st.text(max_size=8), _json_scalars, max_size=5),
    seed=st.integers(0, 2**32),
    indent=st.sampled_from([None, 0, 2, "\t"]),
)
def test_fingerprint_ignores_key_order_and_formatting(
    meta: dict[str, Any], seed: int, indent: Any
) -> None:
    obj = spec(user_metadata=meta)
    keys = list(obj)
    random.Random(seed).shuffle(keys)
    shuffled = {k: obj[k] for k in keys}
    text = json.dumps(shuffled, indent=indent, ensure_ascii=bool(seed % 2))
    assert fingerprint(parse_json_object(text.encode())) == fingerprint(obj)
    assert fingerprint(obj).startswith("sha256:") and len(fingerprint(obj)) == 7 + 64


@given(
    field=st.sampled_from(sorted(BASE)),
    junk=st.text(alphabet=string.ascii_letters, min_size=1, max_size=5),
)
def test_fingerprint_changes_with_any_field(field: str, junk: str) -> None:
    changed = spec()
    changed[field] = [*BASE[field], junk] if field == "sources" else BASE[field] + junk
    assert fingerprint(changed) != fingerprint(spec())


# -- profile tables ------------------------------------------------------------------------------


def test_ffmpeg_profiles_have_encoder_settings_for_their_codecs() -> None:
    from workers.expect import EXPECTED_CODEC
    from workers.ffmpeg_args import _VIDEO

    for p in FFMPEG_PROFILES:
        assert p.name in _VIDEO and all(c in EXPECTED_CODEC for c in p.codecs), p.name
    assert {c for p in FFMPEG_PROFILES for c in p.codecs} == set(CODECS)


@given(
    scale=st.sampled_from([p.size for p in PROFILES.values()]),
    width=st.integers(2, 8192),
    height=st.integers(2, 4320),
)
def test_frame_sizes_are_even_positive_and_never_upscaled(
    scale: FrameSize, width: int, height: int
) -> None:
    w, h = scale.target(width, height)
    assert w % 2 == 0 and h % 2 == 0 and w >= 2 and h >= 2
    assert w <= max(2, width + 1) and h <= max(2, height + 1)
    if scale.kind == "height":
        assert h <= max(2, int(scale.value))


def test_frame_size_examples() -> None:
    assert PROFILES["proxy_h264_low"].size.target(1920, 1080) == (960, 540)
    assert PROFILES["proxy_h264_quarter"].size.target(3840, 2160) == (960, 540)
    assert PROFILES["proxy_h264_720"].size.target(3840, 2160) == (1280, 720)
    assert PROFILES["proxy_h264_720"].size.target(640, 360) == (640, 360)  # no upscale


# -- result status and exit codes -----------------------------------------------------------------


def _clip(status: str, reason_: FailureReason | None = None, system: bool = False) -> ClipResult:
    return ClipResult(
        source_path="/s.mov",
        output_path="/o.mov",
        status=status,
        engine="ffmpeg",
        failure_reason=reason_,
        system_error=system,
    )


@pytest.mark.parametrize(
    ("clips", "status", "code"),
    [
        (["COMPLETED", "COMPLETED"], "COMPLETED", ExitCode.COMPLETED),
        ([("FAILED", FailureReason.EXECUTION_ERROR), "SKIPPED"], "FAILED", ExitCode.EXECUTION),
        (
            ["COMPLETED", ("FAILED", FailureReason.OUTPUT_MISSING), "SKIPPED"],
            "PARTIAL",
            ExitCode.PARTIAL,
        ),
        ([("FAILED", FailureReason.ENGINE_UNAVAILABLE)], "FAILED", ExitCode.SYSTEM),
        ([("FAILED", FailureReason.EXECUTION_ERROR, True)], "FAILED", ExitCode.SYSTEM),
        (["COMPLETED", ("FAILED", FailureReason.INTERRUPTED)], "PARTIAL", ExitCode.INTERRUPTED),
        ([("FAILED", FailureReason.WORKER_CRASHED)], "FAILED", ExitCode.EXECUTION),
        ([("FAILED", FailureReason.TIMEOUT)], "FAILED", ExitCode.EXECUTION),
    ],
)
def test_status_and_exit_code_follow_the_clips(clips: list[Any], status: str, code: int) -> None:
    built = [_clip(c) if isinstance(c, str) else _clip(*c) for c in clips]
    result = build_result(
        job_id="j",
        jobspec_version="1.0.0",
        started=datetime.now(UTC) - timedelta(seconds=1),
        clips=built,
        fingerprint="sha256:" + "0" * 64,
        jobspec_path="/j.json",
    )
    assert (result.status, result.exit_code()) == (status, code)
    assert job_status(built) == status
    assert result.total_clips == len(clips)
    assert result.successful_clips + result.failed_clips + result.skipped_clips == len(clips)
    assert result.started_at.endswith("Z") and result.ended_at.endswith("Z")


def test_validation_and_system_errors_map_to_1_and_4() -> None:
    kw: dict[str, Any] = {
        "job_id": "j",
        "jobspec_version": None,
        "clips": [],
        "started": datetime.now(timezone(timedelta(hours=2))),
        "fingerprint": "sha256:" + "0" * 64,
        "jobspec_path": None,
    }
    assert build_result(validation_error="bad", **kw).exit_code() == ExitCode.VALIDATION
    system = build_result(system_error="ffprobe missing", **kw)
    assert (system.status, system.exit_code()) == ("FAILED", ExitCode.SYSTEM)
    assert system.started_at.endswith("Z")


# -- probe facts (what routing and verification decide on) ----------------------------------------

_probe_text = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(
        ["0/0", "1/0", "25/1", "24000/1001", "-25/1", "4:3", "0:1", "90", "-90", "270.0", "junk"]
    ),
)


@given(
    rate=_probe_text,
    avg=_probe_text,
    sar=_probe_text,
    rotation=_probe_text,
    duration=_probe_text,
    nb=_probe_text,
)
def test_probe_parsing_never_raises_on_odd_values(
    rate: str | None,
    avg: str | None,
    sar: str | None,
    rotation: str | None,
    duration: str | None,
    nb: str | None,
) -> None:
    from proxx.content.media import parse_probe_json

    facts = parse_probe_json(
        "/x.mov",
        {
            "format": {"duration": duration},
            "streams": [
                {
                    "codec_type": "video",
                    "width": 1920,
                    "height": 1080,
                    "r_frame_rate": rate,
                    "avg_frame_rate": avg,
                    "sample_aspect_ratio": sar,
                    "nb_frames": nb,
                    "side_data_list": [{"rotation": rotation}],
                    "tags": {"DURATION": duration},
                }
            ],
        },
    )
    w, h = facts.display_size()
    assert w > 0 and h > 0
    assert facts.video is not None
    for r in (facts.video.frame_rate, facts.video.avg_frame_rate):
        assert r is None or Fraction(r) > 0
    count = facts.frame_count_at_rate()
    assert count is None or isinstance(count, int)


@pytest.mark.parametrize(
    ("stream", "shown"),
    [
        ({}, (1920, 1080)),
        ({"side_data_list": [{"rotation": -90}]}, (1080, 1920)),
        ({"side_data_list": [{"rotation": 180}]}, (1920, 1080)),
        ({"tags": {"rotate": "270"}}, (1080, 1920)),
        ({"sample_aspect_ratio": "4:3", "width": 1440}, (1920, 1080)),
        ({"sample_aspect_ratio": "1:1"}, (1920, 1080)),
        ({"sample_aspect_ratio": "0:1"}, (1920, 1080)),  # "unknown" in FFmpeg's words
    ],
)
def test_display_size(stream: dict[str, Any], shown: tuple[int, int]) -> None:
    from proxx.content.media import parse_probe_json

    raw = {"codec_type": "video", "width": 1920, "height": 1080, "r_frame_rate": "25/1", **stream}
    assert parse_probe_json("/x", {"streams": [raw]}).display_size() == shown
