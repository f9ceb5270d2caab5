"""JobSpec 1.1.0's source_indices/source_count, and 1.0.0 reading exactly as before."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from proxx.content.plan import output_names
from proxx.content.spec import JobSpec, fingerprint, load_spec
from proxx.contract.errors import ValidationError
from testkit import run_cli, spec_dict

SOURCES = ["/m/a.mov", "/m/b.mov", "/m/c.mov"]


def load(obj: dict[str, Any]) -> JobSpec:
    return load_spec(json.dumps(obj).encode())


def reason(obj: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        load(obj)
    return str(info.value)


def names(obj: dict[str, Any]) -> list[str]:
    spec = load(obj)
    return output_names(spec, list(spec.sources))


def test_1_1_0_keeps_the_original_numbers_and_padding() -> None:
    obj = spec_dict(
        SOURCES[1:],
        "/out",
        jobspec_version="1.1.0",
        output_name_template="{index}_{source_name}",
        source_indices=[2, 3],
        source_count=3,
    )
    assert names(obj) == ["002_b.mov", "003_c.mov"]
    wide = spec_dict(
        ["/m/z.mov"],
        "/out",
        jobspec_version="1.1.0",
        output_name_template="{index}",
        source_indices=[1234],
        source_count=1500,
    )
    assert names(wide) == ["1234.mov"]


def test_1_0_0_names_are_unchanged() -> None:
    # Control for the test above: the same sources without the fields renumber from 1.
    obj = spec_dict(SOURCES[1:], "/out", output_name_template="{index}_{source_name}")
    assert names(obj) == ["001_b.mov", "002_c.mov"]
    assert names(spec_dict(["/m/x.mov"] * 1, "/out", output_name_template="{index}")) == ["001.mov"]


@pytest.mark.parametrize("field", ["source_indices", "source_count"])
def test_1_0_0_does_not_know_the_new_fields(field: str) -> None:
    value: Any = [1, 2, 3] if field == "source_indices" else 3
    msg = reason(spec_dict(SOURCES, "/out", **{field: value}))
    assert msg == f"{field}: unknown field (JobSpec 1.0.0 does not define it)"


def test_1_0_0_unknown_field_message_is_as_before() -> None:
    msg = reason(spec_dict(SOURCES, "/out", priority=1))
    assert msg == "priority: unknown field (JobSpec 1.0.0 does not define it)"
    msg = reason(spec_dict(SOURCES, "/out", jobspec_version="1.1.0", priority=1))
    assert msg == "priority: unknown field (JobSpec 1.1.0 does not define it)"


def test_1_1_0_without_the_fields_is_1_0_0_with_another_version() -> None:
    obj = spec_dict(SOURCES, "/out", jobspec_version="1.1.0", output_name_template="{index}")
    assert names(obj) == ["001.mov", "002.mov", "003.mov"]
    assert fingerprint(obj) != fingerprint(
        spec_dict(SOURCES, "/out", output_name_template="{index}")
    )


@pytest.mark.parametrize(
    ("indices", "count", "expected"),
    [
        ([2, 3], None, "give both or neither"),
        (None, 3, "give both or neither"),
        ([2], 3, "1 entries for 2 sources"),
        ([0, 1], 3, "source_indices[0] is 0, outside 1..3"),
        ([2, 4], 3, "source_indices[1] is 4, outside 1..3"),
        ([3, 2], 3, "must increase"),
        ([2, 2], 3, "must increase"),
        ([1, 2], 0, "source_count must be between 1 and"),
    ],
)
def test_bad_index_fields_are_named(
    indices: list[int] | None, count: int | None, expected: str
) -> None:
    extra: dict[str, Any] = {}
    if indices is not None:
        extra["source_indices"] = indices
    if count is not None:
        extra["source_count"] = count
    obj = spec_dict(
        SOURCES[1:], "/out", jobspec_version="1.1.0", output_name_template="{index}", **extra
    )
    assert expected in reason(obj)


@pytest.mark.parametrize("bad", [[True, 3], [2.0, 3], ["2", "3"]])
def test_indices_are_integers(bad: list[Any]) -> None:
    obj = spec_dict(
        SOURCES[1:],
        "/out",
        jobspec_version="1.1.0",
        output_name_template="{index}",
        source_indices=bad,
        source_count=3,
    )
    assert "source_indices" in reason(obj)


def test_unsupported_versions_name_both_readable_ones() -> None:
    msg = reason(spec_dict(SOURCES, "/out", jobspec_version="1.2.0"))
    assert "'1.2.0'" in msg and "'1.0.0' or '1.1.0'" in msg


@pytest.mark.e2e
def test_published_schema_accepts_both_versions() -> None:
    schema = json.loads(run_cli("schema", "jobspec").stdout)
    jsonschema.validate(spec_dict(SOURCES, "/out"), schema)
    jsonschema.validate(
        spec_dict(
            SOURCES[1:], "/out", jobspec_version="1.1.0", source_indices=[2, 3], source_count=3
        ),
        schema,
    )
    assert {"source_indices", "source_count"} <= set(schema["properties"])
