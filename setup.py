"""The optional C accelerator and the ``pywebsocket3`` import name; everything else is in pyproject.toml.

The extension is optional: where no compiler is available the package installs
without it and uses its pure-Python fallback.

The wheel also carries ``mod_pywebsocket-pywebsocket3.pth``: at interpreter start it
registers ``runtime.aliases.install_fallback()``, so that code importing ``pywebsocket3``
before any handler is loaded (wptserve, WPT's tools) gets this package where no
real pywebsocket3 is installed. It never shadows a real one.
"""

import os

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

PTH_NAME = "mod_pywebsocket-pywebsocket3.pth"
# One line, run by site.py at start-up (a .pth line that starts with "import" is executed).
PTH_LINE = "import mod_pywebsocket.runtime.aliases as a; a.install_fallback()\n"


class BuildPyWithAlias(build_py):
    def run(self):
        super().run()
        target = os.path.join(self.build_lib, PTH_NAME)
        with open(target, "w", encoding="ascii") as out:
            out.write(PTH_LINE)

    def get_outputs(self, include_bytecode=True):
        return [*super().get_outputs(include_bytecode), os.path.join(self.build_lib, PTH_NAME)]


setup(
    ext_modules=[Extension("mod_pywebsocket._speedups", ["mod_pywebsocket/_speedups.c"], optional=True)],
    cmdclass={"build_py": BuildPyWithAlias},
)
