#!/bin/sh
# Run in the image's runtime stage: the unprivileged user the services run as, and the folders it
# writes (the model store volume, the coordinator's state file, profiles).
set -eu
groupadd --gid 10001 udn
useradd --no-log-init --uid 10001 --gid udn --home-dir /var/lib/udn --shell /usr/sbin/nologin udn
mkdir -p /models/adapters /var/lib/udn
chown -R udn:udn /models /var/lib/udn
