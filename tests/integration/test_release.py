"""Releases: the version agrees wherever it shows, the image's manifest comes out the
same when the image is built again, and the wheel and sdist install into fresh venvs."""

from __future__ import annotations

import datetime
import subprocess
import sys
import tarfile
import uuid
import zipfile
from pathlib import Path

import docker
import pytest
from websockets.sync.client import connect

from mod_pywebsocket import __version__

from ..servers import EXAMPLES, IMAGE, ROOT, wait_for_port

pytestmark = pytest.mark.integration

LABEL = "org.opencontainers.image."
MANIFEST = "/usr/share/mod_pywebsocket/manifest.txt"
BASE_IMAGE = "debian:bookworm-slim"


def run_in_image(image: str, *command: str) -> str:
    return docker.from_env().containers.run(image, list(command), remove=True).decode()


def test_version_agrees_everywhere():
    image = docker.from_env().images.get(IMAGE)
    labels = image.labels
    assert labels[LABEL + "version"] == __version__
    assert IMAGE.rsplit(":", 1)[0] + ":" + __version__ in image.tags
    if (ROOT / ".git").exists():
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        assert labels[LABEL + "revision"].startswith(head)
    datetime.datetime.fromisoformat(labels[LABEL + "created"])
    assert labels[LABEL + "source"] not in ("", "unknown")
    assert run_in_image(IMAGE, "python3", "-m", "mod_pywebsocket.standalone", "--version").strip() == (
        f"mod_pywebsocket {__version__}"
    )
    manifest = run_in_image(IMAGE, "cat", MANIFEST).splitlines()
    assert manifest[0] == f"mod_pywebsocket {__version__}"
    assert any(line.startswith("apache 2.4.") for line in manifest)
    assert any(line.startswith("mod_python Debian ") for line in manifest)
    assert any(line.startswith("python 3.") for line in manifest)
    packages = manifest[manifest.index("packages:") + 1 :]
    names = {line.split()[0] for line in packages}
    assert {"apache2", "libapache2-mod-python", "python3.11", "openssl"} <= names
    # The Python packages from PyPI (HTTP/3), exactly as docker/python-packages.lock pins them.
    python_packages = manifest[
        manifest.index("python packages (docker/python-packages.lock):") + 1 : manifest.index("packages:")
    ]
    installed = {line.strip() for line in python_packages}
    pinned = {
        line.split()[0]
        for line in (ROOT / "docker" / "python-packages.lock").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    assert pinned <= installed, pinned - installed


def test_the_image_installs_the_wheel():
    listing = run_in_image(IMAGE, "sh", "-c", "ls /usr/local/lib/python3.11/dist-packages /usr/share/mod_pywebsocket")
    assert f"mod_pywebsocket-{__version__}.dist-info" in listing
    assert f"mod_pywebsocket-{__version__}-" in listing  # the wheel itself, kept beside the manifest


def test_manifest_is_the_same_when_the_image_is_built_again():
    """The runtime stage's packages installed once more (the build stage is reused)."""
    tag = f"mod_pywebsocket:manifest-check-{uuid.uuid4().hex[:8]}"
    build = [
        "docker", "build", "-q", "-f", "docker/Dockerfile", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}",
        "--build-arg", f"REBUILD={tag}", "-t", tag, ".",
    ]  # fmt: skip
    subprocess.run(build, cwd=ROOT, check=True, capture_output=True, timeout=900)
    try:
        assert run_in_image(tag, "cat", MANIFEST) == run_in_image(IMAGE, "cat", MANIFEST)
    finally:
        docker.from_env().images.remove(tag, force=True)


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """The sdist, and the wheel built from it, as `make dist` builds them."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "-q", "--outdir", str(out), str(ROOT)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return out


def test_sdist_and_wheel_hold_what_they_should(dist):
    sdist = next(dist.glob("*.tar.gz"))
    names = {name.split("/", 1)[1] for name in tarfile.open(sdist).getnames() if "/" in name}
    assert {"LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml", "setup.py"} <= names
    assert {"mod_pywebsocket/_apacheio.c", "mod_pywebsocket/_speedups.c", "mod_pywebsocket/handshake/base.py"} <= names
    wheel = next(dist.glob("*.whl"))
    members = zipfile.ZipFile(wheel).namelist()
    assert "mod_pywebsocket/handshake/hybi.py" in members
    assert "mod_pywebsocket-pywebsocket3.pth" in members  # `import pywebsocket3` before any handler
    # The client-conformance suite: its cases and the page the servers serve.
    assert "mod_pywebsocket/client_conformance/cases/utf8_sequences.py" in members
    assert "mod_pywebsocket/client_conformance/static/client-conformance.html" in members
    assert any(name.endswith("licenses/LICENSE") or name.endswith("/LICENSE") for name in members)
    assert not any(name.endswith(".c") for name in members)


@pytest.mark.parametrize("kind", ["whl", "tar.gz"])
def test_install_into_a_fresh_venv_and_serve(dist, tmp_path, kind):
    artifact = next(dist.glob(f"*.{kind}"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(artifact)], check=True, timeout=300)
    version = subprocess.run(
        [venv / "bin" / "mod_pywebsocket-standalone", "--version"], cwd=tmp_path, capture_output=True, text=True
    )
    assert version.stdout.strip() == f"mod_pywebsocket {__version__}"
    where = subprocess.run(
        [python, "-c", "import mod_pywebsocket; print(mod_pywebsocket.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert where.startswith(str(venv))
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [python, "-m", "mod_pywebsocket.standalone", "-H", "127.0.0.1", "-p", "0", "-w", str(EXAMPLES),
             "--log-level", "info"],
            cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        port = wait_for_port(server, log)
        with connect(f"ws://127.0.0.1:{port}/echo", open_timeout=10) as ws:
            ws.send("installed")
            assert ws.recv(timeout=10) == "installed"
    finally:
        server.terminate()
        server.wait(10)
