"""The node's child processes die with the process that started them, however it ends.

A node is one main process and its children: LitServe's queue manager and API servers
(forked) and the inference workers (spawned). A normal stop (SIGTERM, Ctrl+C) stops them in
order. When the main process is killed outright (SIGKILL, the OOM killer), nothing stops
them: the API servers go on answering on the port, unregistered, the queue manager holds
the listening socket too, and the node cannot start again ("Address already in use").

Each child therefore asks the kernel for a parent-death signal (``prctl(PR_SET_PDEATHSIG)``),
rather than watching a pipe whose write end only the parent holds: a pipe needs a thread in
every child, and every process forked after the pipe's creation inherits its write end, so
EOF would wait for siblings too. The signal is tied to the parent *thread* that created the
child, not its process: every child of the node is created by the main thread (LitServe's
``run``, which our ``serving.app.run`` calls from the main thread; LitServe's monitoring
thread would start workers only with ``restart_workers``, which the node leaves off), and
the main thread lives as long as the process. It is SIGKILL, not SIGTERM: an orderly stop
is the main process's work (deregister, then API servers, workers, queue manager), and once
it is gone a child that handled SIGTERM could linger (a worker's exit waits for its
translation threads, uvicorn's graceful shutdown for open connections) and keep the port.

Linux only; elsewhere these calls do nothing.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
PARENT_DEATH_SIGNAL = signal.SIGKILL

_SUPPORTED = sys.platform.startswith("linux")
# Resolved once, in the parent: a child forked from a threaded process must not load libraries.
_libc = ctypes.CDLL(None, use_errno=True) if _SUPPORTED else None
# Per forking thread: the pid a child forked by this thread must die with (None: not bound).
_forking = threading.local()
_forks_bound = False


def die_with_parent() -> None:
    """Bind this process, started by ``multiprocessing`` (spawn or fork), to the process that started it.

    Call it first in the child. Does nothing in a process that ``multiprocessing`` did not start.
    """
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid is not None:
        _die_with(parent.pid)


def forks_die_with_parent() -> None:
    """Bind every process the main thread forks from now on to this process.

    Covers forked children that run none of our code first (LitServe's queue manager), and,
    since the hook is inherited, what they fork from their own main thread. Children forked by
    other threads are left unbound: they would be killed when that thread ends.
    """
    global _forks_bound
    if not _SUPPORTED or _forks_bound:
        return
    os.register_at_fork(before=_note_forking_thread, after_in_child=_bind_forked_child)
    _forks_bound = True


def _note_forking_thread() -> None:
    _forking.parent = os.getpid() if threading.current_thread() is threading.main_thread() else None


def _bind_forked_child() -> None:
    parent = getattr(_forking, "parent", None)
    _forking.parent = None
    if parent is not None:
        _die_with(parent)


def _die_with(parent_pid: int) -> None:
    """Arm the parent-death signal; if ``parent_pid`` already died, take the signal now.

    The parent may die between this process's start and the ``prctl`` call; the kernel
    then never sends the signal, and this process already has a new parent.
    """
    if _libc is None:
        return
    if _libc.prctl(PR_SET_PDEATHSIG, int(PARENT_DEATH_SIGNAL), 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        log.warning("cannot bind process %d to its parent: %s", os.getpid(), os.strerror(errno))
        return
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), PARENT_DEATH_SIGNAL)
