"""JobSpec 1.0.0 and 1.1.0: the strict pydantic model and its loader.

Only what can be judged from the JSON itself lives here; what needs the
filesystem or a probe lives in `proxx.content.plan`.

1.1.0 adds two optional fields, `source_indices` and `source_count`, so that a
JobSpec for the rest of an unfinished job (`proxx remainder`) gives its proxies
the `{index}` numbers the original job would have given them. A 1.0.0 file
reads exactly as before: the new fields are unknown fields there.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime
from typing import Any, Literal

import pydantic
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from proxx.contract.errors import ValidationError
from proxx.contract.naming import template_tokens
from proxx.contract.profiles import (
    CODEC_CONTAINERS,
    CODECS,
    CONTAINERS,
    FPS_MODES,
    PROFILES,
    allowed_pairs_text,
)
from proxx.contract.protocol import MAX_SPEC_BYTES

JOBSPEC_VERSION = "1.0.0"
JOBSPEC_VERSIONS = ("1.0.0", "1.1.0")
INDEX_FIELDS = ("source_indices", "source_count")  # 1.1.0 only
MAX_SOURCES = 10_000

Codec = Literal[CODECS]  # type: ignore[valid-type]
Container = Literal[CONTAINERS]  # type: ignore[valid-type]
FpsMode = Literal[FPS_MODES]  # type: ignore[valid-type]
MetaValue = str | int | float | bool


class JobSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    jobspec_version: str
    created_at: str
    sources: list[str] = Field(min_length=1, max_length=MAX_SOURCES)
    output_dir: str
    output_name_template: str
    codec: Codec
    container: Container
    fps_mode: FpsMode
    proxy_profile: str
    user_metadata: dict[str, MetaValue] = Field(default_factory=dict)
    # 1.1.0: each source's 1-based position in the job it was taken from, and
    # that job's number of sources (which sets {index}'s zero padding).
    source_indices: list[int] | None = None
    source_count: int | None = None

    @field_validator("jobspec_version")
    @classmethod
    def _version(cls, v: str) -> str:
        if v not in JOBSPEC_VERSIONS:
            readable = " or ".join(repr(x) for x in JOBSPEC_VERSIONS)
            raise ValueError(f"unsupported version {v!r}; this Proxx reads {readable}")
        return v

    @field_validator(*INDEX_FIELDS)
    @classmethod
    def _only_in_1_1(cls, v: Any, info: ValidationInfo) -> Any:
        # Same words as pydantic's own extra-field error, so 1.0.0 reads as before.
        if info.data.get("jobspec_version") == "1.0.0":
            raise ValueError("unknown field (JobSpec 1.0.0 does not define it)")
        return v

    @field_validator("created_at")
    @classmethod
    def _created_at(cls, v: str) -> str:
        try:
            ts = datetime.fromisoformat(v)
        except ValueError:
            raise ValueError(f"{v!r} is not an ISO 8601 timestamp") from None
        if ts.tzinfo is None:
            raise ValueError(f"{v!r} has no UTC offset (write e.g. 2025-12-29T10:00:00Z)")
        return v

    @field_validator("sources")
    @classmethod
    def _sources(cls, v: list[str]) -> list[str]:
        for i, s in enumerate(v):
            if not s:
                raise ValueError(f"sources[{i}] is empty")
            if "\x00" in s:
                raise ValueError(f"sources[{i}] contains a NUL byte")
        return v

    @field_validator("output_dir")
    @classmethod
    def _output_dir(cls, v: str) -> str:
        if "\x00" in v:
            raise ValueError("contains a NUL byte")
        if not v.startswith("/"):
            raise ValueError(f"{v!r} is not an absolute path")
        return v

    @field_validator("proxy_profile")
    @classmethod
    def _profile(cls, v: str) -> str:
        if v not in PROFILES:
            raise ValueError(f"unknown profile {v!r}; known: {', '.join(PROFILES)}")
        return v

    @model_validator(mode="after")
    def _combination(self) -> JobSpec:
        if self.container not in CODEC_CONTAINERS[self.codec]:
            raise ValueError(
                f"codec {self.codec!r} cannot go in container {self.container!r}; "
                f"allowed pairs: {allowed_pairs_text()}"
            )
        profile = PROFILES[self.proxy_profile]
        if self.codec not in profile.codecs:
            raise ValueError(
                f"profile {profile.name!r} renders {', '.join(profile.codecs)}, not {self.codec!r}"
            )
        try:
            tokens = template_tokens(self.output_name_template)
        except ValidationError as exc:
            raise ValueError(str(exc)) from None
        if len(self.sources) > 1 and not {"index", "source_name"} & set(tokens):
            raise ValueError(
                "a job with several sources needs {index} or {source_name} in "
                "output_name_template, or every proxy would get the same name"
            )
        self._check_indices()
        return self

    def _check_indices(self) -> None:
        indices, count = self.source_indices, self.source_count
        if indices is None and count is None:
            return
        if indices is None or count is None:
            raise ValueError("source_indices and source_count go together: give both or neither")
        if not 1 <= count <= MAX_SOURCES:
            raise ValueError(f"source_count must be between 1 and {MAX_SOURCES}, not {count}")
        if len(indices) != len(self.sources):
            raise ValueError(
                f"source_indices has {len(indices)} entries for "
                f"{len(self.sources)} sources; give one per source"
            )
        for i, n in enumerate(indices):
            if not 1 <= n <= count:
                raise ValueError(f"source_indices[{i}] is {n}, outside 1..{count} (source_count)")
            if i and n <= indices[i - 1]:
                raise ValueError(
                    f"source_indices must increase (source order is kept): "
                    f"source_indices[{i}] is {n} after {indices[i - 1]}"
                )

    def index_numbers(self) -> tuple[list[int], int]:
        """Each source's {index} number and the count that sets the padding."""
        if self.source_indices is not None and self.source_count is not None:
            return list(self.source_indices), self.source_count
        return list(range(1, len(self.sources) + 1)), len(self.sources)

    @property
    def created(self) -> datetime:
        return datetime.fromisoformat(self.created_at)


def load_spec(data: bytes) -> JobSpec:
    """Parse and validate JobSpec bytes; raise ValidationError with a precise reason."""
    return validate_model(parse_json_object(data))


def parse_json_object(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_SPEC_BYTES:
        raise ValidationError(
            f"JobSpec is larger than the limit of {MAX_SPEC_BYTES} bytes (64 MiB): room "
            "for 10 000 sources of 4 096 bytes each; this is no JobSpec"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"JobSpec is not UTF-8 text (byte {exc.start})") from None
    try:
        obj = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            object_pairs_hook=_no_duplicate_keys,
        )
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:
        raise ValidationError(f"invalid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ValidationError(f"a JobSpec is a JSON object, not a JSON {_json_kind(obj)}")
    _check_text(obj, "")
    return obj


def validate_model(obj: dict[str, Any]) -> JobSpec:
    try:
        return JobSpec.model_validate(obj)
    except pydantic.ValidationError as exc:
        version = obj.get("jobspec_version")
        raise ValidationError(
            describe_pydantic_error(
                exc, version if version in JOBSPEC_VERSIONS else JOBSPEC_VERSION
            )
        ) from None


def describe_pydantic_error(exc: pydantic.ValidationError, version: str = JOBSPEC_VERSION) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "JobSpec"
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown field (JobSpec {version} does not define it)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "literal_error":
            msg = f"{err.get('input')!r} is not allowed; {msg[0].lower()}{msg[1:]}"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def fingerprint(obj: Any) -> str:
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def fingerprint_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses to inf: not a number JSON can carry back
        raise ValueError(f"number {text} is out of range")
    return value


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A key given twice is ambiguous (JSON readers disagree on which wins): refuse it."""
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _check_text(obj: Any, where: str) -> None:
    """Reject lone surrogates ("\\ud800" escapes): valid JSON, but not text that can
    become a file name, a command line or UTF-8 output."""
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValidationError(
                f"{where or 'JobSpec'}: text contains an unpaired surrogate "
                f"({obj[exc.start]!r}), which is not valid Unicode"
            ) from None
    elif isinstance(obj, dict):
        for key, value in obj.items():
            _check_text(key, f"{where}.{key!a}" if where else f"{key!a}")
            _check_text(value, f"{where}.{key}" if where else key)
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            _check_text(item, f"{where}.{i}")


def _json_kind(obj: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(obj), "number"
    )
