"""A small W3C WebDriver client (urllib): the driver process, pages and browsers over any transport.

A ``Browser`` talks to its engine through a transport with ``command(method, path, body)``
in WebDriver's own terms (``POST /url``, ``POST /execute/sync``, ...), relative to the
session: ``HttpSession`` sends them to a WebDriver server (chromedriver, WebKitWebDriver);
``marionette.MarionetteSession`` turns them into Firefox's own protocol.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Protocol

from .processes import START_TIMEOUT, stop_group, tail_of

COMMAND_TIMEOUT = 60.0  # one WebDriver command (scripts and page loads are bounded by the session)
SCRIPT_TIMEOUT_MS = 60_000
PAGE_LOAD_TIMEOUT_MS = 30_000


ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


class WebDriverError(RuntimeError):
    """A WebDriver command failed; ``error`` is the spec's error code (e.g. ``javascript error``)."""

    def __init__(self, command: str, error: str, message: str) -> None:
        super().__init__(f"{command}: {error}: {message.strip()[:2000]}")
        self.error = error


def _request(base: str, method: str, path: str, body: Any = None, timeout: float = COMMAND_TIMEOUT) -> Any:
    data = json.dumps({} if body is None else body).encode() if method == "POST" else None
    request = urllib.request.Request(
        base + path, data=data, method=method, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    command = f"{method} {path}"
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            value = json.loads(raw)["value"]
            raise WebDriverError(command, value.get("error", str(e.code)), value.get("message", "")) from None
        except (ValueError, KeyError, TypeError, AttributeError):
            raise WebDriverError(command, str(e.code), raw.decode("utf-8", "replace")) from None
    except TimeoutError as e:
        raise WebDriverError(command, "timeout", f"no answer from the driver within {timeout:.0f} s") from e
    return payload.get("value")


class Driver:
    """A WebDriver server process, in a process group of its own, logging to ``log``."""

    def __init__(self, argv: list[str], port: int, log: Path, env: dict[str, str] | None = None) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited at start ({self.process.returncode}):\n{self.log_tail()}")
            try:
                if _request(self.base, "GET", "/status", timeout=2).get("ready", True):
                    return
            except (OSError, WebDriverError, ValueError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{argv[0]} did not answer within {START_TIMEOUT:.0f} s:\n{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, size: int = 4000) -> str:
        return tail_of(self.log, size)

    def stop(self) -> None:
        stop_group(self.process)


class Transport(Protocol):
    """How a browser's commands reach it: WebDriver's commands, relative to the session."""

    def command(self, method: str, path: str, body: Any = None) -> Any: ...

    def log_tail(self, size: int = 4000) -> str: ...


class HttpSession:
    """One session of a WebDriver server."""

    def __init__(self, driver: Driver, session: str) -> None:
        self.driver = driver
        self.session = session

    def command(self, method: str, path: str, body: Any = None) -> Any:
        return _request(self.driver.base, method, f"/session/{self.session}{path}", body)

    def log_tail(self, size: int = 4000) -> str:
        return self.driver.log_tail(size)


# -- pages and browsers -------------------------------------------------------------------------------

# Installed in each page (again after it navigates): the console's lines and uncaught errors, kept
# in the page until an evaluate() ends and takes them. What a page logs before it is installed is lost.
_COLLECTOR = r"""
if (!window.__enginesConsole) {
  window.__enginesConsole = [];
  const keep = (line) => { if (window.__enginesConsole.length < 5000) window.__enginesConsole.push(line); };
  const text = (a) => { try { return typeof a === "string" ? a : JSON.stringify(a); } catch (e) { return String(a); } };
  for (const level of ["log", "info", "warn", "error", "debug"]) {
    const original = console[level];
    console[level] = function (...args) {
      keep(`[${level}] ${args.map(text).join(" ")}`);
      return original.apply(this, args);
    };
  }
  window.addEventListener("error", (e) => keep(`[pageerror] ${e.message}`));
  window.addEventListener("unhandledrejection", (e) => keep(`[pageerror] unhandled rejection: ${text(e.reason)}`));
}
"""


class Page:
    """One window of a ``Browser``; every command first makes it the driver's current window."""

    def __init__(self, browser: Browser, handle: str) -> None:
        self.browser = browser
        self.handle = handle
        self.console_lines: list[str] = []
        self.closed = False

    def _command(self, method: str, path: str, body: Any = None) -> Any:
        if self.closed:
            raise RuntimeError("the page is closed")
        self.browser._switch_to(self.handle)
        return self.browser._command(method, path, body)

    def goto(self, url: str) -> None:
        """Load ``url`` and wait for its load event (at most 30 s)."""
        self._command("POST", "/url", {"url": url})
        self.evaluate("null")  # installs the console collector at once

    def evaluate(self, expression: str, *args: Any) -> Any:
        """The JSON value of a JavaScript expression (``arguments[i]`` are ``args``); a promise is
        awaited (at most 60 s)."""
        script = (
            f"{_COLLECTOR}\nreturn Promise.resolve(({expression}))"
            ".then((value) => [value, (window.__enginesConsole || []).splice(0)]);"
        )
        try:
            value, lines = self._command("POST", "/execute/sync", {"script": script, "args": list(args)})
        except WebDriverError as e:
            self.console_lines.append(f"[evaluate] {expression[:200]!r}: {e}")
            raise
        self.console_lines.extend(lines)
        return value

    def wait_for(self, expression: str, *args: Any, timeout: float = 15.0, interval: float = 0.1) -> Any:
        """Evaluate ``expression`` until it is truthy; its value, or TimeoutError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression, *args)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"not true within {timeout:g} s: {expression}")
            time.sleep(interval)

    def _element(self, selector: str) -> str:
        return self._command("POST", "/element", {"using": "css selector", "value": selector})[ELEMENT]

    def click(self, selector: str) -> None:
        """Click the element (WebDriver's Element Click: scrolled into view, a real pointer click)."""
        self._command("POST", f"/element/{self._element(selector)}/click")

    def fill(self, selector: str, text: str) -> None:
        """Clear a text field and type ``text`` into it (WebDriver's Element Send Keys)."""
        element = self._element(selector)
        self._command("POST", f"/element/{element}/clear")
        self._command("POST", f"/element/{element}/value", {"text": text})

    def content(self) -> str:
        return self.evaluate("document.documentElement.outerHTML")

    def screenshot(self, path: str | os.PathLike[str]) -> None:
        """The window's visible part, as PNG."""
        Path(path).write_bytes(base64.b64decode(self._command("GET", "/screenshot")))

    def close(self) -> None:
        if self.closed:
            return
        with contextlib.suppress(WebDriverError):
            self._command("DELETE", "/window")
        self.closed = True
        self.browser._closed(self)


class Browser:
    """One WebDriver session of one engine. Pages are windows of that session; the session's first
    window stays on about:blank so that closing every page does not end the session."""

    def __init__(self, engine: str, transport: Transport, capabilities: dict[str, Any], http2_websockets: bool) -> None:
        self.engine = engine
        self.transport = transport
        self.capabilities = capabilities
        self.full_version: str = str(capabilities.get("browserVersion", "?"))
        parts = self.full_version.split(".")
        # Chromium and Firefox: the major number ("156", "153"). WebKitGTK's major number has been 2
        # for every release: major.minor ("2.50").
        self.version = ".".join(parts[:2]) if engine == "webkit" else parts[0]
        self.http2_websockets = http2_websockets
        self.pages: list[Page] = []
        self._home = self._command("GET", "/window")
        self._current: str | None = self._home

    def agent(self, transport: str) -> str:
        """A name for reports: ``firefox-153-h2``, ``chromium-156-ws``, ``webkit-2.50-ws``."""
        return f"{self.engine}-{self.version}-{transport}"

    def _command(self, method: str, path: str, body: Any = None) -> Any:
        return self.transport.command(method, path, body)

    def _switch_to(self, handle: str) -> None:
        if self._current != handle:
            self._command("POST", "/window", {"handle": handle})
            self._current = handle

    def new_page(self) -> Page:
        """A new window (a top-level one, not a background tab: timers run at full pace)."""
        handle = self._command("POST", "/window/new", {"type": "window"})["handle"]
        page = Page(self, handle)
        self.pages.append(page)
        return page

    def _closed(self, page: Page) -> None:
        self.pages.remove(page)
        self._current = None
        self._switch_to(self._home)

    def log_tail(self, size: int = 4000) -> str:
        """The end of the driver's log (the browser's own output goes there too)."""
        return self.transport.log_tail(size)
