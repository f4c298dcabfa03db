"""Three browser engines behind one small interface: Chromium, Firefox and WebKit (WebKitGTK).

Each engine is driven with WebDriver's commands (``webdriver``: a tiny client on
urllib): through Debian's ``chromedriver`` for ``chromium`` and Debian's
``WebKitWebDriver`` for WebKitGTK's ``MiniBrowser``, and for ``firefox-esr`` through
Firefox's own Marionette protocol, which carries the same commands (``marionette``:
geckodriver would be a crates.io build of several minutes on every fresh machine).
The same commands for all three keep their pages alike (same waits, same console
capture, same windows in one session); nothing comes from PyPI.

    with open_browser("firefox", pki) as browser:   # pki: tests.servers.make_test_pki(...)
        page = browser.new_page()
        page.goto("https://127.0.0.1:8443/browser-tests.html")
        page.wait_for("window.testsDone === true", timeout=120)
        results = page.evaluate("window.testResults")
        agent = browser.agent("h2")                 # "firefox-153-h2"

The browser trusts the run's test certificate and nothing more: Chromium the server
key's hash (``--ignore-certificate-errors-spki-list``), Firefox the test CA imported
into a fresh profile with NSS's ``certutil``, WebKitGTK the server certificate
allowed for 127.0.0.1 and localhost (``webkitgtk:browserOptions`` ``certificates``).
``acceptInsecureCerts`` stays false everywhere. Everything runs headless (WebKitGTK's
MiniBrowser in an Xvfb of its own) and is stopped on leaving the ``with``, on
failure too. ``python -m tests.engines`` lists what is installed; ``make engines``
installs what is missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .marionette import MarionetteSession
from .processes import START_TIMEOUT, STOP_TIMEOUT, Xvfb, free_port
from .webdriver import (
    PAGE_LOAD_TIMEOUT_MS,
    SCRIPT_TIMEOUT_MS,
    Browser,
    Driver,
    HttpSession,
    Page,
    WebDriverError,
    _request,
)

__all__ = ["ENGINES", "Browser", "Page", "WebDriverError", "installed", "missing", "open_browser", "selected",
           "websockets_over_http2"]  # fmt: skip

ENGINES = ("chromium", "firefox", "webkit")

MINIBROWSER = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"
TIMEOUTS = {"script": SCRIPT_TIMEOUT_MS, "pageLoad": PAGE_LOAD_TIMEOUT_MS, "implicit": 0}


# -- what each engine needs ---------------------------------------------------------------------------


def _find(name: str) -> str | None:
    """A program on PATH, or at an absolute path."""
    if os.path.isabs(name):
        return name if os.access(name, os.X_OK) else None
    return shutil.which(name)


# engine -> the programs it needs -> the Debian package each comes from.
REQUIREMENTS: dict[str, dict[str, str]] = {
    "chromium": {"chromium": "chromium", "chromedriver": "chromium-driver"},
    "firefox": {"firefox-esr": "firefox-esr", "certutil": "libnss3-tools"},
    "webkit": {MINIBROWSER: "webkit2gtk-driver", "WebKitWebDriver": "webkit2gtk-driver", "Xvfb": "xvfb"},
}

#: Engines that carry wss:// in an HTTP/2 connection (RFC 8441) when the page came over HTTP/2.
#: WebKitGTK (2.50) does not: its WebSockets use HTTP/1.1 from any page.
HTTP2_WEBSOCKETS = {"chromium": True, "firefox": True, "webkit": False}


def websockets_over_http2(engine: str) -> bool:
    """Whether ``engine`` carries wss:// in the page's HTTP/2 connection (RFC 8441)."""
    return HTTP2_WEBSOCKETS[engine]


# Only Chromium has a client for RFC 9220, behind a flag (open_browser's quic_origin); Firefox
# ESR 153 has no pref for it, WebKitGTK 2.50 none either (measured, ../shared/notes).
HTTP3_WEBSOCKETS = {"chromium": True, "firefox": False, "webkit": False}


def websockets_over_http3(engine: str) -> bool:
    """Whether ``engine`` can carry wss:// over HTTP/3 (RFC 9220) when told to."""
    return HTTP3_WEBSOCKETS[engine]


def missing(engine: str) -> list[str]:
    """The Debian packages ``engine`` lacks here."""
    wanted = [source for program, source in REQUIREMENTS[engine].items() if _find(program) is None]
    return list(dict.fromkeys(wanted))


def installed() -> list[str]:
    """The engines whose browser and driver are all here, in ``ENGINES`` order."""
    return [engine for engine in ENGINES if not missing(engine)]


def selected(env_value: str | None) -> list[str]:
    """The engines named in ``env_value`` (``ENGINES=chromium,firefox``; commas or spaces),
    or every installed one when it is unset or blank. An unknown name is a ValueError."""
    if env_value is None or not env_value.strip():
        return installed()
    names = [name.strip().lower() for name in env_value.replace(",", " ").split()]
    unknown = [name for name in names if name not in ENGINES]
    if unknown:
        raise ValueError(f"unknown browser engine {', '.join(map(repr, unknown))}: choose from {', '.join(ENGINES)}")
    return list(dict.fromkeys(names))


@dataclass
class _Launch:
    """How a WebDriver server starts the engine, and the capabilities its session asks for."""

    argv: list[str]  # the driver; "{port}" is replaced by its port
    capabilities: dict[str, Any]
    env: dict[str, str] | None = None


def _chromium(pki: Any, tmp: Path, quic_origin: str | None = None) -> _Launch:
    """``quic_origin`` (``host:port``): Chromium reaches it over QUIC only, with WebSockets
    over HTTP/3 on (RFC 9220; docs/operations.md says why each flag)."""
    args = [
        "--headless",
        "--no-sandbox",  # needed as root
        # This network is closed: keep Chromium from trying to reach Google's services.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        # Pages in windows behind others keep their pace.
        "--disable-background-timer-throttling",
        "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows",
        "--window-size=1280,1024",
        f"--ignore-certificate-errors-spki-list={pki.spki_sha256}",
    ]
    if quic_origin is not None:
        args += ["--enable-features=EnableWebsocketsOverHttp3", f"--origin-to-force-quic-on={quic_origin}"]
    options = {"binary": _find("chromium"), "args": args}
    return _Launch(
        [_find("chromedriver"), "--port={port}"],
        {"browserName": "chrome", "goog:chromeOptions": options},
    )


# Firefox: no reaching out (updates, telemetry, captive-portal and connectivity checks, safe browsing;
# Remote Settings pointed at a data: URL, as geckodriver does), pages in windows behind others keep their
# pace. HTTP/2 WebSockets stay at their default (on).
FIREFOX_PREFS = {
    "services.settings.server": "data:,#remote-settings-dummy/v1",
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "app.update.disabledForTesting": True,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.dns.disablePrefetch": True,
    "network.http.speculative-parallel-limit": 0,
    "security.certerrors.mitm.priming.enabled": False,
    "extensions.update.enabled": False,
    "dom.min_background_timeout_value": 4,
    "dom.timeout.enable_budget_timer_throttling": False,
}


def _firefox_profile(pki: Any, tmp: Path, port: int) -> Path:
    """A fresh profile: its NSS database trusts the test CA for servers ("C,,"), nothing else beyond
    Firefox's built-in roots; the prefs above, and Marionette on ``port``."""
    profile = tmp / "firefox-profile"
    profile.mkdir()
    database = f"sql:{profile}"
    for argv in (
        ["certutil", "-N", "-d", database, "--empty-password"],
        ["certutil", "-A", "-d", database, "-n", "mod_pywebsocket test CA", "-t", "C,,", "-i", pki.ca],
    ):
        subprocess.run(argv, check=True, capture_output=True, timeout=30)
    prefs = {**FIREFOX_PREFS, "marionette.port": port}
    (profile / "user.js").write_text(
        "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in prefs.items())
    )
    return profile


def _open_firefox(pki: Any, tmp: Path, log: Path, stack: contextlib.ExitStack) -> tuple[MarionetteSession, dict]:
    port = free_port()
    profile = _firefox_profile(pki, tmp, port)
    argv = [_find("firefox-esr"), "-marionette", "-headless", "-no-remote", "-profile", str(profile), "about:blank"]
    env = {**os.environ, "MOZ_HEADLESS_WIDTH": "1280", "MOZ_HEADLESS_HEIGHT": "1024"}
    session = MarionetteSession(argv, port, log, env)
    stack.callback(session.stop)
    try:
        created = session.new_session({"browserName": "firefox", "acceptInsecureCerts": False, "timeouts": TIMEOUTS})
    except WebDriverError as e:
        raise RuntimeError(f"firefox: no session: {e}\n{session.log_tail()}") from None
    stack.callback(_quietly, session.command, "DELETE", "")
    return session, created.get("capabilities", {})


def _webkit(pki: Any, tmp: Path, display: str) -> _Launch:
    # WebKitGTK allows this certificate for these hosts (webkit_web_context_allow_tls_certificate_for_host):
    # the server's exact certificate, as Chromium trusts its key's hash.
    certificates = [{"host": host, "certificateFile": pki.cert} for host in ("127.0.0.1", "localhost")]
    options = {"binary": MINIBROWSER, "args": ["--automation"], "certificates": certificates}
    env = {**os.environ, "DISPLAY": display, "GDK_BACKEND": "x11", "LIBGL_ALWAYS_SOFTWARE": "1"}
    env.pop("WAYLAND_DISPLAY", None)
    return _Launch(
        [_find("WebKitWebDriver"), "--port={port}"],
        {"acceptInsecureCerts": False, "webkitgtk:browserOptions": options},
        env=env,
    )


def _quietly(command: Any, *args: Any) -> None:
    """End a session: the browser may be gone already."""
    with contextlib.suppress(OSError, WebDriverError):
        command(*args)


def _open_webdriver(launch: _Launch, log: Path, stack: contextlib.ExitStack) -> tuple[HttpSession, dict]:
    port = free_port()
    argv = [arg.replace("{port}", str(port)) for arg in launch.argv]
    driver = Driver(argv, port, log, env=launch.env)
    stack.callback(driver.stop)
    capabilities = {**launch.capabilities, "timeouts": TIMEOUTS}
    try:
        created = _request(
            driver.base, "POST", "/session", {"capabilities": {"alwaysMatch": capabilities}}, timeout=START_TIMEOUT
        )
    except WebDriverError as e:
        raise RuntimeError(f"{argv[0]}: no session: {e}\n{driver.log_tail()}") from None
    session = created["sessionId"]
    stack.callback(_quietly, _request, driver.base, "DELETE", f"/session/{session}", None, STOP_TIMEOUT + 5)
    return HttpSession(driver, session), created.get("capabilities", {})


@contextlib.contextmanager
def open_browser(
    engine: str, pki: Any, logs: str | os.PathLike[str] | None = None, quic_origin: str | None = None
) -> Iterator[Browser]:
    """A headless ``engine`` that trusts ``pki``'s server certificate (``tests.servers.make_test_pki``;
    anything with its ``spki_sha256`` does for Chromium). ``quic_origin`` (Chromium only): that
    ``host:port`` over HTTP/3, with WebSockets over HTTP/3 on.

    The driver's log (with the browser's output) goes to ``logs/<engine>-driver.log`` when ``logs``
    is given, else to a temporary folder removed at the end with the browser's profile.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown browser engine {engine!r}: choose from {', '.join(ENGINES)}")
    if quic_origin is not None and not HTTP3_WEBSOCKETS[engine]:
        raise ValueError(f"{engine} has no WebSockets over HTTP/3")
    lacking = missing(engine)
    if lacking:
        raise RuntimeError(f"{engine} needs {', '.join(lacking)}: make engines ENGINES={engine}")
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"engine-{engine}-")))
        log_dir = Path(logs) if logs is not None else tmp
        log_dir.mkdir(parents=True, exist_ok=True)
        log = log_dir / f"{engine}-driver.log"
        transport: Any
        if engine == "chromium":
            transport, capabilities = _open_webdriver(_chromium(pki, tmp, quic_origin), log, stack)
        elif engine == "firefox":
            transport, capabilities = _open_firefox(pki, tmp, log, stack)
        else:
            xvfb = Xvfb(log_dir / "webkit-xvfb.log")
            stack.callback(xvfb.stop)
            transport, capabilities = _open_webdriver(_webkit(pki, tmp, xvfb.display), log, stack)
        yield Browser(engine, transport, capabilities, HTTP2_WEBSOCKETS[engine])


def main() -> int:
    """List the engines, what each lacks, and (``--missing NAMES``) what to install for NAMES."""
    if sys.argv[1:2] == ["--missing"]:
        try:
            names = selected(" ".join(sys.argv[2:]) or "chromium")
        except ValueError as e:
            print(e, file=sys.stderr)
            return 2
        print(" ".join(dict.fromkeys(source for name in names for source in missing(name))))
        return 0
    for engine in ENGINES:
        lacking = missing(engine)
        print(f"{engine:9} {'installed' if not lacking else 'lacks ' + ', '.join(lacking)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
