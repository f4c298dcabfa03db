"""Fixtures: the appliance image running the example handlers, and the test handlers."""

from __future__ import annotations

import pytest

from ..servers import EXAMPLES, TESTBED, Appliance, start_appliance

TESTBED_MAX_MESSAGE_SIZE = 65536


@pytest.fixture(scope="session")
def examples(tmp_path_factory) -> Appliance:
    """The image serving the example handlers of ./handlers, as `docker compose up` does."""
    app = start_appliance(EXAMPLES, tmp_path_factory.mktemp("examples"))
    yield app
    app.container.remove(force=True)


@pytest.fixture(scope="session")
def testbed(tmp_path_factory) -> Appliance:
    """The image serving tests/integration/handlers: WS_HANDLER_SCAN is scanned/, messages up to 64 KiB."""
    app = start_appliance(
        TESTBED,
        tmp_path_factory.mktemp("testbed"),
        env={"WS_HANDLER_SCAN": "/srv/handlers/scanned", "WS_MAX_MESSAGE_SIZE": str(TESTBED_MAX_MESSAGE_SIZE)},
    )
    yield app
    app.container.remove(force=True)


@pytest.fixture(params=["ws", "wss"])
def scheme(request) -> str:
    return request.param
