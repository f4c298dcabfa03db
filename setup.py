"""Only for the optional C accelerator; everything else is in pyproject.toml.

The extension is optional: where no compiler is available the package installs
without it and uses its pure-Python fallback.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("mod_pywebsocket._speedups", ["mod_pywebsocket/_speedups.c"], optional=True)])
