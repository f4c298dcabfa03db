#!/bin/sh
# Print what the image is made of: this package, Python, Apache, mod_python, the base
# image and every Debian package with its version. Nothing time-dependent, so two
# builds of one commit on one day (same mirror state) print the same manifest.
set -eu
pkg_version() { dpkg-query -W -f '${Version}' "$1"; }
echo "mod_pywebsocket $(python3 -c 'import mod_pywebsocket; print(mod_pywebsocket.__version__)')"
echo "python $(python3 -c 'import platform; print(platform.python_version())') (Debian $(pkg_version python3.11))"
echo "apache $(apache2 -v | sed -n 's|^Server version: Apache/\([^ ]*\).*|\1|p') (Debian $(pkg_version apache2-bin))"
echo "mod_python Debian $(pkg_version libapache2-mod-python)"
if [ -r /etc/mod_pywebsocket-base ]; then
    echo "base debootstrap $(cat /etc/mod_pywebsocket-base) (suite, date)"
else
    echo "base pulled from a registry"
fi
echo "debian $(cat /etc/debian_version)"
echo "python packages (docker/python-packages.lock):"
python3 - <<'PY'
import importlib.metadata as metadata, re
names = {(re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(), d.version) for d in metadata.distributions()}
print("\n".join(f"  {name}=={version}" for name, version in sorted(names) if name != "mod-pywebsocket"))
PY
echo "packages:"
dpkg-query -W -f '${Package} ${Version} ${Architecture}\n' | sort
