"""Fixtures: each server (the Apache appliance, the standalone server) with the example
handlers and with the test handlers; every test using them runs against both."""

from __future__ import annotations

import pytest

from ..servers import EXAMPLES, TESTBED, Server, start_server

SERVERS = ["apache", "standalone"]
TESTBED_MAX_MESSAGE_SIZE = 65536


@pytest.fixture(scope="session", params=SERVERS)
def examples(request, tmp_path_factory) -> Server:
    """A server with the example handlers of ./handlers, as `docker compose up` serves them."""
    server = start_server(request.param, EXAMPLES, tmp_path_factory.mktemp(f"examples-{request.param}"))
    yield server
    server.stop()


@pytest.fixture(scope="session", params=SERVERS)
def testbed(request, tmp_path_factory) -> Server:
    """A server with tests/integration/handlers: handlers scanned from scanned/, messages up to 64 KiB."""
    env = {"WS_HANDLER_SCAN": "/srv/handlers/scanned", "WS_MAX_MESSAGE_SIZE": str(TESTBED_MAX_MESSAGE_SIZE)}
    server = start_server(request.param, TESTBED, tmp_path_factory.mktemp(f"testbed-{request.param}"), env)
    yield server
    server.stop()


@pytest.fixture(params=["ws", "wss"])
def scheme(request) -> str:
    return request.param
