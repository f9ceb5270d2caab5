"""Presets: what a shop keeps per show — a JobSpec without its sources and created_at.

A preset is a small TOML (stdlib `tomllib`) or JSON document naming any of the
JobSpec fields `proxx plan` does not derive from the media: proxy_profile, codec,
container, fps_mode, output_name_template, output_dir, user_metadata (plus a free
`description`). Unknown keys are refused, as in a JobSpec. `proxx plan` merges
command-line options over it; `proxx validate --preset` checks it alone.
"""

from __future__ import annotations

import json
import os
import stat
import tomllib
from dataclasses import dataclass
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from proxx.content.spec import JOBSPEC_VERSION, MetaValue, describe_pydantic_error, validate_model
from proxx.contract.errors import ValidationError
from proxx.contract.profiles import PRESERVE_SOURCE, PROFILES

MAX_PRESET_BYTES = 64 * 1024  # a preset is a dozen lines
DEFAULT_TEMPLATE = "{source_name}_proxy"
INDEXED_TEMPLATE = "{index}_{source_name}_proxy"  # when source names would collide
DEFAULT_CONTAINER = "mov"  # every codec Proxx renders may go in mov
PLACEHOLDER_CREATED = "2000-01-01T00:00:00+00:00"


class Preset(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    description: str | None = None
    proxy_profile: str | None = None
    codec: str | None = None
    container: str | None = None
    fps_mode: str | None = None
    output_name_template: str | None = None
    output_dir: str | None = None
    user_metadata: dict[str, MetaValue] = Field(default_factory=dict)


@dataclass(frozen=True)
class Fields:
    """Every JobSpec field but sources and created_at, settled (options over preset over
    defaults). `template_given`: the operator chose the template, so a collision is theirs
    to fix; the default template falls back to {index}_… instead."""

    values: dict[str, Any]
    template_given: bool


def load_preset(path: str) -> Preset:
    """Read and check a preset file; ValidationError naming the file and the field."""
    data = _read_small(path)
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".toml":
            obj: Any = tomllib.loads(data.decode("utf-8"))
        elif ext == ".json":
            obj = json.loads(data.decode("utf-8"))
        else:
            raise ValidationError(f"preset {path}: name it .toml or .json (the format it is in)")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"preset {path}: not UTF-8 text (byte {exc.start})") from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(f"preset {path}: not valid {ext[1:].upper()}: {exc}") from None
    if not isinstance(obj, dict):
        raise ValidationError(f"preset {path}: a preset is a table of keys (JSON: an object)")
    try:
        return Preset.model_validate(obj)
    except pydantic.ValidationError as exc:
        why = describe_pydantic_error(exc).replace("JobSpec 1.0.0 does not", "presets do not")
        raise ValidationError(f"preset {path}: {why}") from None


def check_preset(path: str) -> Fields:
    """`proxx validate --preset`: the preset alone must settle into valid JobSpec fields."""
    preset = load_preset(path)
    if preset.proxy_profile is None:
        raise ValidationError(f"preset {path}: proxy_profile: required field is missing")
    fields = settle(preset, {})
    check_fields(fields, sources=1, where=f"preset {path}")
    return fields


def settle(preset: Preset | None, options: dict[str, Any]) -> Fields:
    """Options (None: not given) over the preset over the defaults."""
    base = preset.model_dump(exclude={"description"}) if preset else {}
    given = {k: v for k, v in options.items() if v is not None and k != "user_metadata"}
    values: dict[str, Any] = {**{k: v for k, v in base.items() if v is not None}, **given}
    values["user_metadata"] = {**base.get("user_metadata", {}), **options.get("user_metadata", {})}
    profile = PROFILES.get(values.get("proxy_profile", ""))
    if "codec" not in values and profile is not None:
        values["codec"] = profile.codecs[0]  # what the profile renders
    values.setdefault("container", DEFAULT_CONTAINER)
    values.setdefault("fps_mode", PRESERVE_SOURCE)
    template_given = "output_name_template" in values
    values.setdefault("output_name_template", DEFAULT_TEMPLATE)
    return Fields(values, template_given)


def check_fields(fields: Fields, *, sources: int, where: str) -> None:
    """The fields as a JobSpec of `sources` placeholder sources would check them."""
    obj = {
        "jobspec_version": JOBSPEC_VERSION,
        "created_at": PLACEHOLDER_CREATED,
        "sources": [f"/placeholder/{i}.mov" for i in range(sources)],
        "output_dir": "/placeholder",
        **fields.values,
    }
    if not fields.values.get("user_metadata"):
        obj.pop("user_metadata")
    try:
        validate_model(obj)
    except ValidationError as exc:
        raise ValidationError(f"{where}: {exc}") from None


def _read_small(path: str) -> bytes:
    """The file's bytes; never blocks on a FIFO or reads past MAX_PRESET_BYTES."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ValidationError(f"preset {path}: cannot open: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValidationError(f"preset {path}: not a regular file")
        data = os.read(fd, MAX_PRESET_BYTES + 1)
    except OSError as exc:
        raise ValidationError(f"preset {path}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_PRESET_BYTES:
        raise ValidationError(f"preset {path}: larger than {MAX_PRESET_BYTES} bytes")
    return data
