#!/usr/bin/env python3
"""Open the queues of a multiqueue tap (and a vhost device per queue), then
exec a program that inherits them: QEMU's -netdev tap,fds=A:B,vhostfds=C:D.

Usage: tap-queues.py --tap=IFNAME --queues=N --tap-fd=FD
                     [--vhost=PATH --vhost-fd=FD] -- PROGRAM [ARGS...]

Queue i of tap IFNAME (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE)
becomes descriptor tap-fd + i; the i-th open of PATH (read-write) becomes
vhost-fd + i. The tap should exist with the multi_queue flag (ip tuntap add
... multi_queue). exec keeps the pid, so the vhost device sees its opens come
from the process that will send it ioctls.
"""
import argparse
import fcntl
import os
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
IFF_MULTI_QUEUE = 0x0100


def place(fd, target):
    """Make fd descriptor number target, inheritable across exec."""
    if fd == target:
        os.set_inheritable(fd, True)
    else:
        os.dup2(fd, target, inheritable=True)
        os.close(fd)


def main():
    ap = argparse.ArgumentParser(prog="tap-queues.py")
    ap.add_argument("--tap", required=True)
    ap.add_argument("--queues", type=int, required=True)
    ap.add_argument("--tap-fd", type=int, required=True)
    ap.add_argument("--vhost")
    ap.add_argument("--vhost-fd", type=int)
    ap.add_argument("program", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    prog = a.program[1:] if a.program[:1] == ["--"] else a.program
    if not prog or (a.vhost is None) != (a.vhost_fd is None):
        ap.error("need -- PROGRAM, and --vhost with --vhost-fd")

    ifr = struct.pack("16sH22x", a.tap.encode(),
                      IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE)
    for i in range(a.queues):
        fd = os.open("/dev/net/tun", os.O_RDWR)
        try:
            fcntl.ioctl(fd, TUNSETIFF, ifr)
        except OSError as e:
            sys.exit(f"tap-queues.py: TUNSETIFF {a.tap} (queue {i}): {e.strerror}")
        place(fd, a.tap_fd + i)
    for i in range(a.vhost and a.queues or 0):
        try:
            fd = os.open(a.vhost, os.O_RDWR)
        except OSError as e:
            sys.exit(f"tap-queues.py: open {a.vhost} (queue {i}): {e.strerror}")
        place(fd, a.vhost_fd + i)
    os.execvp(prog[0], prog)


if __name__ == "__main__":
    main()
