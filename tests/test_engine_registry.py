"""The worker's engine registry: every engine a plan can name has a maker, and it is that engine."""

from __future__ import annotations

import pytest

from proxx.contract.profiles import Engine as EngineName
from workers.jobrun import ENGINES, Engines


@pytest.mark.e2e
@pytest.mark.parametrize("name", list(EngineName))
def test_every_engine_a_plan_can_name_is_registered_and_made_by_name(name: EngineName) -> None:
    engines = Engines()
    engine = engines.get(name)
    assert engine.name == name.value
    assert engines.get(name) is engine  # made once per worker, on first use


def test_the_registry_names_no_engine_a_plan_cannot_name() -> None:
    assert set(ENGINES) == set(EngineName)


def test_an_unknown_engine_is_an_error_not_a_fallback() -> None:
    with pytest.raises(ValueError, match="no engine named"):
        Engines().get("avid")  # type: ignore[arg-type]
