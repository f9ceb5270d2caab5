"""Model-level tests of the JobSpec contract: parsing, fields and fingerprints.

No processes here: everything judged from the JSON alone, with hypothesis for
the properties that must hold for any input. Naming: test_naming.py; the
profile, result and probe tables: test_tables.py.
"""

from __future__ import annotations

import json
import random
import string
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from proxx.content.spec import fingerprint, parse_json_object
from proxx.contract.profiles import (
    CODEC_CONTAINERS,
    CODECS,
    CONTAINERS,
    FORCED_RATES,
    FPS_MODES,
    PROFILES,
    Engine,
)
from proxx.contract.protocol import MAX_SPEC_BYTES
from testkit import BASE_SPEC as BASE
from testkit import load_model, model_spec, refusal, refusal_of

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


# -- parsing -------------------------------------------------------------------------------------


def test_a_complete_spec_loads_with_every_field() -> None:
    loaded = load_model(
        model_spec(user_metadata={"project": "x", "reel": 3, "ratio": 1.5, "ok": True})
    )
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
        (json.dumps(model_spec(user_metadata={"x": 1})).replace("1}", "NaN}").encode(), "NaN"),
    ],
    ids=["garbage", "empty", "array", "number", "string", "bool", "null", "not-utf8", "nan"],
)
def test_unparseable_input_is_named(data: bytes, expected: str) -> None:
    assert expected in refusal_of(data)


def test_duplicate_keys_are_rejected_not_last_one_wins() -> None:
    text = json.dumps(model_spec())[:-1] + ', "codec": "hevc"}'
    assert "duplicate" in refusal_of(text.encode()) and "codec" in refusal_of(text.encode())


def test_a_lone_surrogate_escape_is_a_validation_error_not_a_crash() -> None:
    # Valid JSON, valid UTF-8 bytes, but "\ud800" cannot become a file name or UTF-8 output.
    text = json.dumps(model_spec(sources=["/media/x.mov"])).replace("x.mov", "\\ud800.mov")
    msg = refusal_of(text.encode())
    assert "sources" in msg and "surrogate" in msg


def test_an_infinite_number_is_rejected() -> None:
    text = json.dumps(model_spec(user_metadata={"x": 1})).replace(": 1}", ": 1e400}")
    assert "1e400 is out of range" in refusal_of(text.encode())


def test_oversized_spec_is_rejected_before_parsing() -> None:
    assert "limit" in refusal_of(b" " * (MAX_SPEC_BYTES + 1))


@pytest.mark.parametrize("field", sorted(BASE))
def test_every_required_field_is_required(field: str) -> None:
    obj = model_spec()
    del obj[field]
    assert f"{field}: required field is missing" in refusal_of(json.dumps(obj).encode())


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
    assert load_model(model_spec(created_at=value)).created.utcoffset() is not None


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
    created = load_model(model_spec(created_at=ts.isoformat())).created
    assert created.isoformat() == ts.isoformat()  # the offset as written, not the host's


@given(st.datetimes())
def test_any_naive_timestamp_is_rejected(ts: datetime) -> None:
    assert "no UTC offset" in refusal(created_at=ts.isoformat())


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("container", CONTAINERS)
def test_codec_container_pairs_follow_the_published_table(codec: str, container: str) -> None:
    profile = next(p.name for p in FFMPEG_PROFILES if codec in p.codecs)
    obj = model_spec(codec=codec, container=container, proxy_profile=profile)
    allowed = {
        "h264": {"mp4", "mov"},
        "hevc": {"mp4", "mov"},
        "dnxhr_lb": {"mov", "mxf"},
        "dnxhr_sq": {"mov", "mxf"},
        "dnxhr_hq": {"mov", "mxf"},
    }.get(codec, {"mov"})  # DESIGN §3: ProRes → mov only
    assert set(CODEC_CONTAINERS[codec]) == allowed
    if container in allowed:
        assert load_model(obj).container == container
    else:
        msg = refusal_of(json.dumps(obj).encode())
        assert f"cannot go in container {container!r}" in msg
        assert "allowed pairs" in msg and "prores422hq → mov" in msg


@pytest.mark.parametrize("mode", ["force_23.976", "force_23976", "force_120", "preserve", "25"])
def test_unknown_fps_mode_is_named_with_the_choices(mode: str) -> None:
    msg = refusal(fps_mode=mode)
    assert "fps_mode" in msg and repr(mode) in msg and "'force_23_976'" in msg


def test_every_published_fps_mode_loads() -> None:
    assert {load_model(model_spec(fps_mode=m)).fps_mode for m in FPS_MODES} == set(FPS_MODES)
    assert FORCED_RATES["force_23_976"] == Fraction(24000, 1001)
    assert FORCED_RATES["force_29_97"] == Fraction(30000, 1001)
    assert FORCED_RATES["force_59_94"] == Fraction(60000, 1001)


def test_unknown_profile_is_named() -> None:
    msg = refusal(proxy_profile="proxy_h265")
    assert "unknown profile 'proxy_h265'" in msg and "proxy_h264_low" in msg


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("codec", CODECS)
def test_profile_and_codec_must_fit(profile: str, codec: str) -> None:
    obj = model_spec(codec=codec, container=CODEC_CONTAINERS[codec][0], proxy_profile=profile)
    if codec in PROFILES[profile].codecs:
        assert load_model(obj).proxy_profile == profile
    else:
        msg = refusal_of(json.dumps(obj).encode())
        assert f"profile {profile!r} renders" in msg and f"not {codec!r}" in msg


def test_legacy_profile_ids_are_kept() -> None:
    assert set(LEGACY_IDS) <= set(PROFILES)
    assert all(PROFILES[p].engine is Engine.RESOLVE for p in LEGACY_IDS if "_resolve" in p)
    assert all(PROFILES[p].engine is Engine.FFMPEG for p in LEGACY_IDS if "_resolve" not in p)


def test_user_metadata_accepts_only_flat_scalars() -> None:
    assert "user_metadata" in refusal(user_metadata={"a": [1]})
    assert "user_metadata" in refusal(user_metadata={"a": None})
    assert "user_metadata" in refusal(user_metadata=["a"])


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
    obj = model_spec(user_metadata=meta)
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
    changed = model_spec()
    changed[field] = [*BASE[field], junk] if field == "sources" else BASE[field] + junk
    assert fingerprint(changed) != fingerprint(model_spec())
