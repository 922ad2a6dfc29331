# syntax=docker/dockerfile:1
# The decoder node and coordinator image (docs/deploy.md). Build it with scripts/build-image.sh,
# which picks docker or podman, passes the host's CA bundle as a build secret and builds the
# `runtime` target; `--target cuda` is the CTranslate2 GPU variant.
#
#   BASE_IMAGE       any Debian-based image with Python 3.11+ and venv (default: the official slim one)
#   CUDA_BASE_IMAGE  the CUDA variant's base: CUDA 12 and cuDNN 9 runtime, Ubuntu 24.04 (Python 3.12)
#   EXTRAS           the project's optional dependencies to install (otel: OpenTelemetry tracing)
ARG BASE_IMAGE=docker.io/library/python:3.11-slim-bookworm
ARG CUDA_BASE_IMAGE=docker.io/nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

# Wheels for every pinned dependency and the project, installed into /opt/venv.
FROM ${BASE_IMAGE} AS build
ARG EXTRAS=otel
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore EXTRAS=${EXTRAS}
COPY . /src
RUN --mount=type=secret,id=ca sh /src/deploy/docker/build-venv.sh

# What runs: the venv (the bundled en<->pt models come inside it), an unprivileged user, the model store.
FROM ${BASE_IMAGE} AS runtime
COPY deploy/docker/runtime-setup.sh /usr/local/lib/udn/runtime-setup.sh
RUN sh /usr/local/lib/udn/runtime-setup.sh
COPY --from=build /opt/venv /opt/venv
# Configuration is by environment (UDN_<SECTION>__<KEY>; `udn init` writes every key) or a YAML file
# named by UDN_CONFIG; these defaults suit a container: listen on every interface, keep state
# in the folders the image owns.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOME=/var/lib/udn \
    ADAPTER_DIR=/models/adapters \
    COORDINATOR_STATE_FILE=/var/lib/udn/coordinator-state.json \
    UDN_SERVING__HOST=0.0.0.0 \
    UDN_COORDINATOR__HOST=0.0.0.0 \
    UDN_PROFILING__PROFILE_OUTPUT_DIR=/var/lib/udn/profiles
VOLUME ["/models/adapters"]
WORKDIR /var/lib/udn
USER 10001:10001
EXPOSE 8000 5100
# A node answers /health on its serving port; a coordinator sets UDN_HEALTH_URL to its own.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ.get('UDN_HEALTH_URL') or 'http://127.0.0.1:%s/health' % os.environ.get('UDN_SERVING__PORT', '8000'), timeout=4)"]
ENTRYPOINT ["udn"]
CMD ["serve"]

# The CUDA variant: the same image on NVIDIA's CUDA runtime, for CTranslate2 pairs with device: cuda.
FROM ${CUDA_BASE_IMAGE} AS cuda-base
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*

FROM cuda-base AS cuda-build
ARG EXTRAS=otel,gpu
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore EXTRAS=${EXTRAS}
COPY . /src
RUN --mount=type=secret,id=ca sh /src/deploy/docker/build-venv.sh

FROM cuda-base AS cuda
COPY deploy/docker/runtime-setup.sh /usr/local/lib/udn/runtime-setup.sh
RUN sh /usr/local/lib/udn/runtime-setup.sh
COPY --from=cuda-build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOME=/var/lib/udn \
    ADAPTER_DIR=/models/adapters \
    COORDINATOR_STATE_FILE=/var/lib/udn/coordinator-state.json \
    UDN_SERVING__HOST=0.0.0.0 \
    UDN_COORDINATOR__HOST=0.0.0.0 \
    UDN_PROFILING__PROFILE_OUTPUT_DIR=/var/lib/udn/profiles \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
VOLUME ["/models/adapters"]
WORKDIR /var/lib/udn
USER 10001:10001
EXPOSE 8000 5100
HEALTHCHECK --interval=15s --timeout=5s --start-period=180s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ.get('UDN_HEALTH_URL') or 'http://127.0.0.1:%s/health' % os.environ.get('UDN_SERVING__PORT', '8000'), timeout=4)"]
ENTRYPOINT ["udn"]
CMD ["serve"]

# The default target (a plain `docker build .`) is the CPU image.
FROM runtime
