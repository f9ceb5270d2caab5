"""PID 1 of one host of the namespace cluster (integration/ns_cluster.py).

    unshare --net --uts --ipc --mount --pid --fork --mount-proc -- \
        python -P ns_init.py NAME HOSTS READY

It names the host (UTS), gives it a private `/tmp` (its "local disk": munge socket,
slurmd spool, pid files) and a private `/etc/hosts` (bind mount), writes READY, then
reaps orphans for ever. Being PID 1 of the host's PID namespace, a SIGKILL to it kills
every process of the host at once: that is the tests' power-off. It only exists
inside its own mount namespace, so nothing it mounts outlives it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time


def main(argv: list[str]) -> None:
    name, hosts, ready = argv
    socket.sethostname(name)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=1777", "tmpfs", "/tmp"], check=True)
    subprocess.run(["mount", "--bind", hosts, "/etc/hosts"], check=True)
    for sub in ("munge", "slurmd"):
        os.makedirs(f"/tmp/{sub}", mode=0o700)
    with open(ready, "x") as fh:
        fh.write(f"{os.getpid()}\n")
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            time.sleep(0.5)  # no child yet: daemons enter the namespace later


if __name__ == "__main__":
    main(sys.argv[1:])
