"""Headless browsers (Chromium, Firefox, WebKitGTK; ``tests/engines.py``) against both servers over ws and wss.

``ENGINES=chromium,firefox`` picks the engines (default: every installed one); each
test runs once per engine, and each engine's browser is opened once for the run.
The servers get a certificate signed by a test CA made for the run, which each
browser trusts and nothing more (see ``tests/engines.py``); every other
certificate check stays on. On failure, a screenshot and the page's console go to
``reports/browser/<engine>/``, beside the driver's log.
"""

from __future__ import annotations

import os
import re
import shutil

import pytest

from .. import engines
from ..servers import EXAMPLES, ROOT, make_test_pki, start_server

REPORTS = ROOT / "reports" / "browser"


def _selected() -> list[str]:
    try:
        return engines.selected(os.environ.get("ENGINES"))
    except ValueError as e:
        raise pytest.UsageError(f"ENGINES: {e}") from None


def pytest_report_header(config):
    absent = [f"{e} (lacks {', '.join(engines.missing(e))})" for e in engines.ENGINES if engines.missing(e)]
    line = f"browser engines: {', '.join(_selected()) or 'none'}"
    return line + (f"; not installed: {', '.join(absent)}" if absent else "")


def pytest_configure(config):
    _selected()  # a wrong ENGINES stops the run at once
    config.addinivalue_line("markers", "engines(*names): run the test on these engines only (of those selected)")


def pytest_generate_tests(metafunc):
    if "engine" not in metafunc.fixturenames:
        return
    names = _selected()
    if not names:
        reason = "no browser engine installed: make engines ENGINES=chromium,firefox,webkit"
        metafunc.parametrize("engine", [pytest.param(None, marks=pytest.mark.skip(reason=reason))], indirect=True)
        return
    marker = metafunc.definition.get_closest_marker("engines")
    if marker is not None:
        names = [name for name in names if name in marker.args]
    # An engine-specific test none of whose engines is selected gets no engine; it is deselected below.
    metafunc.parametrize("engine", names or [_NOT_SELECTED], indirect=True, scope="session")


_NOT_SELECTED = "(not selected)"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Engine by engine, so that each browser is opened once (the servers restart per engine)."""
    order = {name: n for n, name in enumerate(engines.ENGINES)}

    def engine_of(item):
        callspec = getattr(item, "callspec", None)
        return callspec.params.get("engine") if callspec else None

    unselected = [item for item in items if engine_of(item) == _NOT_SELECTED]
    if unselected:
        config.hook.pytest_deselected(items=unselected)
        items[:] = [item for item in items if engine_of(item) != _NOT_SELECTED]
    items.sort(key=lambda item: order.get(engine_of(item), -1))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session", params=["apache", "standalone"])
def server(request, pki, tmp_path_factory):
    # On the host's network (listening on loopback only): a container on Docker's bridge
    # adds an interface whose address settles a moment later, and Chromium then drops
    # what it has in flight, WebSockets included (ERR_NETWORK_CHANGED, close 1006).
    tmp = tmp_path_factory.mktemp(f"browser-{request.param}")
    server = start_server(request.param, EXAMPLES, tmp, certificate=pki, host_network=True, h3=True)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def engine(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def browser(engine, pki):
    """The engine's browser, one for the whole run; its driver's log in reports/browser/<engine>/."""
    reports = REPORTS / engine
    shutil.rmtree(reports, ignore_errors=True)  # the last run's artifacts
    with engines.open_browser(engine, pki, logs=reports) as browser:
        yield browser


@pytest.fixture
def new_page(browser, request):
    """Open pages (windows of the engine's browser); on failure save screenshots and console lines."""
    pages = []

    def open_page():
        page = browser.new_page()
        pages.append(page)
        return page

    yield open_page
    failed = getattr(request.node, "report_call", None) is not None and request.node.report_call.failed
    try:
        if failed:
            reports = REPORTS / browser.engine
            reports.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", request.node.nodeid.split("::")[-1])
            for n, page in enumerate(pages):
                (reports / f"{name}-{n}.console.log").write_text("\n".join(page.console_lines) + "\n")
                try:
                    page.screenshot(reports / f"{name}-{n}.png")
                except Exception as e:  # noqa: BLE001 - a broken page must not hide the test's failure
                    (reports / f"{name}-{n}.png.error").write_text(f"{e}\n")
    finally:
        for page in pages:
            page.close()


def goto(page, url: str, ready: str, attempts: int = 3) -> None:
    """Load ``url`` until the expression ``ready`` holds, reloading a page whose load failed.

    Chromium aborts loads in flight with ERR_NETWORK_CHANGED when an interface comes or
    goes on the host, which Docker does whenever a container starts or stops.
    """
    for attempt in range(attempts):
        try:
            page.goto(url)
            page.wait_for(ready, timeout=15)
            return
        except (engines.WebDriverError, TimeoutError) as e:
            if attempt == attempts - 1:
                raise
            page.console_lines.append(f"[test] {url}: not ready after loading ({e}), loading again")


@pytest.fixture(params=["http", "https"])
def scheme(request) -> str:
    return request.param
