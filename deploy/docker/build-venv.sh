#!/bin/sh
# Run in the image's build stage: build every wheel the image needs, pinned by the lock file, then
# install them into /opt/venv. Wheels built outside (scripts/build-image.sh --host-wheels) in
# build/image-wheels are used without reaching an index; otherwise pip downloads, trusting the CA
# bundle passed as the build secret "ca" when there is one (a TLS-intercepting proxy).
set -eu
cd /src
set --
if [ -s /run/secrets/ca ]; then
  # In the environment, not as --cert: pip's build-isolation subprocess must trust it too.
  export PIP_CERT=/run/secrets/ca
fi
if ls build/image-wheels/*.whl >/dev/null 2>&1; then
  set -- "$@" --no-index --find-links build/image-wheels
fi
python3 -m venv /opt/build-venv
/opt/build-venv/bin/pip wheel --quiet "$@" -c requirements/lock.txt --wheel-dir /wheels ".[${EXTRAS}]"
python3 -m venv /opt/venv
/opt/venv/bin/pip install --quiet --no-index --find-links /wheels "universal-decoder-node[${EXTRAS}]"
# The runtime needs neither pip nor setuptools.
/opt/venv/bin/python -m pip uninstall --quiet --yes pip setuptools 2>/dev/null || true
