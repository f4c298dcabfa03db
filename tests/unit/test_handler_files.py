"""Reloading handler files: changes, syntax errors, removals and new files, and open connections."""

from __future__ import annotations

import os
import time

import pytest

from mod_pywebsocket.dispatch import Dispatcher, DispatchException
from mod_pywebsocket.runtime import handler_files

SOURCE = """
def web_socket_do_extra_handshake(request):
    pass

def web_socket_transfer_data(request):
    return {version!r}
"""


class Request:
    def __init__(self, resource: str) -> None:
        self.ws_resource = resource


def write(path, text: str, bump: int = 0) -> None:
    path.write_text(text)
    stamp = time.time_ns() + bump * 1_000_000_000  # a new mtime even within one clock tick
    os.utime(path, ns=(stamp, stamp))


def version(dispatcher: Dispatcher, resource: str = "/live"):
    suite = dispatcher.get_handler_suite(resource)
    return None if suite is None else suite.transfer_data(None)


@pytest.fixture(autouse=True)
def no_rescan_delay(monkeypatch):
    monkeypatch.setattr(handler_files, "RESCAN_INTERVAL", 0.0)


def test_a_changed_file_is_loaded_again(tmp_path):
    write(tmp_path / "live_wsh.py", SOURCE.format(version="v1"))
    d = Dispatcher(str(tmp_path), reload=True)
    assert version(d) == "v1"
    write(tmp_path / "live_wsh.py", SOURCE.format(version="v2"), bump=1)
    assert version(d) == "v2"


def test_without_reload_the_first_version_stays(tmp_path):
    write(tmp_path / "live_wsh.py", SOURCE.format(version="v1"))
    d = Dispatcher(str(tmp_path), reload=False)
    write(tmp_path / "live_wsh.py", SOURCE.format(version="v2"), bump=1)
    write(tmp_path / "new_wsh.py", SOURCE.format(version="new"))
    assert version(d) == "v1"
    assert d.get_handler_suite("/new") is None


def test_a_syntax_error_is_500_and_the_old_version_is_not_used(tmp_path, caplog):
    write(tmp_path / "live_wsh.py", SOURCE.format(version="v1"))
    d = Dispatcher(str(tmp_path), reload=True)
    assert version(d) == "v1"
    write(tmp_path / "live_wsh.py", "def web_socket_transfer_data(request:\n", bump=1)
    for _ in range(2):  # and stays so until fixed
        with pytest.raises(DispatchException) as info:
            d.get_handler_suite("/live")
        assert info.value.status == 500
    assert "live_wsh.py: failed to load: SyntaxError" in caplog.text
    write(tmp_path / "live_wsh.py", SOURCE.format(version="v3"), bump=2)
    assert version(d) == "v3"
    assert "live_wsh.py: reloaded" in caplog.text


def test_removed_and_added_files(tmp_path, caplog):
    write(tmp_path / "live_wsh.py", SOURCE.format(version="v1"))
    d = Dispatcher(str(tmp_path), reload=True)
    os.remove(tmp_path / "live_wsh.py")
    assert d.get_handler_suite("/live") is None
    assert "live_wsh.py: removed" in caplog.text
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "new_wsh.py", SOURCE.format(version="new"))
    assert version(d, "/sub/new") == "new"
    assert "new handler for /sub/new" in caplog.text
    assert d.resources() == ["/sub/new"]


def test_a_file_that_is_not_a_handler_yet_is_found_once_fixed(tmp_path):
    write(tmp_path / "later_wsh.py", "x = 1\n")
    d = Dispatcher(str(tmp_path), reload=True)
    assert d.get_handler_suite("/later") is None
    write(tmp_path / "later_wsh.py", SOURCE.format(version="now"), bump=1)
    assert version(d, "/later") == "now"


def test_a_request_keeps_the_suite_it_started_with(tmp_path):
    write(tmp_path / "live_wsh.py", SOURCE.format(version="v1"))
    d = Dispatcher(str(tmp_path), reload=True)
    request = Request("/live")
    assert d._suite_for(request).transfer_data(None) == "v1"
    write(tmp_path / "live_wsh.py", SOURCE.format(version="v2"), bump=1)
    assert d._suite_for(request).transfer_data(None) == "v1"
    assert d._suite_for(Request("/live")).transfer_data(None) == "v2"


def test_misses_rescan_at_most_once_per_interval(tmp_path, monkeypatch):
    monkeypatch.setattr(handler_files, "RESCAN_INTERVAL", 3600.0)
    d = Dispatcher(str(tmp_path), reload=True)
    write(tmp_path / "new_wsh.py", SOURCE.format(version="new"))
    assert d.get_handler_suite("/new") is None  # the scan at start is too recent
    d._table._last_scan -= 7200
    assert version(d, "/new") == "new"


def test_aliases_follow_reloads(tmp_path):
    write(tmp_path / "live_wsh.py", SOURCE.format(version="v1"))
    d = Dispatcher(str(tmp_path), reload=True)
    d.add_resource_path_alias("/alias", "/live")
    write(tmp_path / "live_wsh.py", SOURCE.format(version="v2"), bump=1)
    assert version(d, "/alias") == "v2"


def test_hidden_folders_are_not_scanned(tmp_path):
    """A ConfigMap volume: the files live in a hidden timestamped folder, named by symlinks."""
    data = tmp_path / "..2026_11_26_12_00_00.123"
    data.mkdir()
    (data / "echo_wsh.py").write_text("def web_socket_transfer_data(request):\n    pass\n")
    (tmp_path / "..data").symlink_to(data.name)
    (tmp_path / "echo_wsh.py").symlink_to("..data/echo_wsh.py")
    assert Dispatcher(str(tmp_path)).resources() == ["/echo"]
