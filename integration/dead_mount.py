"""A dead network mount, for real: a FUSE file system that never answers a lookup.

`python -m integration.dead_mount MOUNTPOINT` mounts it over raw /dev/fuse (no
libfuse, no packages), answers the kernel's INIT and the root's GETATTR, prints
"mounted", then reads every other request and never replies: any process that
touches a path below the mount point blocks in the kernel (state D, deaf even to
SIGKILL) until this daemon goes away, exactly like an NFS server that vanished.
Killing the daemon aborts the connection: the blocked calls fail and return.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import stat
import struct
import sys

FUSE_INIT = 26
FUSE_GETATTR = 3
ROOT = 1


def _reply(fd: int, unique: int, body: bytes) -> None:
    os.write(fd, struct.pack("<IiQ", 16 + len(body), 0, unique) + body)


def _root_attr() -> bytes:
    # fuse_attr_out: attr_valid, attr_valid_nsec, dummy, then fuse_attr (88 bytes).
    attr = struct.pack(
        "<QQQQQQIIIIIIIIII", ROOT, 0, 0, 0, 0, 0, 0, 0, 0, stat.S_IFDIR | 0o755, 2, 0, 0, 0, 4096, 0
    )
    return struct.pack("<QII", 1, 0, 0) + attr


def _init_out() -> bytes:
    # fuse_init_out for protocol 7.31: major, minor, max_readahead, flags,
    # max_background, congestion_threshold, max_write, time_gran, max_pages, ...
    return struct.pack("<IIIIHHIIHHI", 7, 31, 0, 0, 0, 0, 1 << 20, 1, 1, 0, 0) + b"\0" * 28


def serve(mountpoint: str) -> None:
    fd = os.open("/dev/fuse", os.O_RDWR)
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    opts = f"fd={fd},rootmode=40000,user_id=0,group_id=0,allow_other".encode()
    if libc.mount(b"deadmount", mountpoint.encode(), b"fuse.deadmount", 0, opts) != 0:
        raise SystemExit(f"mount failed: {os.strerror(ctypes.get_errno())}")
    print("mounted", flush=True)
    while True:
        request = os.read(fd, (1 << 20) + 4096)
        _length, opcode, unique, node = struct.unpack_from("<IIQQ", request)
        if opcode == FUSE_INIT:
            _reply(fd, unique, _init_out())
        elif opcode == FUSE_GETATTR and node == ROOT:
            _reply(fd, unique, _root_attr())
        # Anything else: read, never answered.


if __name__ == "__main__":
    serve(sys.argv[1])
