#!/usr/bin/env python3
"""Hot-plug steps over QMP for the end-to-end tests (no QEMU package needed).

  qmp-plug.py SOCKET plug-nic ID --tap=IFNAME --queues=N --vhost=PATH [--mac=MAC]
      open N queues of tap IFNAME (IFF_MULTI_QUEUE: make the tap with
      multi_queue) and N opens of PATH (the vhost device), hand each fd to
      QEMU with getfd, then netdev_add tap (fd(s)=, vhost=on, vhostfd(s)=)
      as net-ID and device_add virtio-net-pci ID on it (mq with N > 1)
  qmp-plug.py SOCKET unplug-nic ID [--timeout=SECS]
      device_del ID, wait for its DEVICE_DELETED event, netdev_del net-ID
  qmp-plug.py SOCKET add-dimm ID --size=BYTES
      object-add memory-backend-memfd mem-ID (share=on), device_add pc-dimm ID
  qmp-plug.py SOCKET COMMAND [JSON-ARGUMENTS]
      any command; its "return" printed as JSON

Exit 0 when every step was answered with success; 1 with QEMU's error
("qmp-plug.py: STEP: QEMU's error text") on stderr. Every connect, read and
wait is bounded, so a test never hangs on QEMU.
"""
import argparse
import fcntl
import json
import os
import socket
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
IFF_MULTI_QUEUE = 0x0100


class QmpError(Exception):
    pass


class Qmp:
    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.events = []
        if "QMP" not in self._read():
            raise QmpError("not a QMP greeting")
        self.cmd("qmp_capabilities")

    def _read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise QmpError("QEMU closed the QMP socket")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, args=None, fds=()):
        msg = {"execute": name}
        if args is not None:
            msg["arguments"] = args
        data = json.dumps(msg).encode() + b"\n"
        if fds:
            socket.send_fds(self.sock, [data], list(fds))
        else:
            self.sock.sendall(data)
        while True:
            ans = self._read()
            if "event" in ans:
                self.events.append(ans)
            elif "return" in ans:
                return ans["return"]
            elif "error" in ans:
                raise QmpError(f"{name}: {ans['error'].get('desc', ans['error'])}")

    def wait_event(self, name, match, timeout):
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.events:
                if ev["event"] == name and match(ev.get("data", {})):
                    return ev
            self.events.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise QmpError(f"no {name} event within {timeout} s")
            self.sock.settimeout(left)
            try:
                ans = self._read()
            except socket.timeout:
                raise QmpError(f"no {name} event within {timeout} s") from None
            if "event" in ans:
                self.events.append(ans)


def open_tap_queue(ifname):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    ifr = struct.pack("16sH22x", ifname.encode(),
                      IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE)
    fcntl.ioctl(fd, TUNSETIFF, ifr)
    return fd


def plug_nic(q, a):
    fds, names = [], {"tap": [], "vhost": []}
    try:
        for i in range(a.queues):
            fds.append(("tap", open_tap_queue(a.tap)))
        for i in range(a.queues):
            fds.append(("vhost", os.open(a.vhost, os.O_RDWR | os.O_CLOEXEC)))
        for n, (kind, fd) in enumerate(fds):
            name = f"{a.id}-{kind}{n % a.queues}"
            q.cmd("getfd", {"fdname": name}, fds=[fd])
            names[kind].append(name)
    finally:
        for _, fd in fds:  # QEMU holds its own copies now
            os.close(fd)
    netdev = {"type": "tap", "id": f"net-{a.id}", "vhost": True}
    if a.queues == 1:
        netdev.update(fd=names["tap"][0], vhostfd=names["vhost"][0])
    else:
        netdev.update(fds=":".join(names["tap"]), vhostfds=":".join(names["vhost"]))
    q.cmd("netdev_add", netdev)
    dev = {"driver": "virtio-net-pci", "id": a.id, "netdev": f"net-{a.id}"}
    if a.mac:
        dev["mac"] = a.mac
    if a.queues > 1:
        dev.update(mq=True, vectors=2 * a.queues + 2)
    q.cmd("device_add", dev)


def unplug_nic(q, a):
    q.cmd("device_del", {"id": a.id})
    q.wait_event("DEVICE_DELETED", lambda d: d.get("device") == a.id, a.timeout)
    q.cmd("netdev_del", {"id": f"net-{a.id}"})


def add_dimm(q, a):
    q.cmd("object-add", {"qom-type": "memory-backend-memfd", "id": f"mem-{a.id}",
                         "size": a.size, "share": True})
    q.cmd("device_add", {"driver": "pc-dimm", "id": a.id, "memdev": f"mem-{a.id}"})


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    path, step = argv[1], argv[2]
    ap = argparse.ArgumentParser(prog=f"qmp-plug.py SOCKET {step}")
    ap.add_argument("id")
    if step == "plug-nic":
        ap.add_argument("--tap", required=True)
        ap.add_argument("--queues", type=int, default=1)
        ap.add_argument("--vhost", required=True)
        ap.add_argument("--mac")
    elif step == "unplug-nic":
        ap.add_argument("--timeout", type=float, default=30)
    elif step == "add-dimm":
        ap.add_argument("--size", type=int, required=True)
    try:
        q = Qmp(path)
        if step in ("plug-nic", "unplug-nic", "add-dimm"):
            a = ap.parse_args(argv[3:])
            {"plug-nic": plug_nic, "unplug-nic": unplug_nic, "add-dimm": add_dimm}[step](q, a)
        else:
            args = json.loads(argv[3]) if len(argv) > 3 else None
            print(json.dumps(q.cmd(step, args)))
        return 0
    except (OSError, QmpError, ValueError) as e:
        print(f"qmp-plug.py: {step}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
