#!/bin/bash
# test: nested KVM guests with the packed ring and behind a vIOMMU, on usvhostd's CUSE /dev/vhost-net
# Runs inside the test VM (tests/vm/vm-init.sh): the two features beyond
# plain vhost=on, through the CUSE front with unmodified QEMU opening
# /dev/vhost-net itself (the FUSE front has tests/e2e/traffic-packed.sh and
# traffic-viommu.sh):
#  * virtio-net-pci,packed=on: QEMU acks VIRTIO_F_RING_PACKED (bit 34),
#    which no kernel's vhost-net offers;
#  * q35 with an emulated Intel IOMMU and virtio-net-pci,iommu_platform=on:
#    the guest (intel_iommu=on iommu=pt) acks ACCESS_PLATFORM (bit 33), and
#    QEMU drives the device IOTLB through the node's read/write/poll. Not
#    strict mode: there every page costs a MISS that this VM's emulated
#    QEMU answers slowly, and 4 MiB of guest TX did not fit the nested
#    guest's 60 s (3.2 MB moved, every byte right); traffic-viommu.sh runs
#    strict mode on the FUSE front.
# Each guest pings the VM and moves VM_BLOB_BYTES each way over TCP with
# matching sha256 sums; usvhostd's counters account for the packets.
set -eu
. "$top_srcdir/tests/vm/vm-lib.sh" guest-features

vm_require_kvm
vm_modprobe cuse tun || e2e_die "cannot load cuse/tun"
vm_kernel_vhost off
vm_daemon_start main vhost-net
vm_tap vtap0 10.0.81.1/24

# The guest's view of a feature bit (USVHOST_NESTED_UP features=0101...,
# bit N at position N).
check_feature() { # TAG BIT NAME
	local bits
	bits=$(vm_console "$1" | sed -n 's/^USVHOST_NESTED_UP .* features=\([01]*\).*/\1/p' | head -n1)
	if [ "${bits:$2:1}" = 1 ]; then
		e2e_pass "guest $1: the driver acked $3 (bit $2)"
	else
		e2e_fail "guest $1: $3 (bit $2) not acked: features=${bits:-none}"
	fi
}

e2e_log "--- the packed ring"
vm_stats_sampler_start
vm_guest_start p vtap0 10.0.81.2/24 10.0.81.1 --device-opts=packed=on
vm_guest_wait p
vm_guest_check_up p
check_feature p 34 RING_PACKED
vm_guest_check_traffic p

e2e_log "--- behind a vIOMMU (passthrough)"
vm_guest_start i vtap0 10.0.81.2/24 10.0.81.1 --rx=5201 --tx=5301 \
	--machine=q35,kernel-irqchip=split \
	--device-opts=iommu_platform=on,ats=on,disable-legacy=on \
	--append="intel_iommu=on iommu=pt no_timer_check" \
	-- -device intel-iommu,intremap=on,device-iotlb=on
vm_guest_wait i
vm_stats_sampler_stop
vm_guest_check_up i
check_feature i 33 ACCESS_PLATFORM
vm_guest_check_traffic i
e2e_check_iotlb_used "$VM_DAEMON_LOG" # through the CUSE node

vm_daemon_stop
vm_check_counters usvhostd p:vtap0 i:vtap0
[ "$E2E_FAILS" = 0 ] || { vm_guest_show_logs p; vm_guest_show_logs i; e2e_show_file "$VM_DAEMON_LOG" 40; }
e2e_finish
