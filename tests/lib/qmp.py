#!/usr/bin/env python3
"""A small QMP client for the end-to-end tests (no QEMU python package needed).

  qmp.py SOCKET COMMAND [JSON-ARGUMENTS]
      run one command; print its "return" as JSON on stdout; exit 1 (the
      error on stderr) if QEMU answered an error
  qmp.py SOCKET wait-migration SECONDS
      poll query-migrate every 0.2 s until its status is completed (exit 0),
      failed or cancelled (exit 1), or SECONDS pass (exit 2); print the last
      answer as JSON

Every connect and read is bounded (10 s) so a test never hangs on QEMU.
"""
import json
import socket
import sys
import time


class Qmp:
    def __init__(self, path, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            try:
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.buf = b""
        greeting = self._read()
        if "QMP" not in greeting:
            raise RuntimeError(f"not a QMP greeting: {greeting}")
        self.cmd("qmp_capabilities")

    def _read(self):
        # One JSON object per line; events may come before an answer.
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("QMP socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, args=None):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            ans = self._read()
            if "return" in ans:
                return ans["return"]
            if "error" in ans:
                raise RuntimeError(f"{name}: {ans['error'].get('desc', ans['error'])}")


def wait_migration(q, seconds):
    deadline = time.monotonic() + seconds
    while True:
        ans = q.cmd("query-migrate")
        status = ans.get("status")
        if status in ("completed", "failed", "cancelled"):
            print(json.dumps(ans))
            return 0 if status == "completed" else 1
        if time.monotonic() > deadline:
            print(json.dumps(ans))
            return 2
        time.sleep(0.2)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    path, name = argv[1], argv[2]
    try:
        q = Qmp(path)
        if name == "wait-migration":
            return wait_migration(q, float(argv[3]))
        args = json.loads(argv[3]) if len(argv) > 3 else None
        print(json.dumps(q.cmd(name, args)))
        return 0
    except (OSError, RuntimeError, ValueError) as e:
        print(f"qmp.py {path} {name}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
