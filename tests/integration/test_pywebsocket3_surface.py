"""Every name pywebsocket3 4.0.2 has is here too: module by module, class by class, and on a
live connection, compared with the real pywebsocket3 from PyPI.

A throwaway venv holds pywebsocket3 and six (test_wptserve's pins). ``survey()`` runs in
it and lists every module's names (what each is bound to) and every class's attributes;
it runs again on this package under the same module names. Then each package's
standalone server serves a probe handler that sends back ``dir()`` of what a handler
can reach (the request, its stream, its connection, its extension processors) to a
``websockets`` client offering permessage-deflate; the server object's own ``dir()``
is what an embedder reaches.

A name pywebsocket3 has and this package lacks fails the test unless docs/migrating.md's
table "Names not provided" lists it with why. Ignored: module objects of the standard
library or six (``import os``, ``six.moves``) and ``from __future__`` features; a name
bound to one of pywebsocket3's own modules must be bound to the same module here.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.sync.client import connect

from ..servers import ROOT, make_pywebsocket3_venv

pytestmark = pytest.mark.integration

MIGRATING = ROOT / "docs" / "migrating.md"
PROBE_RESOURCE = "/surface_probe"
TIMEOUT = 30.0

PROBE_HANDLER = '''\
"""Sends back, as one JSON message, dir() of what a handler can reach."""

import json


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    processors = request.ws_extension_processors
    reachable = {
        "request": dir(request),
        "request.ws_stream": dir(request.ws_stream),
        "request.connection": dir(request.connection),
        "request.ws_extension_processors[i]": sorted({name for p in processors for name in dir(p)}),
        "processor count": len(processors),
    }
    request.ws_stream.send_message(json.dumps(reachable), binary=False)
'''


# -- run in either interpreter (stdlib only; written out as scripts) ---------------


def survey(package: str, module_names: list[str], out_path: str) -> None:
    """Write ``{module: {name: description}}`` as JSON: every name bound in each module
    ("" is the package; all of them when ``module_names`` is empty), dunders aside."""
    import __future__

    import importlib
    import inspect
    import json
    import pkgutil
    import types

    def relative(name: str) -> str | None:
        if name == package or name.startswith(package + "."):
            return name[len(package) + 1 :]
        return None

    def describe(value) -> dict:
        if isinstance(value, __future__._Feature):
            return {"kind": "future"}
        if isinstance(value, types.ModuleType):
            return {"kind": "module", "module": relative(value.__name__)}
        if inspect.isclass(value):
            names = sorted(a for a in dir(value) if not (a.startswith("__") and a.endswith("__")))
            own = relative(value.__module__ or "") is not None
            return {"kind": "class", "own": own, "attributes": names}
        if callable(value):
            return {"kind": "callable"}
        if value is None or isinstance(value, bool | int | float | str | bytes):
            return {"kind": "value", "value": repr(value)}
        return {"kind": type(value).__name__}

    top = importlib.import_module(package)
    if not module_names:
        found = pkgutil.walk_packages(top.__path__, package + ".")
        module_names = [""] + sorted(relative(info.name) for info in found)
    modules = {name: importlib.import_module(f"{package}.{name}" if name else package) for name in module_names}
    listing = {
        name: {n: describe(v) for n, v in vars(module).items() if not (n.startswith("__") and n.endswith("__"))}
        for name, module in modules.items()
    }
    with open(out_path, "w") as out:
        json.dump(listing, out)


def serve_probe(package: str, handlers: str) -> None:
    """Run ``package``'s standalone server on the probe handler, as an embedder does; print
    its port and ``dir()`` of the server as one JSON line."""
    import importlib
    import json

    standalone = importlib.import_module(package + ".standalone")
    options, _ = standalone._parse_args_and_config(["-H", "127.0.0.1", "-p", "0", "-w", handlers, "-d", handlers])
    options.cgi_directories, options.is_executable_method = [], None  # as pywebsocket3's _main adds them
    server = standalone.WebSocketServer(options)
    print(json.dumps({"port": server._sockets[0][0].getsockname()[1], "server": dir(server)}), flush=True)
    server.serve_forever()


def script(function, *args) -> str:
    """Python source that defines ``function`` and calls it with ``args``."""
    return f"{inspect.getsource(function)}\n\n{function.__name__}(*{json.dumps(args)})\n"


# -- the two packages ---------------------------------------------------------------


@pytest.fixture(scope="module")
def reference_python(tmp_path_factory) -> Path:
    return make_pywebsocket3_venv(tmp_path_factory.mktemp("pywebsocket3-surface"))


def environment(package: str) -> dict[str, str]:
    """This package from this folder; the reference from its venv alone."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return env | {"PYTHONPATH": str(ROOT)} if package == "mod_pywebsocket" else env


def run_survey(python: Path | str, package: str, modules: list[str], directory: Path) -> dict:
    out = directory / f"{package}.json"
    subprocess.run(
        [str(python), "-c", script(survey, package, modules, str(out))],
        cwd=directory, env=environment(package), check=True, timeout=120,
    )  # fmt: skip
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def surveys(reference_python, tmp_path_factory) -> tuple[dict, dict]:
    """(pywebsocket3's, ours): each module's names, by pywebsocket3's module names."""
    directory = tmp_path_factory.mktemp("surveys")
    theirs = run_survey(reference_python, "pywebsocket3", [], directory)
    ours = run_survey(sys.executable, "mod_pywebsocket", list(theirs), directory)
    return theirs, ours


def reachable_on_a_live_connection(python: Path | str, package: str, directory: Path) -> dict:
    """What a handler (and an embedder) of ``package``'s standalone server can reach, by ``dir()``."""
    handlers = directory / package
    handlers.mkdir()
    (handlers / (PROBE_RESOURCE[1:] + "_wsh.py")).write_text(PROBE_HANDLER)
    log = directory / f"{package}.log"
    with open(log, "wb") as err:
        process = subprocess.Popen(
            [str(python), "-c", script(serve_probe, package, str(handlers))],
            cwd=directory, env=environment(package), stdout=subprocess.PIPE, stderr=err,
        )  # fmt: skip
    try:
        line = process.stdout.readline()
        assert line, f"{package}'s server did not start:\n{log.read_text(errors='replace')}"
        started = json.loads(line)
        url = f"ws://127.0.0.1:{started['port']}{PROBE_RESOURCE}"
        with connect(url, compression="deflate", open_timeout=TIMEOUT) as ws:
            reachable = json.loads(ws.recv(timeout=TIMEOUT))
        reachable["standalone.WebSocketServer(options)"] = started["server"]
        return reachable
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def live(reference_python, tmp_path_factory) -> tuple[dict, dict]:
    """(pywebsocket3's, ours): ``dir()`` of what a handler and an embedder reach."""
    directory = tmp_path_factory.mktemp("live")
    theirs = reachable_on_a_live_connection(reference_python, "pywebsocket3", directory)
    ours = reachable_on_a_live_connection(sys.executable, "mod_pywebsocket", directory)
    return theirs, ours


# -- the comparison ------------------------------------------------------------------


def not_provided_table() -> dict[tuple[str, str], str]:
    """docs/migrating.md's "Names not provided": (module, name) -> why."""
    text = MIGRATING.read_text()
    assert "\n## Names not provided\n" in text, "docs/migrating.md has no section '## Names not provided'"
    section = text.split("\n## Names not provided\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not line.startswith("|") or cells[0] == "module" or set(cells[0]) <= set("-: "):
            continue
        module, name, why = cells
        assert why, f"docs/migrating.md: {module} {name} is listed without why"
        rows[(module, name)] = why
    return rows


def module_differences(theirs: dict, ours: dict) -> tuple[set, list[str]]:
    """(missing (module, name) pairs, other differences) between two surveys."""
    missing, wrong = set(), []
    for module, names in theirs.items():
        label = module or "mod_pywebsocket"
        for name, their in names.items():
            if their["kind"] == "future" or (their["kind"] == "module" and their["module"] is None):
                continue  # plumbing: from __future__, the standard library, six
            our = ours.get(module, {}).get(name)
            if our is None:
                missing.add((label, name))
                continue
            wrong += [f"{label}.{name}: {problem}" for problem in differences(their, our)]
            if their["kind"] == "class" and their["own"] and our["kind"] == "class":
                missing |= {(label, f"{name}.{a}") for a in set(their["attributes"]) - set(our["attributes"])}
    return missing, wrong


def differences(their: dict, our: dict) -> list[str]:
    """What differs between two descriptions of one name: its kind, its module, its value."""
    if their["kind"] != our["kind"]:
        return [f"a {their['kind']} there, a {our['kind']} here"]
    if their["kind"] == "module" and their["module"] != our["module"]:
        return [f"bound to module {their['module']!r} there, {our['module']!r} here"]
    if their["kind"] == "value" and their["value"] != our["value"]:
        return [f"{their['value']} there, {our['value']} here"]
    return []


def live_differences(theirs: dict, ours: dict) -> set:
    """(object, name) for each attribute pywebsocket3's live objects have and ours lack (dunders aside)."""
    missing = set()
    for reached, names in theirs.items():
        if isinstance(names, list):
            missing |= {(reached, name) for name in set(names) - set(ours[reached]) if not name.startswith("__")}
    return missing


def check(missing: set, listed: dict) -> list[str]:
    """The names missing here that the table does not list."""
    unexplained = [f"{module} | {name}" for module, name in sorted(missing - set(listed))]
    return [f"missing here and not in docs/migrating.md's table: {row}" for row in unexplained]


def stale(listed: dict, missing: set, modules: set[str]) -> list[str]:
    """Rows for names this package now provides (only rows of the places compared)."""
    return [
        f"docs/migrating.md lists {module} | {name}, but it is provided"
        for module, name in sorted(set(listed) - missing)
        if module in modules
    ]


def test_the_reference_was_surveyed(surveys, live):
    theirs, _ = surveys
    assert {"common", "msgutil", "stream", "util", "handshake.base", "dispatch", "standalone"} <= set(theirs)
    assert sum(len(names) for names in theirs.values()) > 250
    their_live, _ = live
    assert their_live["processor count"] >= 1, "the reference saw no permessage-deflate offer"
    assert "ws_stream" in their_live["request"]


def test_every_module_name_and_class_attribute_is_here(surveys):
    theirs, ours = surveys
    missing, wrong = module_differences(theirs, ours)
    listed = not_provided_table()
    modules = {module or "mod_pywebsocket" for module in theirs}
    problems = wrong + check(missing, listed) + stale(listed, missing, modules)
    assert not problems, "\n".join(problems)


def test_every_attribute_a_handler_or_embedder_reaches_is_here(live):
    theirs, ours = live
    assert ours["processor count"] >= 1, "no permessage-deflate processor here to compare"
    missing = live_differences(theirs, ours)
    listed = not_provided_table()
    problems = check(missing, listed) + stale(listed, missing, {k for k, v in theirs.items() if isinstance(v, list)})
    assert not problems, "\n".join(problems)


def test_the_table_rows_name_places_that_are_compared(surveys, live):
    """A row whose module is not one of pywebsocket3's modules, nor a live object, is a typo."""
    places = {module or "mod_pywebsocket" for module in surveys[0]} | set(live[0])
    unknown = sorted(f"{module} | {name}" for module, name in not_provided_table() if module not in places)
    assert not unknown, f"docs/migrating.md's rows for places not compared: {unknown}"
    assert re.search(r"^\| module \| name \| why \|$", MIGRATING.read_text(), re.M)
