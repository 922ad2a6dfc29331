#!/usr/bin/env bash
# The image test builds the image and runs compose.yaml under podman: install podman and what it
# needs when missing, point podman at runc with the ulimits this kind of machine needs, and make the
# local Debian base image (no registry is reachable from CI) once, cached by its tag.
# Needs root and apt-get; otherwise it says what is missing and the test reports it (it fails in CI).
set -euo pipefail
BASE_TAG=${UDN_TEST_BASE_IMAGE:-localhost/udn-debian:bookworm-1}
# What the base image holds: Python with venv for the image, Debian's redis-server for compose's Redis.
BASE_PACKAGES=python3,python3-venv,ca-certificates,redis-server
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

missing=()
for tool in podman buildah debootstrap runc; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
# Compose's network: netavark sets it up with iptables, aardvark-dns resolves the services' names.
[ -x /usr/lib/podman/netavark ] || missing+=(netavark)
[ -x /usr/lib/podman/aardvark-dns ] || missing+=(aardvark-dns)
[ -x /usr/sbin/iptables ] || missing+=(iptables)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "test: ${missing[*]} missing (Debian: apt-get install podman buildah debootstrap runc netavark aardvark-dns iptables)" >&2
    exit 0
  fi
  echo "test: installing ${missing[*]} for the image test" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq podman buildah debootstrap runc netavark aardvark-dns iptables >/dev/null
fi

# crun refuses hybrid cgroups, which this kind of machine has; runc runs there; and podman's own
# limits for root exceed what a process may set here. Written where podman reads it for this user
# (root reads only the system's file), and only where no file of someone else's is in the way (the
# marker says the file is ours).
if [ "$(id -u)" -eq 0 ]; then
  conf_dir=/etc/containers
else
  conf_dir=${XDG_CONFIG_HOME:-$HOME/.config}/containers
fi
conf=$conf_dir/containers.conf
marker="# written by universal-decoder-node scripts/ensure-podman.sh"
if [ ! -f "$conf" ] || grep -qxF "$marker" "$conf"; then
  mkdir -p "$conf_dir"
  cat >"$conf.tmp" <<EOF
$marker
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
EOF
  mv "$conf.tmp" "$conf"
else
  echo "test: $conf is not ours; it needs runtime = \"runc\" and default_ulimits where crun fails" >&2
fi

if podman image exists "$BASE_TAG" 2>/dev/null; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "test: the base image $BASE_TAG is missing and debootstrap needs root" >&2
  exit 0
fi
echo "test: making the base image $BASE_TAG with debootstrap (minbase bookworm)" >&2
rootfs=$(mktemp -d /var/tmp/udn-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$rootfs" "$MIRROR" >/dev/null
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | podman import --quiet --change 'CMD ["/bin/bash"]' - "$BASE_TAG" >/dev/null
