# SPDX-License-Identifier: MIT
"""What the host benchmark scripts' reports share (scripts/bench.sh,
scripts/bench-iommu.sh): a figure's formatting and the machine line.

A cell is (median, min, max, bad runs); median None when no run counted."""


def pps(x):
    if x >= 1e6:
        return "%.2f Mpps" % (x / 1e6)
    return "%.0f kpps" % (x / 1e3)


def fig(c):
    m, lo, hi, bad = c
    if m is None:
        return "failed"
    s = "%s (%s-%s)" % (pps(m), pps(lo), pps(hi))
    return s + (" **%d run(s) failed or mismatched**" % bad if bad else "")


def ratio(a, b):
    if a[0] is None or not b[0]:
        return "-"
    return "%.2f" % (a[0] / b[0])


def machine():
    """'CPU model, N CPUs, M MiB RAM' of this host."""
    import os
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = int(open("/proc/meminfo").readline().split()[1])
    return "%s, %d CPUs, %d MiB RAM" % (cpu, os.cpu_count(), mem_kib // 1024)
