# End-to-end tests: unmodified QEMU against usvhostd (need root, /dev/fuse,
# /dev/net/tun and qemu-system-x86; they skip loudly otherwise), on
# tests/lib/e2e-lib.sh and, in the guest, tests/lib/guest-lib.sh.
# traffic-*: packets through usvhostd's datapath (E2E_VHOST=off runs their
# guest scripting against QEMU's own virtio-net instead); traffic-packed: the
# packed virtqueue (packed=on): a driver reload, then 2 queue pairs, about 50 s.
# qemu-sigkill: QEMU killed mid-traffic 20 times; every device released, the
# daemon's fds and memory back to where they were.
# traffic-viommu: the same behind a guest vIOMMU (intel-iommu, ACCESS_PLATFORM,
# the device IOTLB), strict and passthrough (about 2 min).
# trace-qemu: QEMU's boot traced and replayed against the profiles, fault
# injection seen by QEMU (four boots, about 35 s).
# unprivileged-qemu: QEMU as nobody opens the node itself (vhost=on, no
# vhostfd); the daemon as usvhostd.service runs it (own network namespace,
# system calls within the unit's filter).
# libvirt: a libvirtd of the test's own starts a domain with vhost through
# usvhostd, by <backend vhost=PATH> and by /dev/vhost-net (about 45 s).
# hotplug: NICs (one and two queue pairs) hot-plugged and unplugged over QMP
# with fds from getfd, DIMMs added while data moves, and --max-mem-regions
# answering QEMU's bigger table E2BIG (one guest, about 90 s).
# migration: live migration between two QEMUs on one usvhostd while TCP
# streams both ways, anonymous and memfd RAM; guest RAM compared page by
# page, and usvhostd-nolog must fail that comparison (about 3-4 min).
# upgrade: usvhostd --takeover ten times in a row while TCP streams both ways,
# anonymous and memfd RAM, and two refused takeovers (about 2 min).
TESTS += \
	tests/e2e/qemu-driver-ok.sh \
	tests/e2e/traffic-basic.sh \
	tests/e2e/traffic-features.sh \
	tests/e2e/traffic-reload.sh \
	tests/e2e/traffic-mq.sh \
	tests/e2e/traffic-packed.sh \
	tests/e2e/traffic-viommu.sh \
	tests/e2e/qemu-sigkill.sh \
	tests/e2e/trace-qemu.sh \
	tests/e2e/unprivileged-qemu.sh \
	tests/e2e/libvirt.sh \
	tests/e2e/hotplug.sh \
	tests/e2e/migration.sh \
	tests/e2e/upgrade.sh
EXTRA_DIST += \
	tests/e2e/qemu-driver-ok.sh \
	tests/e2e/traffic-basic.sh \
	tests/e2e/traffic-features.sh \
	tests/e2e/traffic-reload.sh \
	tests/e2e/traffic-mq.sh \
	tests/e2e/traffic-packed.sh \
	tests/e2e/traffic-viommu.sh \
	tests/e2e/qemu-sigkill.sh \
	tests/e2e/trace-qemu.sh \
	tests/e2e/unprivileged-qemu.sh \
	tests/e2e/libvirt.sh \
	tests/e2e/hotplug.sh \
	tests/e2e/migration.sh \
	tests/e2e/upgrade.sh

# The negative control of migration.sh: usvhostd built with the dirty log of
# RX buffer writes left out (the used ring is still logged). Test-only: never
# installed, no runtime switch in the real daemon.
check_PROGRAMS += tests/e2e/usvhostd-nolog
tests_e2e_usvhostd_nolog_SOURCES = $(src_usvhostd_SOURCES) $(src_libusvdp_la_SOURCES)
tests_e2e_usvhostd_nolog_CPPFLAGS = $(AM_CPPFLAGS) -DUSV_TEST_NO_RX_LOG
tests_e2e_usvhostd_nolog_CFLAGS = $(src_usvhostd_CFLAGS) $(URING_CFLAGS) $(NUMA_CFLAGS)
tests_e2e_usvhostd_nolog_LDADD = src/libusvfront.la src/libusvtrace.la src/libusvcore.la \
	$(URING_LIBS) $(NUMA_LIBS) $(FUSE3_LIBS) $(JSONC_LIBS) $(SECCOMP_LIBS) -lpthread
