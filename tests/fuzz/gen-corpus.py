#!/usr/bin/env python3
"""Writes the seed corpora of the libFuzzer targets (tests/fuzz/corpus/).

  gen-corpus.py [--out DIR] [--trace TRACE.json]

fuzz_ioctl, fuzz_vring and fuzz_net seeds are built here from their input formats (see
the header comments of fuzz_ioctl.c and fuzz_vring.c): valid sequences first,
then a few that fail in known ways. fuzz_trace_load seeds are cut from a real
trace (usvhostd --trace of tests/integration's client, as trace-client.sh
records it; E2E_KEEP_LOGS=DIR keeps it) when --trace is given; otherwise
those already in the corpus are left as they are. --inject-trace adds one
cut from a trace recorded with --inject rules.
"""
import argparse
import json
import os
import struct

# ---- vhost ioctl numbers (linux/vhost.h) ----------------------------------------

def _ioc(d, nr, size):
    return (d << 30) | (size << 16) | (0xAF << 8) | nr

IO, IOW, IOR, IOWR = 0, 1, 2, 3
GET_FEATURES = _ioc(IOR, 0x00, 8)
SET_FEATURES = _ioc(IOW, 0x00, 8)
SET_OWNER = _ioc(IO, 0x01, 0)
RESET_OWNER = _ioc(IO, 0x02, 0)
SET_MEM_TABLE = _ioc(IOW, 0x03, 8)
SET_LOG_BASE = _ioc(IOW, 0x04, 8)
SET_LOG_FD = _ioc(IOW, 0x07, 4)
SET_VRING_NUM = _ioc(IOW, 0x10, 8)
SET_VRING_ADDR = _ioc(IOW, 0x11, 40)
SET_VRING_BASE = _ioc(IOW, 0x12, 8)
GET_VRING_BASE = _ioc(IOWR, 0x12, 8)
SET_VRING_ENDIAN = _ioc(IOW, 0x13, 8)
SET_VRING_KICK = _ioc(IOW, 0x20, 8)
SET_VRING_CALL = _ioc(IOW, 0x21, 8)
SET_VRING_ERR = _ioc(IOW, 0x22, 8)
SET_VRING_BUSYLOOP_TIMEOUT = _ioc(IOW, 0x23, 8)
GET_VRING_BUSYLOOP_TIMEOUT = _ioc(IOW, 0x24, 8)
SET_BACKEND_FEATURES = _ioc(IOW, 0x25, 8)
GET_BACKEND_FEATURES = _ioc(IOR, 0x26, 8)
NET_SET_BACKEND = _ioc(IOW, 0x30, 8)
GET_FEATURES_ARRAY = _ioc(IOR, 0x83, 8)
SET_FEATURES_ARRAY = _ioc(IOW, 0x83, 8)

F_MRG_RXBUF = 1 << 15
F_NOTIFY_ON_EMPTY = 1 << 24
F_LOG_ALL = 1 << 26
F_INDIRECT = 1 << 28
F_EVENT_IDX = 1 << 29
F_VERSION_1 = 1 << 32

# fuzz_ioctl's fd fields: n % 10 picks 0-3 eventfds, 4/5 a pipe's ends,
# 6 a detached tun fd, 7 an AF_PACKET socket, 8/9 no fd.
EFD0, EFD1, EFD2, EFD3, PIPE, TUN, PACKET, BADFD = 0, 1, 2, 3, 4, 6, 7, 8

# ---- fuzz_ioctl ---------------------------------------------------------------------

OWNER, THREAD, STRANGER, GONE = 0, 1, 2, 3
ARG_PAYLOAD, ARG_AT_END, ARG_RAW, ARG_CUSE = 0, 1, 2, 3


class Seq:
    """One fuzz_ioctl input."""

    def __init__(self, profile=0, trace=True, inject=None):
        setup = profile | (8 if trace else 0) | (16 if inject else 0)
        self.b = bytearray([setup])
        if inject:
            spec = inject.encode()
            self.b += bytes([len(spec)]) + spec

    def ioctl(self, cmd, payload=b"", who=OWNER, arg=ARG_PAYLOAD, fail_start=False,
              raw_arg=0):
        flags = who | (arg << 2) | (16 if fail_start else 0)
        self.b += bytes([(flags << 3) | 5]) + struct.pack("<IH", cmd, len(payload))
        self.b += payload
        if arg == ARG_RAW:
            self.b += struct.pack("<Q", raw_arg)
        return self

    def reopen(self):
        self.b += bytes([6])
        return self

    def chr_write(self, data):
        self.b += bytes([7, len(data)]) + data
        return self


def u64(v):
    return struct.pack("<Q", v)


def state(i, n):
    return struct.pack("<II", i, n)


def vfile(i, fd):
    return struct.pack("<Ii", i, fd)


def vaddr(i, desc, used, avail, log=0, flags=0):
    return struct.pack("<IIQQQQ", i, flags, desc, used, avail, log)


def mem(*regions):
    b = struct.pack("<II", len(regions), 0)
    for gpa, size, uaddr in regions:
        b += struct.pack("<QQQQ", gpa, size, uaddr, 0)
    return b


def qemu_start(s, arg=ARG_PAYLOAD, features=F_VERSION_1 | F_MRG_RXBUF | F_EVENT_IDX |
               F_INDIRECT, regions=((0, 0x40000, 0),), backend=TUN):
    """QEMU 7.2's vhost-net start sequence, both rings, then a stop."""
    s.ioctl(SET_OWNER, arg=arg)
    s.ioctl(GET_FEATURES, u64(0), arg=arg)
    s.ioctl(GET_BACKEND_FEATURES, u64(0), arg=arg)
    s.ioctl(SET_BACKEND_FEATURES, u64(2), arg=arg)
    for i, (call, err) in enumerate(((EFD0, EFD1), (EFD2, EFD3))):
        s.ioctl(SET_VRING_CALL, vfile(i, call), arg=arg)
        s.ioctl(SET_VRING_ERR, vfile(i, err), arg=arg)
    s.ioctl(SET_FEATURES, u64(features), arg=arg)
    s.ioctl(SET_MEM_TABLE, mem(*regions), arg=arg)
    for i in range(2):
        base = 0x8000 * i
        s.ioctl(SET_VRING_NUM, state(i, 256), arg=arg)
        s.ioctl(SET_VRING_BASE, state(i, 0), arg=arg)
        s.ioctl(SET_VRING_ADDR, vaddr(i, base, base + 0x2000, base + 0x1000), arg=arg)
        s.ioctl(SET_VRING_KICK, vfile(i, EFD0 + i), arg=arg)
        s.ioctl(NET_SET_BACKEND, vfile(i, backend), arg=arg)
    s.ioctl(SET_VRING_CALL, vfile(0, -1), arg=arg)  # interrupt masking
    s.ioctl(SET_VRING_CALL, vfile(0, EFD0), arg=arg)
    for i in range(2):
        s.ioctl(NET_SET_BACKEND, vfile(i, -1), arg=arg)
        s.ioctl(GET_VRING_BASE, state(i, 0), arg=arg)
    return s


def ioctl_seeds():
    seeds = {}
    seeds["qemu-start"] = qemu_start(Seq()).b
    seeds["qemu-start-cuse"] = qemu_start(
        Seq(trace=False), arg=ARG_CUSE,
        regions=((0, 0x20000, 0), (0x20000, 0x10000, 0x20000), (0x100000, 0x1000, 0x30000))).b
    seeds["qemu-start-packet"] = qemu_start(Seq(profile=3), backend=PACKET).b
    s = qemu_start(Seq(), features=F_VERSION_1 | F_LOG_ALL)
    s.ioctl(SET_LOG_BASE, u64(0x30000))
    s.ioctl(SET_LOG_FD, struct.pack("<i", EFD3))
    s.ioctl(SET_VRING_ADDR, vaddr(0, 0, 0x2000, 0x1000, log=0x2000, flags=1))
    s.ioctl(NET_SET_BACKEND, vfile(0, TUN))
    s.ioctl(SET_MEM_TABLE, mem((0, 0x30000, 0)))
    s.ioctl(SET_LOG_FD, struct.pack("<i", -1))
    s.ioctl(RESET_OWNER)
    seeds["migration-log"] = s.b
    s = Seq(profile=4)
    s.ioctl(GET_FEATURES_ARRAY, u64(2) + bytes(16))
    s.ioctl(GET_FEATURES_ARRAY, u64(5) + bytes(40))
    s.ioctl(SET_FEATURES_ARRAY, u64(2) + u64(F_VERSION_1) + u64(0))
    s.ioctl(SET_FEATURES_ARRAY, u64(3) + u64(F_VERSION_1) + u64(0) + u64(1))
    s.ioctl(SET_FEATURES_ARRAY, u64(1000), arg=ARG_AT_END)
    s.ioctl(SET_OWNER)
    s.ioctl(SET_VRING_BUSYLOOP_TIMEOUT, state(1, 50))
    s.ioctl(GET_VRING_BUSYLOOP_TIMEOUT, state(1, 0))
    s.ioctl(SET_VRING_ENDIAN, state(0, 1))
    seeds["features-array"] = s.b
    s = Seq()
    s.ioctl(SET_MEM_TABLE, mem((0, 0x1000, 0)))        # not the owner: EPERM
    s.ioctl(SET_OWNER, who=STRANGER)                   # no such process
    s.ioctl(SET_OWNER, who=GONE)
    s.ioctl(SET_OWNER, who=THREAD)
    s.ioctl(SET_OWNER)                                 # EBUSY
    s.ioctl(SET_VRING_NUM, state(2, 256))              # ENOBUFS
    s.ioctl(SET_VRING_NUM, state(0, 3))                # EINVAL
    s.ioctl(SET_VRING_NUM, state(0, 256), arg=ARG_RAW, raw_arg=0xdead0000)
    s.ioctl(SET_VRING_ADDR, vaddr(0, 0, 0x2001, 0x1000))
    s.ioctl(SET_VRING_ADDR, vaddr(0, 0xfffffffffffff000, 0x2000, 0x1000))
    s.ioctl(SET_VRING_KICK, vfile(0, PIPE))            # not an eventfd
    s.ioctl(SET_VRING_KICK, vfile(0, BADFD))
    s.ioctl(NET_SET_BACKEND, vfile(0, EFD0))            # not a socket
    s.ioctl(SET_MEM_TABLE, struct.pack("<II", 65, 0))   # E2BIG
    s.ioctl(SET_MEM_TABLE, struct.pack("<II", 1, 1))    # padding
    s.ioctl(SET_MEM_TABLE, mem((0x1000, 0, 0)))         # size 0
    s.ioctl(SET_MEM_TABLE, mem((0, 0x1000, 0x7ffffffff000)))
    s.ioctl(SET_MEM_TABLE, mem((0, 0x1000, 0), (0x800, 0x1000, 0x10000)))
    s.ioctl(_ioc(IOW, 0x7f, 8), state(0, 0))            # unknown: ENOTTY
    s.ioctl(0, b"")
    s.ioctl(SET_FEATURES, u64(1 << 63))                 # EOPNOTSUPP
    s.ioctl(GET_FEATURES, b"", arg=ARG_AT_END)
    s.ioctl(SET_BACKEND_FEATURES, u64(0xff))
    s.ioctl(RESET_OWNER, who=STRANGER)
    s.ioctl(RESET_OWNER)
    seeds["errors"] = s.b
    s = qemu_start(Seq())
    s.ioctl(NET_SET_BACKEND, vfile(0, TUN), fail_start=True)
    s.reopen()
    s.chr_write(struct.pack("<II", 1, 0) + struct.pack("<QQQBB6x", 0x1000, 0x1000, 0, 3, 2))
    s.chr_write(struct.pack("<II", 2, 0) + struct.pack("<QQQBB6x", 0x1000, 0, 0, 3, 3))
    s.chr_write(b"\x03\x00\x00\x00")
    qemu_start(s, backend=PACKET)
    s.reopen()
    seeds["reopen-iotlb"] = s.b
    s = Seq(inject="SET_MEM_TABLE:E2BIG:nth=1:count=1")
    qemu_start(s)
    seeds["inject-mem-table"] = s.b
    s = Seq(profile=1, inject="vhost_set_vring_call:EBADF:nth=2:count=0")
    qemu_start(s, arg=ARG_CUSE)
    seeds["inject-cuse-old-kernel"] = s.b
    return seeds

# ---- fuzz_vring ---------------------------------------------------------------------

D_NEXT, D_WRITE, D_INDIRECT = 1, 2, 4
TLB_RO, TLB_WO, TLB_RW = 1, 2, 3  # IOTLB permissions (VHOST_ACCESS_*)
TOP = 0x80000000  # gpa field: 2^64 - 64 KiB + low 16 bits
TOP_ADDR = (1 << 64) - 0x10000  # the same region, as a descriptor address


class Ring:
    """One fuzz_vring input."""

    def __init__(self, num, features=0, desc=0x1000, avail=0x3000, used=0x4000,
                 start=0, used_idx=0, seg_limit=0, packed=False, iotlb=False, tlb_limit=0):
        """iotlb: desc, avail, used and every descriptor address are IOVAs
        (tlb_limit: ranges the IOTLB holds, 0 for 2048)."""
        log2 = num.bit_length() - 1
        feats = ((1 if features & F_EVENT_IDX else 0) | (2 if features & F_INDIRECT else 0) |
                 (4 if features & F_NOTIFY_ON_EMPTY else 0) |
                 (8 if features & F_LOG_ALL else 0) | (16 if packed else 0) |
                 (32 if iotlb else 0))
        self.b = bytearray(struct.pack("<BBBIIIHH", log2, feats, seg_limit, desc, avail,
                                       used, start, used_idx))
        if iotlb:
            self.b += bytes([tlb_limit])

    def poke(self, gpa, data):
        self.b += struct.pack("<BIB", 0, gpa, len(data)) + data
        return self

    def desc(self, i, addr, length, flags=0, nxt=0):
        self.b += struct.pack("<BHQIHH", 1, i, addr, length, flags, nxt)
        return self

    def pdesc(self, i, addr, length, buf_id, flags=0):
        """A packed ring slot, raw: addr, len, id, flags."""
        self.b += struct.pack("<BHQIHH", 1, i, addr, length, buf_id, flags)
        return self

    def pind(self, table, i, addr, length, flags=0):
        self.b += struct.pack("<BIHQIHH", 2, table, i, addr, length, 0, flags)
        return self

    def ind(self, table, i, addr, length, flags=0, nxt=0):
        self.b += struct.pack("<BIHQIHH", 2, table, i, addr, length, flags, nxt)
        return self

    def avail(self, head):
        self.b += struct.pack("<BH", 3, head)
        return self

    def avail_idx(self, idx):
        self.b += struct.pack("<BH", 4, idx)
        return self

    def flags_event(self, flags, used_event):
        self.b += struct.pack("<BHH", 5, flags, used_event)
        return self

    def pop(self, n=64):
        self.b += struct.pack("<BB", 6, n - 1)
        return self

    def push(self, *lens):
        self.b += struct.pack("<BB", 7, len(lens)) + b"".join(struct.pack("<I", v) for v in lens)
        return self

    def push_raw(self, *pairs):
        self.b += struct.pack("<BB", 8, len(pairs))
        self.b += b"".join(struct.pack("<II", h, v) for h, v in pairs)
        return self

    def tlb_add(self, iova, size, gpa, perm=TLB_RW):
        """IOVA [iova, iova+size) onto guest RAM at gpa (each a gpa field)."""
        self.b += struct.pack("<BIIIB", 15, iova, size, gpa, perm - 1)
        return self

    def tlb_del(self, iova, size):
        self.b += struct.pack("<BII", 16, iova, size)
        return self

    def answer(self, gpa, perm=TLB_RW):
        """QEMU's UPDATE for the last miss asked for: its page onto gpa."""
        self.b += struct.pack("<BIB", 18, gpa, perm - 1)
        return self

    def op(self, k, arg=None):
        self.b += bytes([k]) + (bytes([arg]) if arg is not None else b"")
        return self


SIGNAL, ENABLE, DISABLE, HAS_AVAIL, UNPOP, REMAP = 9, 10, 11, 12, 13, 14
PREFETCH = 17


def vring_seeds():
    seeds = {}
    r = Ring(256)
    r.desc(0, 0x8000, 100, D_NEXT, 1).desc(1, 0x9000, 1500, D_WRITE)
    r.avail(0).pop().push(1500).op(SIGNAL).pop()
    seeds["split-simple"] = r.b

    # An indirect table whose buffers cross from region 0 into region 1.
    r = Ring(256, F_INDIRECT | F_EVENT_IDX)
    r.ind(0x6000, 0, 0x8000, 12, D_NEXT)
    r.ind(0x6000, 1, 0xff00, 0x200, D_NEXT)
    r.ind(0x6000, 2, 0x9000, 1514, D_WRITE | D_NEXT)
    r.ind(0x6000, 3, 0x1ff00, 0x100, D_WRITE)
    r.desc(0, 0x6000, 64, D_INDIRECT)
    r.desc(1, 0xa000, 64, D_NEXT, 2).desc(2, 0x6000, 64, D_INDIRECT)
    r.avail(0).avail(1).flags_event(0, 1)
    r.op(DISABLE).pop().push(1514, 0).op(SIGNAL).op(ENABLE).op(HAS_AVAIL)
    seeds["split-indirect"] = r.b

    # Rings and buffers at the top of the guest address space; 16-bit index
    # wrap-around.
    r = Ring(8, F_EVENT_IDX | F_NOTIFY_ON_EMPTY, desc=TOP, avail=TOP + 0x100,
             used=TOP + 0x200, start=0xfffc, used_idx=0xfffc)
    for i in range(8):
        r.desc(i, TOP_ADDR + 0x1000 + 0x100 * i, 0x100, D_WRITE)
    for i in range(6):
        r.avail(i)
    r.pop(4).push(10, 20).op(UNPOP, 2).pop().push(30, 40, 50, 60)
    r.push_raw((7, 1), (0xffffffff, 0xffffffff)).op(SIGNAL).op(REMAP)
    seeds["split-top-wrap"] = r.b

    # Mergeable RX: many small chains, notifications on and off.
    r = Ring(16, F_EVENT_IDX, desc=0x10100, avail=0x10200, used=0x10400)
    for i in range(16):
        r.desc(i, 0x12000 + 0x800 * i, 0x800, D_WRITE)
        r.avail(i)
    r.op(ENABLE).pop(8).push(*([0x800] * 8)).op(SIGNAL).op(DISABLE).pop(8)
    r.push(*([64] * 8)).op(SIGNAL).op(HAS_AVAIL)
    seeds["split-many"] = r.b

    # Broken rings: a loop, a head past the ring, an index jump, nested
    # indirect, a table length that is not a multiple of 16.
    r = Ring(4).desc(0, 0x8000, 10, D_NEXT, 1).desc(1, 0x8000, 10, D_NEXT, 0)
    seeds["broken-loop"] = r.avail(0).pop().b
    seeds["broken-head"] = Ring(4).avail(9).pop().b
    seeds["broken-avail-jump"] = Ring(4).avail_idx(100).pop().b
    r = Ring(4, F_INDIRECT).desc(0, 0x6000, 32, D_INDIRECT)
    r.ind(0x6000, 0, 0x7000, 16, D_INDIRECT)
    seeds["broken-nested-indirect"] = r.avail(0).pop().b
    r = Ring(4, F_INDIRECT).desc(0, 0x6000, 33, D_INDIRECT)
    seeds["broken-indirect-len"] = r.avail(0).pop().b
    r = Ring(4).desc(0, 0xfff0, 0x20, 0)
    seeds["outside-memory"] = r.desc(0, 0x20000 - 8, 16, 0).avail(0).pop().b
    r = Ring(4, seg_limit=1).desc(0, 0xfff0, 0x20, D_WRITE)
    seeds["too-many-segments"] = r.avail(0).pop().b

    # Packed rings: avail(v) makes the driver's next slot available with
    # flags v (NEXT, WRITE, INDIRECT); flags_event(off_wrap, flags) is the
    # driver event; positions carry the wrap counter in bit 15.
    r = Ring(8, F_EVENT_IDX, desc=0x1000, avail=0x3000, used=0x3004, start=0x8000,
             used_idx=0x8000, packed=True)
    r.pdesc(0, 0x8000, 100, 3).pdesc(1, 0x9000, 1500, 3)
    r.avail(D_NEXT).avail(D_WRITE).pop().push(1500).flags_event(0x8002, 2).op(SIGNAL)
    seeds["packed-simple"] = r.b
    # Chains across the wrap, an indirect table crossing regions, unpop.
    r = Ring(4, F_INDIRECT | F_EVENT_IDX | F_NOTIFY_ON_EMPTY, desc=0x1000, avail=0x3000,
             used=0x3004, start=0x8003, used_idx=0x8003, packed=True)
    r.pind(0x6000, 0, 0x8000, 12).pind(0x6000, 1, 0xff00, 0x200)
    r.pind(0x6000, 2, 0x1ff00, 0x100, D_WRITE)
    r.pdesc(3, 0xa000, 64, 1).pdesc(0, 0xb000, 64, 1).pdesc(1, 0x6000, 48, 2)
    r.avail(D_NEXT).avail(0).avail(D_INDIRECT).op(DISABLE).pop(1).op(UNPOP, 1)
    r.pop().push(0, 0).op(SIGNAL).op(ENABLE).op(HAS_AVAIL).op(REMAP)
    seeds["packed-indirect-wrap"] = r.b
    # Broken packed rings: a chain round the ring, a buffer id past it.
    r = Ring(4, avail=0x3000, used=0x3004, start=0x8000, used_idx=0x8000, packed=True)
    for i in range(4):
        r.pdesc(i, 0x8000, 0, 0)
    seeds["packed-broken-loop"] = r.avail(D_NEXT).avail(D_NEXT).avail(D_NEXT).avail(D_NEXT).pop().b
    r = Ring(4, avail=0x3000, used=0x3004, start=0x8000, used_idx=0x8000, packed=True)
    seeds["packed-broken-id"] = r.pdesc(0, 0x8000, 8, 9).avail(0).pop().b

    # IOTLB (a vIOMMU): the rings at IOVA 0x100000 (guest 0x1000-0x4fff),
    # buffers at IOVA 0x200000 (guest 0x8000).
    def tlb_ring(num, features=0, tlb_limit=0):
        r = Ring(num, features, desc=0x100000, avail=0x102000, used=0x103000, iotlb=True,
                 tlb_limit=tlb_limit)
        return r.tlb_add(0x100000, 0x4000, 0x1000)

    r = tlb_ring(256).tlb_add(0x200000, 0x4000, 0x8000)
    r.desc(0, 0x200000, 100, D_NEXT, 1).desc(1, 0x201000, 1500, D_WRITE)
    r.avail(0).op(PREFETCH).pop().push(1500).op(SIGNAL).pop()
    seeds["iotlb-simple"] = r.b

    # Chains that miss: a buffer, one over two pages, an unmapped indirect
    # table, a mapped one whose entries miss, a mapped chain; each miss is
    # answered as QEMU does (the page asked for), then the rest arrive and
    # every chain goes.
    r = tlb_ring(16, F_INDIRECT | F_EVENT_IDX).tlb_add(0x200000, 0x1000, 0x8000)
    r.tlb_add(0x500000, 0x1000, 0x6000, TLB_RO)
    r.desc(0, 0x300010, 64, D_WRITE).desc(1, 0x302ff0, 0x20).desc(2, 0x400000, 32, D_INDIRECT)
    r.ind(0x6000, 0, 0x305000, 8, D_NEXT).ind(0x6000, 1, 0x300020, 8, D_WRITE)
    r.desc(3, 0x500000, 32, D_INDIRECT).desc(4, 0x200000, 100)
    for i in range(5):
        r.avail(i)
    r.pop().answer(0x9000).pop().answer(0xa000, TLB_RO).pop()
    r.tlb_add(0x300000, 0x6000, 0x9000).tlb_add(0x400000, 0x1000, 0x6000, TLB_RO)
    r.op(PREFETCH).pop().push(64, 0, 16, 0, 0).op(SIGNAL)
    seeds["iotlb-miss-answer"] = r.b

    # A write through a read-only range breaks the ring (EPERM).
    r = tlb_ring(8).tlb_add(0x200000, 0x1000, 0x8000, TLB_RO)
    seeds["iotlb-read-only"] = r.desc(0, 0x200000, 64, D_WRITE).avail(0).pop().b

    # The used ring unmapped: the prefetch asks for it; mapped read-only the
    # ring waits without asking; writable, it goes. Removed again, it waits.
    r = Ring(8, desc=0x100000, avail=0x102000, used=0x103000, iotlb=True)
    r.tlb_add(0x100000, 0x3000, 0x1000, TLB_RO).tlb_add(0x200000, 0x1000, 0x8000)
    r.desc(0, 0x200000, 64, D_WRITE).avail(0).op(PREFETCH)
    r.tlb_add(0x103000, 0x1000, 0x4000, TLB_RO).op(PREFETCH).pop()
    r.tlb_del(0x103000, 1).tlb_add(0x103000, 0x1000, 0x4000, TLB_WO).pop().push(64)
    r.tlb_del(0x100000, 0x4000).pop().op(ENABLE).op(SIGNAL)
    seeds["iotlb-prefetch-wait"] = r.b

    # At the top of the IOVA space, with at most 6 ranges (the oldest, a
    # decoy, retired): the descriptor table over two ranges onto two
    # regions (read access by access), a buffer over both, one ending at
    # 2^64 - 1, then one wrapping past 2^64, which breaks the ring.
    r = Ring(8, F_EVENT_IDX, desc=TOP + 0xf80, avail=TOP + 0x2000, used=TOP + 0x3000,
             iotlb=True, tlb_limit=6)
    r.tlb_add(0x700000, 0x1000, 0xc000)
    r.tlb_add(TOP, 0xfc0, 0x0).tlb_add(TOP + 0xfc0, 0x1000, 0x10000)
    r.tlb_add(TOP + 0x2000, 0x1000, 0x2000).tlb_add(TOP + 0x3000, 0x1000, TOP + 0x3000)
    r.tlb_add(TOP + 0xf000, 0x1000, TOP + 0x5000).tlb_add(0, 0x1000, 0x9000)
    r.desc(0, TOP_ADDR + 0xfb0, 0x40, D_NEXT, 1).desc(1, TOP_ADDR + 0xfff0, 0x10, D_WRITE)
    r.desc(2, TOP_ADDR + 0xfff0, 0x20, D_WRITE)
    r.avail(0).avail(2).op(DISABLE).pop(1).push(16).op(SIGNAL).op(ENABLE).op(HAS_AVAIL)
    r.pop()
    seeds["iotlb-top-pieces"] = r.b

    # A mapped indirect table of 20 entries (two bulk reads) each on its
    # own unmapped page, the last one nested (the ring breaks there once
    # the others are answered), then 17 chains behind it.
    r = tlb_ring(32, F_INDIRECT).tlb_add(0x500000, 0x1000, 0x6000, TLB_RO)
    for j in range(19):
        r.ind(0x6000, j, 0x600000 + 0x1000 * j, 8, D_NEXT)
    r.ind(0x6000, 19, 0x500000, 16, D_INDIRECT)
    r.desc(0, 0x500000, 20 * 16, D_INDIRECT)
    for i in range(1, 18):
        r.desc(i, 0x800000 + 0x1000 * i, 64, D_WRITE)
    for i in range(18):
        r.avail(i)
    for j in range(19):
        r.pop().answer(0x8000 + 0x100 * j)
    r.pop()
    seeds["iotlb-indirect-answers"] = r.b

    # A packed ring behind the IOTLB (rings at IOVA 0x100000: descriptors,
    # then the driver and device events at 0x102000 and 0x102004): a chain
    # whose second buffer misses, then an indirect table that misses, its
    # entries IOVAs; each answered, then both used and signalled.
    r = Ring(8, F_INDIRECT | F_EVENT_IDX, desc=0x100000, avail=0x102000, used=0x102004,
             start=0x8000, used_idx=0x8000, packed=True, iotlb=True)
    r.tlb_add(0x100000, 0x4000, 0x1000).tlb_add(0x200000, 0x1000, 0x8000)
    r.pind(0x6000, 0, 0x200010, 12).pind(0x6000, 1, 0x200100, 20, D_WRITE)
    r.pdesc(0, 0x200000, 100, 3).pdesc(1, 0x300010, 64, 3).pdesc(2, 0x400000, 32, 4)
    r.avail(D_NEXT).avail(D_WRITE).avail(D_INDIRECT).op(PREFETCH)
    r.pop().answer(0x9000).pop().answer(0x6000, TLB_RO).pop().push(64, 20)
    r.flags_event(0x8003, 2).op(SIGNAL).op(ENABLE).op(HAS_AVAIL)
    seeds["packed-iotlb-miss-answer"] = r.b
    return seeds

# ---- fuzz_trace_load ----------------------------------------------------------------

# ---- fuzz_net -------------------------------------------------------------------------

NET_MRG, NET_EVENT_IDX, NET_INDIRECT, NET_V1, NET_VHOST_HDR = 1, 2, 4, 8, 16
NET_LOG_ALL, NET_LOG_USED, NET_NOTIFY_ON_EMPTY = 32, 64, 128
RX, TX = 0, 1
FRAME_MAX = 65536 + 64


class Net:
    """One fuzz_net input: both rings of 8 entries in region 0 (RX at 0x0,
    TX at 0x800), buffers from 0x1000 on."""

    RINGS = {RX: (0x000, 0x200, 0x400), TX: (0x800, 0xa00, 0xc00)}

    def __init__(self, features, misc=0, num=8, packed=False, start=None):
        """packed: both rings packed (avail, used: the driver and device
        event structures); start: {ring: (avail, used)} positions."""
        log2 = num.bit_length() - 1
        self.b = bytearray([log2 | (0x80 if packed else 0), log2, features, misc])
        for r in (RX, TX):
            desc, avail, used = self.RINGS[r]
            a, u = (start or {}).get(r, (0, 0))
            self.b += struct.pack("<IIIHH", desc, avail, used, a, u)

    def pdesc(self, ring, i, addr, length, buf_id, flags=0):
        """A packed ring slot, raw: addr, len, id, flags."""
        self.b += bytes([1, ring]) + struct.pack("<HQIHH", i, addr, length, buf_id, flags)
        return self

    def pind(self, table, i, addr, length, flags=0):
        self.b += bytes([2]) + struct.pack("<IHQIHH", table, i, addr, length, 0, flags)
        return self

    def publish(self, ring, n=1):
        """Packed: the chain of n slots at the driver's position made available."""
        self.b += bytes([3, ring]) + struct.pack("<H", n - 1)
        return self

    def driver_pos(self, ring, pos):
        self.b += bytes([4, ring]) + struct.pack("<H", pos)
        return self

    def event(self, ring, off_wrap, flags):
        """Packed: the driver event structure."""
        self.b += bytes([5, ring]) + struct.pack("<HH", off_wrap, flags)
        return self

    def start(self, ring, base=None):
        """SET_VRING_BASE (avail, used) if given, then the ring starts."""
        self.b += bytes([10, ring, 1 if base else 0])
        if base:
            self.b += struct.pack("<HH", *base)
        return self

    def desc(self, ring, i, addr, length, flags=0, nxt=0):
        self.b += bytes([1, ring]) + struct.pack("<HQIHH", i, addr, length, flags, nxt)
        return self

    def ind(self, table, i, addr, length, flags=0, nxt=0):
        self.b += bytes([2]) + struct.pack("<IHQIHH", table, i, addr, length, flags, nxt)
        return self

    def avail(self, ring, head):
        self.b += bytes([3, ring]) + struct.pack("<H", head)
        return self

    def poke(self, gpa, data):
        self.b += bytes([0]) + struct.pack("<IB", gpa, len(data)) + data
        return self

    def kick(self, bits):
        self.b += bytes([6, bits])
        return self

    def frame(self, kind, length, pattern=b"\x45\x00"):
        self.b += bytes([7, kind]) + struct.pack("<HB", length, len(pattern)) + pattern
        return self

    def full(self, on):
        self.b += bytes([8, 1 if on else 0])
        return self

    def op(self, *raw):
        self.b += bytes(raw)
        return self


def net_seeds():
    seeds = {}
    # A TX packet with a vhost-owned header: 12 bytes, then 100 of payload.
    s = Net(NET_V1 | NET_VHOST_HDR)
    s.desc(TX, 0, 0x1000, 12, 1, 1).desc(TX, 1, 0x1100, 100)
    s.poke(0x1100, bytes(range(100))).avail(TX, 0).kick(2)
    seeds["tx-packet"] = s.b
    # RX with MRG_RXBUF: four 512-byte buffers, a 1500-byte frame spread
    # over three of them (num_buffers 3), then a small one.
    s = Net(NET_MRG | NET_V1 | NET_VHOST_HDR | NET_EVENT_IDX)
    for i in range(4):
        s.desc(RX, i, 0x2000 + 0x200 * i, 512, 2)
        s.avail(RX, i)
    s.kick(1).frame(1, 1500).frame(0, 60).kick(1)
    seeds["rx-mrg"] = s.b
    # An indirect TX chain: header and payload in a table at 0x3000.
    s = Net(NET_INDIRECT | NET_VHOST_HDR)
    s.desc(TX, 0, 0x3000, 32, 4)
    s.ind(0x3000, 0, 0x1000, 10, 1, 1).ind(0x3000, 1, 0x1200, 64)
    s.avail(TX, 0).kick(2)
    seeds["tx-indirect"] = s.b
    # Oversize both ways: a TX chain of 64 KiB + 200 bytes across regions 0
    # and 1 (the second reached through /proc/self/mem), an RX frame one
    # byte over what the datapath takes, then a frame that fits.
    s = Net(NET_MRG | NET_V1 | NET_VHOST_HDR, misc=2)
    s.desc(TX, 0, 0x0, 0x10000, 1, 1).desc(TX, 1, 0x10000, 200 + 12)
    s.avail(TX, 0).kick(2)
    s.desc(RX, 0, 0x10000, 0x8000, 2).desc(RX, 1, 0x18000, 0x8000, 2)
    s.avail(RX, 0).avail(RX, 1)
    s.frame(3, 0).frame(1, 3000).kick(1)
    seeds["oversize"] = s.b
    # The tap stops reading: TX waits, then drains; a stop in between.
    s = Net(NET_VHOST_HDR, misc=8)
    for i in range(4):
        s.desc(TX, i, 0x1000 + 0x800 * i, 1500)
        s.avail(TX, i)
    s.full(True).kick(2).op(9, TX).op(10, TX, 0).full(False).kick(2)
    seeds["tap-full"] = s.b
    seeds.update(net_packed_seeds())
    return seeds


P_AVAIL, P_USED, P_WRAP = 1 << 7, 1 << 15, 0x8000
EV_ENABLE, EV_DISABLE, EV_DESC = 0, 1, 2


def net_packed_seeds():
    seeds = {}
    # TX frames of two slots each (header, payload) round the ring of 8
    # twice: the wrap counters flip; the descriptors are written again
    # over the used elements, as a driver does.
    s = Net(NET_V1 | NET_VHOST_HDR, packed=True)
    s.poke(0x1100, bytes(range(100)))
    for k in range(8):
        slot = 2 * k % 8
        s.pdesc(TX, slot, 0x1000, 12, 0).pdesc(TX, slot + 1, 0x1100, 40 + k, k % 8)
        s.publish(TX, 2)
        if k % 2:
            s.kick(2)
    seeds["packed-tx"] = s.b
    # RX with MRG_RXBUF: four 512-byte buffers, a 1500-byte frame over
    # three of them, then a small one.
    s = Net(NET_MRG | NET_V1 | NET_VHOST_HDR | NET_EVENT_IDX, packed=True)
    for i in range(4):
        s.pdesc(RX, i, 0x2000 + 0x200 * i, 512, i, D_WRITE).publish(RX)
    s.kick(1).frame(1, 1500).frame(0, 60).kick(1)
    seeds["packed-rx-mrg"] = s.b
    # RX without MRG_RXBUF: a chain of two writable slots per frame (header,
    # data); the second frame does not fit its chain.
    s = Net(NET_V1 | NET_VHOST_HDR, packed=True)
    s.pdesc(RX, 0, 0x2000, 12, 0, D_WRITE).pdesc(RX, 1, 0x2100, 2000, 5, D_WRITE)
    s.publish(RX, 2)
    s.pdesc(RX, 2, 0x3000, 12, 0, D_WRITE).pdesc(RX, 3, 0x3100, 100, 6, D_WRITE)
    s.publish(RX, 2)
    s.kick(1).frame(1, 1000).frame(1, 1500).kick(1)
    s.pdesc(RX, 4, 0x4000, 12, 0, D_WRITE).pdesc(RX, 5, 0x4100, 4000, 7, D_WRITE)
    s.publish(RX, 2).kick(1)
    seeds["packed-rx"] = s.b
    # An indirect TX chain: header and payload in a table at 0x3000.
    s = Net(NET_INDIRECT | NET_VHOST_HDR, packed=True)
    s.pdesc(TX, 0, 0x3000, 32, 3, D_INDIRECT)
    s.pind(0x3000, 0, 0x1000, 10).pind(0x3000, 1, 0x1200, 64)
    s.publish(TX).kick(2)
    seeds["packed-tx-indirect"] = s.b
    # Event suppression with EVENT_IDX: an event at a position, DISABLE,
    # ENABLE; then a slot with the wrap bits of the last lap (not
    # available, nothing moves) and one of the right lap.
    s = Net(NET_EVENT_IDX | NET_V1 | NET_VHOST_HDR, packed=True)
    s.event(TX, 2, EV_DESC)
    for k in range(3):
        s.pdesc(TX, k, 0x1000 + 0x100 * k, 12 + 60, k).publish(TX)
    s.kick(2).event(TX, 0, EV_DISABLE)
    s.pdesc(TX, 3, 0x1400, 12 + 80, 3).publish(TX).kick(2)
    s.event(TX, P_WRAP | 1, EV_DESC).event(RX, 0, EV_ENABLE)
    s.pdesc(TX, 4, 0x1500, 72, 4, P_AVAIL | P_USED).kick(2)
    s.pdesc(TX, 4, 0x1500, 72, 4, P_USED).kick(2)
    seeds["packed-event"] = s.b
    # Start near the end of the ring in the second lap (wrap counter 1, as
    # QEMU encodes SET_VRING_BASE), cross the end, stop, start again where
    # the stop left the positions, with new positions, and without.
    s = Net(NET_V1 | NET_VHOST_HDR, packed=True,
            start={TX: (P_WRAP | 6, P_WRAP | 6), RX: (P_WRAP | 7, P_WRAP | 7)})
    for k in range(4):
        slot = (6 + k) % 8
        s.pdesc(TX, slot, 0x1000 + 0x100 * k, 12 + 50 + k, slot).publish(TX)
    s.kick(2).op(11, TX).op(9, TX).start(TX, (2, 2))
    s.pdesc(TX, 2, 0x1800, 70, 2).publish(TX).kick(2)
    s.pdesc(RX, 7, 0x4000, 2048, 1, D_WRITE).pdesc(RX, 0, 0x5000, 2048, 2, D_WRITE)
    s.publish(RX).publish(RX).frame(1, 300).frame(1, 400).kick(1)
    s.op(9, RX).start(RX).op(9, TX).start(TX, (P_WRAP | 3, P_WRAP | 3))
    s.driver_pos(TX, P_WRAP | 3)
    s.pdesc(TX, 3, 0x1900, 80, 0).publish(TX).kick(3)
    seeds["packed-restart-wrap"] = s.b
    return seeds


def read_trace(path):
    with open(path) as f:
        lines = [ln for ln in f.read().splitlines() if ln.strip()]
    return lines[0], lines[1:]


def trace_seeds(path, inject_path=None):
    header, body = read_trace(path)
    recs = [json.loads(ln) for ln in body]
    seeds = {}
    seeds["qemu-start"] = "\n".join([header] + body[:20]) + "\n"
    # One record of every type and every ioctl name, errors included.
    seen, pick = set(), []
    for ln, r in zip(body, recs):
        key = (r.get("type"), r.get("ioctl"))
        if key not in seen and sum(map(len, pick)) < 7000:
            seen.add(key)
            pick.append(ln)
    if recs[-1].get("type") == "end" and body[-1] not in pick:
        pick.append(body[-1])
    seeds["every-kind"] = "\n".join([header] + pick) + "\n"
    # diff: the start sequence against itself with one answer changed.
    a = [header] + body[:12]
    b = list(a)
    for i, ln in enumerate(b):
        if '"ioctl":"GET_FEATURES"' in ln:
            b[i] = ln.replace('"ret":0', '"ret":-1,"errno":"EFAULT","errno_num":14', 1)
            break
    seeds["diff-pair"] = "\n".join(a) + "\n\f" + "\n".join(b) + "\n"
    if inject_path:
        # --inject rules in the header, injected answers in the records.
        header, body = read_trace(inject_path)
        inj = [ln for ln in body if '"injected":true' in ln]
        seeds["injected"] = "\n".join([header] + body[:6] + inj[:6]) + "\n"
    return {k: v.encode() for k, v in seeds.items()}

# ---- main -----------------------------------------------------------------------------

def write(out, target, seeds):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "corpus"))
    ap.add_argument("--trace", help="a trace written by usvhostd --trace")
    ap.add_argument("--inject-trace", help="one written with --inject rules")
    a = ap.parse_args()
    write(a.out, "fuzz_ioctl", ioctl_seeds())
    write(a.out, "fuzz_vring", vring_seeds())
    write(a.out, "fuzz_net", net_seeds())
    if a.trace:
        write(a.out, "fuzz_trace_load", trace_seeds(a.trace, a.inject_trace))


if __name__ == "__main__":
    main()
