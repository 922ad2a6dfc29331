"""Child processes die with their parent (``serving.lifetime``), in real processes.

The node as a whole is tested in ``test_lifecycle``; these check the two edges of the
mechanism: a parent that died before its child could bind to it, and forks from a thread.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap

import psutil
import pytest

from tests.support import eventually

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")


def _exited(pid: int) -> bool:
    """Whether ``pid`` has exited (or is a zombie)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_child_whose_parent_already_died_kills_itself() -> None:
    # The parent died between the child's start and its prctl: the child now has another
    # parent, and the kernel will never send the signal, so the child must act on its own.
    script = "from universal_decoder_node.serving import lifetime; lifetime._die_with(os.getppid() + 1)"
    child = subprocess.run(
        [sys.executable, "-c", f"import os; {script}; print('survived')"], capture_output=True
    )
    assert child.returncode == -signal.SIGKILL, child
    assert b"survived" not in child.stdout


def test_forks_of_the_main_thread_die_with_the_parent_and_forks_of_other_threads_do_not() -> None:
    script = textwrap.dedent(
        """
        import os, threading, time
        from universal_decoder_node.serving import lifetime

        lifetime.forks_die_with_parent()

        def fork_sleeper():
            pid = os.fork()
            if pid == 0:
                time.sleep(120)  # lives until the test kills it
                os._exit(0)
            return pid

        from_main = fork_sleeper()
        from_thread = []
        thread = threading.Thread(target=lambda: from_thread.append(fork_sleeper()))
        thread.start()
        thread.join()
        print(from_main, from_thread[0], flush=True)
        time.sleep(120)  # lives until the test kills it
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    from_main, from_thread = (int(pid) for pid in parent.stdout.readline().split())
    try:
        parent.kill()
        parent.wait(10)
        eventually(lambda: _exited(from_main), 15, "the main thread's fork to die with its parent", 0.05)
        # Bound to its thread, this child would have been killed when that thread ended.
        assert psutil.Process(from_thread).status() != psutil.STATUS_ZOMBIE
    finally:
        for pid in (from_main, from_thread):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
