"""Headless Chromium (Debian's package) driven by Playwright, against both servers over ws and wss.

The servers get a certificate signed by a test CA made for the run; Chromium
trusts exactly that certificate (``--ignore-certificate-errors-spki-list`` with
its public key's hash), so every other certificate check stays on. On failure,
a screenshot and the browser console log go to ``reports/browser/``.
"""

from __future__ import annotations

import re
import shutil

import pytest

from ..servers import EXAMPLES, ROOT, make_test_pki, start_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
REPORTS = ROOT / "reports" / "browser"
# This network is closed: keep Chromium from trying to reach Google's services.
CHROMIUM_ARGS = [
    "--no-sandbox",  # needed as root
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


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
    server = start_server(request.param, EXAMPLES, tmp, certificate=pki, host_network=True)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser(pki):
    sync_api = pytest.importorskip("playwright.sync_api", reason="make browser installs playwright")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={pki.spki_sha256}"],
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, request):
    """Open pages that log their console; on failure save screenshots and logs."""
    context = browser.new_context()
    pages = []

    def open_page():
        page = context.new_page()
        page.console_lines = []
        page.on("console", lambda m: page.console_lines.append(f"[{m.type}] {m.text}"))
        page.on("pageerror", lambda e: page.console_lines.append(f"[pageerror] {e}"))
        pages.append(page)
        return page

    yield open_page
    failed = getattr(request.node, "report_call", None) is not None and request.node.report_call.failed
    if failed:
        REPORTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid.split("::")[-1])
        for n, page in enumerate(pages):
            page.screenshot(path=str(REPORTS / f"{name}-{n}.png"), full_page=True)
            (REPORTS / f"{name}-{n}.console.log").write_text("\n".join(page.console_lines) + "\n")
    context.close()


def goto(page, url: str, ready: str, attempts: int = 3) -> None:
    """Load ``url`` until the expression ``ready`` holds, reloading a page whose load failed.

    Chromium aborts loads in flight with ERR_NETWORK_CHANGED when an interface comes or
    goes on the host, which Docker does whenever a container starts or stops.
    """
    for attempt in range(attempts):
        page.goto(url)
        try:
            page.wait_for_function(ready, timeout=15_000)
            return
        except Exception:  # noqa: BLE001 - playwright's TimeoutError
            if attempt == attempts - 1:
                raise
            page.console_lines.append(f"[test] {url}: not ready after loading, loading again")


@pytest.fixture(params=["http", "https"])
def scheme(request) -> str:
    return request.param
