"""``pywebsocket3`` as an import name for handlers, without shadowing a real pywebsocket3."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from mod_pywebsocket import msgutil
from mod_pywebsocket.dispatch import Dispatcher
from mod_pywebsocket.runtime import aliases

HANDLER = """
from pywebsocket3 import common, msgutil, stream, util, handshake
from pywebsocket3.handshake import hybi, base
import pywebsocket3.dispatch
from mod_pywebsocket import msgutil as msgutil2


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    return msgutil, msgutil2, hybi, base, pywebsocket3.dispatch, util, common, stream, handshake
"""


def test_handlers_get_this_package_under_both_names(tmp_path):
    (tmp_path / "both_wsh.py").write_text(HANDLER)
    modules = Dispatcher(str(tmp_path)).get_handler_suite("/both").transfer_data(None)
    got_msgutil, got_msgutil2, hybi, base, dispatch, util, *_ = modules
    assert got_msgutil is msgutil is got_msgutil2
    assert hybi.__name__ == "mod_pywebsocket.handshake.hybi"
    assert base.__name__ == "mod_pywebsocket.handshake.base"
    assert dispatch.__name__ == "mod_pywebsocket.dispatch"
    assert util.__name__ == "mod_pywebsocket.util"


def test_a_real_pywebsocket3_is_not_shadowed(tmp_path):
    """Outside handler files, `import pywebsocket3` finds an installed one first."""
    fake = tmp_path / "site" / "pywebsocket3"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("REAL = True\n")
    (tmp_path / "h").mkdir()
    (tmp_path / "h" / "both_wsh.py").write_text(HANDLER)
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(tmp_path / "site")!r})
        from mod_pywebsocket.dispatch import Dispatcher
        from mod_pywebsocket import msgutil
        suite = Dispatcher({str(tmp_path / "h")!r}).get_handler_suite("/both")
        assert suite.transfer_data(None)[0] is msgutil  # the handler got ours
        import pywebsocket3
        assert pywebsocket3.REAL  # everyone else gets the installed one
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr


def test_fallback_finder_serves_the_alias_when_nothing_else_does():
    script = textwrap.dedent("""
        import os, sys
        sys.path = [p for p in sys.path if not os.path.exists(os.path.join(p or ".", "pywebsocket3"))]
        import mod_pywebsocket.dispatch
        import pywebsocket3.msgutil as alias
        import mod_pywebsocket.msgutil as real
        assert alias is real and real.__spec__.name == "mod_pywebsocket.msgutil"
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr
    assert aliases.PACKAGE == "mod_pywebsocket"
