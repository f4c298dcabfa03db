"""Fixtures: the appliance image running the example handlers, and the test handlers."""

from __future__ import annotations

import pytest

from ..appliance import EXAMPLES, TESTBED, Appliance, start_appliance


@pytest.fixture(scope="session")
def examples(tmp_path_factory) -> Appliance:
    """The image serving the example handlers of ./handlers, as `docker compose up` does."""
    app = start_appliance(EXAMPLES, tmp_path_factory.mktemp("examples"))
    yield app
    app.container.remove(force=True)


@pytest.fixture(scope="session")
def testbed(tmp_path_factory) -> Appliance:
    """The image serving tests/integration/handlers, with WS_HANDLER_SCAN limited to scanned/."""
    app = start_appliance(TESTBED, tmp_path_factory.mktemp("testbed"), env={"WS_HANDLER_SCAN": "/srv/handlers/scanned"})
    yield app
    app.container.remove(force=True)


@pytest.fixture(params=["ws", "wss"])
def scheme(request) -> str:
    return request.param
