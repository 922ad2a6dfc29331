"""The prometheus multiprocess directory; kept apart so it can run before prometheus_client loads."""

from __future__ import annotations

import os
import tempfile

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_metrics_dir() -> str:
    """Give this node's processes one fresh prometheus multiprocess directory.

    Must run before prometheus_client is imported anywhere in the process tree: the
    client picks its storage when it is first imported.
    """
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        os.makedirs(path, exist_ok=True)
        for name in os.listdir(path):
            if name.endswith(".db"):
                os.unlink(os.path.join(path, name))
        return path
    path = tempfile.mkdtemp(prefix="udn-metrics-")
    os.environ[MULTIPROC_ENV] = path
    return path
