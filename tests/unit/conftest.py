"""Unit tests run on an event loop of their own, one per test: nothing of the session lab's supervisor (which
lives on the session loop) can stall them, and they stay fast on a busy machine. Their async fixtures say
`@pytest_asyncio.fixture(loop_scope="function")` for the same reason (a fixture on the session loop would
wait for a loop that is not running)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from tests.unit.voter_fakes import voter_with  # noqa: F401 (the fake replicas' fixture, for every unit test)

UNIT = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if UNIT not in Path(str(item.fspath)).parents:
            continue
        if item.get_closest_marker("asyncio") is not None:
            item.add_marker(pytest.mark.asyncio(loop_scope="function"), append=False)
        for defs in getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {}).values():
            for fixturedef in defs:
                func = fixturedef.func
                is_async = inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)
                if is_async and UNIT in Path(inspect.getfile(func)).parents \
                        and getattr(func, "_loop_scope", None) != "function":
                    raise pytest.UsageError(f"{fixturedef.argname} ({inspect.getfile(func)}): an async fixture of the "
                                            'unit tests needs @pytest_asyncio.fixture(loop_scope="function")')
