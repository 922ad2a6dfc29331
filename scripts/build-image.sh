#!/usr/bin/env bash
# Build the container image (Dockerfile) with docker or podman, whichever works here.
#
#   scripts/build-image.sh [--base IMAGE] [--tag TAG] [--target runtime|cuda] [--cuda-base IMAGE]
#                          [--host-wheels] [--ca-bundle FILE]
#
# --base IMAGE       any Debian-based image with Python 3.11+ and venv (BASE_IMAGE build argument)
# --tag TAG          the image's name (default localhost/universal-decoder-node:latest)
# --target T         runtime (the CPU image, default) or cuda (CUDA_BASE_IMAGE, --cuda-base)
# --host-wheels      build the wheels here, with this machine's Python, pip and network settings,
#                    and copy them in: nothing in the build reaches an index (the base image's
#                    Python must have the same version); kept in ~/.cache between builds
# --ca-bundle FILE   the CA bundle pip trusts inside the build (default: PIP_CERT, SSL_CERT_FILE or
#                    the system bundle), passed as a build secret so it stays out of the image;
#                    needed behind a proxy that re-signs TLS
# CONTAINER_ENGINE=docker|podman chooses the engine; podman builds with --format docker, since its
# default OCI format drops HEALTHCHECK.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_REQUIREMENTS=(setuptools==84.2.1 wheel==0.48.0)  # pyproject.toml's build-system, pinned
# Dependencies only some Pythons need, so a resolver on this machine's Python may leave them out:
# redis needs async-timeout before 3.11.3 (Debian 12 has 3.11.2). Versions: the lock file.
MARKER_REQUIREMENTS=(async-timeout)
base="" tag="localhost/universal-decoder-node:latest" target=runtime cuda_base="" host_wheels=0
ca_bundle=""
while [ $# -gt 0 ]; do
  case "$1" in
    --base) base=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    --cuda-base) cuda_base=$2; shift 2 ;;
    --host-wheels) host_wheels=1; shift ;;
    --ca-bundle) ca_bundle=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$target" in runtime | cuda) ;; *) echo "build-image: --target is runtime or cuda" >&2; exit 2 ;; esac

engine=${CONTAINER_ENGINE:-}
if [ -z "$engine" ]; then
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    engine=docker
  elif command -v podman >/dev/null 2>&1; then
    engine=podman
  else
    echo "build-image: neither a running docker nor podman found (Debian: apt-get install podman)" >&2
    exit 1
  fi
fi

args=(build --target "$target" --tag "$tag" --file Dockerfile)
[ "$engine" = podman ] && args+=(--format docker)
[ -n "$base" ] && args+=(--build-arg "BASE_IMAGE=$base")
[ -n "$cuda_base" ] && args+=(--build-arg "CUDA_BASE_IMAGE=$cuda_base")
for name in HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy; do
  [ -n "${!name:-}" ] && args+=(--build-arg "$name=${!name}")
done

if [ -z "$ca_bundle" ]; then
  for candidate in "${PIP_CERT:-}" "${SSL_CERT_FILE:-}" /etc/ssl/certs/ca-certificates.crt; do
    if [ -n "$candidate" ] && [ -s "$candidate" ]; then ca_bundle=$candidate; break; fi
  done
fi
if [ -n "$ca_bundle" ]; then
  args+=(--secret "id=ca,src=$ca_bundle")
  [ "$engine" = docker ] && export DOCKER_BUILDKIT=1  # build secrets need BuildKit
fi

rm -rf build/image-wheels
mkdir -p build/image-wheels
if [ "$host_wheels" = 1 ]; then
  python=${PYTHON:-}
  if [ -z "$python" ]; then
    if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python3; fi
  fi
  base_image=${base:-docker.io/library/python:3.11-slim-bookworm}
  [ "$target" = cuda ] && { echo "build-image: --host-wheels builds the runtime target only" >&2; exit 2; }
  want=$("$engine" run --rm --network none "$base_image" python3 -c \
    'import sys; print("%d.%d" % sys.version_info[:2])')
  have=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  if [ "$want" != "$have" ]; then
    echo "build-image: $base_image has Python $want, $python is $have: wheels built here would not fit" >&2
    exit 1
  fi
  key=$(cat requirements/lock.txt pyproject.toml <(echo "${BUILD_REQUIREMENTS[*]} ${MARKER_REQUIREMENTS[*]}") | sha256sum | cut -c1-16)
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/universal-decoder-node/image-wheels/py$have-$key
  if [ ! -f "$cache/.complete" ]; then
    echo "build-image: building wheels with $python into $cache" >&2
    rm -rf "$cache.tmp"
    "$python" -m pip wheel --quiet --disable-pip-version-check -c requirements/lock.txt \
      --wheel-dir "$cache.tmp" '.[otel]' "${BUILD_REQUIREMENTS[@]}" "${MARKER_REQUIREMENTS[@]}"
    rm -f "$cache.tmp"/universal_decoder_node-*.whl  # the project is built from the source inside
    touch "$cache.tmp/.complete"
    rm -rf "$cache"
    mv "$cache.tmp" "$cache"
  fi
  cp -l "$cache"/*.whl build/image-wheels/ 2>/dev/null || cp "$cache"/*.whl build/image-wheels/
fi

echo "build-image: $engine ${args[*]} ." >&2
exec "$engine" "${args[@]}" .
