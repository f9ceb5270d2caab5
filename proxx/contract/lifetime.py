"""A child process's life tied to its parent's: PR_SET_PDEATHSIG, stdlib only.

Used by the worker trampoline, by the processes a worker starts (in
`preexec_fn`, between fork and exec: libc is loaded here, beforehand), and by
`proxx status`'s folder lister. No process Proxx starts outlives its parent,
however the parent ends (SIGKILL included).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def die_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when its parent dies, even by SIGKILL."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(137)
