# End-to-end tests: unmodified QEMU against usvhostd (need root, /dev/fuse,
# /dev/net/tun and qemu-system-x86; they skip loudly otherwise), on
# tests/lib/e2e-lib.sh and, in the guest, tests/lib/guest-lib.sh.
# traffic-*: packets through usvhostd's datapath (E2E_VHOST=off runs their
# guest scripting against QEMU's own virtio-net instead).
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
TESTS += \
	tests/e2e/qemu-driver-ok.sh \
	tests/e2e/traffic-basic.sh \
	tests/e2e/traffic-features.sh \
	tests/e2e/traffic-reload.sh \
	tests/e2e/traffic-mq.sh \
	tests/e2e/traffic-viommu.sh \
	tests/e2e/qemu-sigkill.sh \
	tests/e2e/trace-qemu.sh \
	tests/e2e/unprivileged-qemu.sh \
	tests/e2e/libvirt.sh
EXTRA_DIST += \
	tests/e2e/qemu-driver-ok.sh \
	tests/e2e/traffic-basic.sh \
	tests/e2e/traffic-features.sh \
	tests/e2e/traffic-reload.sh \
	tests/e2e/traffic-mq.sh \
	tests/e2e/traffic-viommu.sh \
	tests/e2e/qemu-sigkill.sh \
	tests/e2e/trace-qemu.sh \
	tests/e2e/unprivileged-qemu.sh \
	tests/e2e/libvirt.sh
