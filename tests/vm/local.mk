# Tests inside the test VM (Debian's kernel under TCG, with cuse, vhost_net
# and nested KVM): scripts/vm-run.sh boots it, tests/vm/t-*.sh run in it
# (docs/testing-vm.md). Each entry below is one VM boot. They need
# qemu-system-x86 and busybox-static, and the network once for the kernel
# package; USVHOST_VM_TESTS=0 skips them.
TESTS += \
	tests/vm/vm-cuse.sh \
	tests/vm/vm-guests.sh
# vm-multi.sh is not in the default run: nested KVM guests on the test VM's
# emulated SVM (TCG) sometimes die without a word (QEMU exits 0, empty
# console), seen with the daemon of any version, before vhost even started;
# two guests at once and 2 vCPUs make it likely (2 runs in 7 here).
# docs/testing-vm.md says more. Run it with 'make check-vm-multi'.
check-vm-multi: $(check_PROGRAMS) $(sbin_PROGRAMS) $(bin_PROGRAMS)
	$(MAKE) $(AM_MAKEFLAGS) check TESTS=tests/vm/vm-multi.sh
.PHONY: check-vm-multi
# vm-features.sh (the packed ring and a vIOMMU through the CUSE node) is not
# in the default run either, for the same reason: two more nested boots per
# run would double how often that death fails CI. Run it with
# 'make check-vm-features'.
check-vm-features: $(check_PROGRAMS) $(sbin_PROGRAMS) $(bin_PROGRAMS)
	$(MAKE) $(AM_MAKEFLAGS) check TESTS=tests/vm/vm-features.sh
.PHONY: check-vm-features
# A diagnostic, not a test of usvhost: how often a nested guest dies in this
# VM (docs/testing-vm.md).
check-vm-boot-loop: $(check_PROGRAMS) $(sbin_PROGRAMS) $(bin_PROGRAMS)
	$(MAKE) $(AM_MAKEFLAGS) check TESTS=tests/vm/vm-boot-loop.sh
.PHONY: check-vm-boot-loop
# t-bench.sh is in no entry: it prints figures, scripts/bench-vm.sh runs it.
EXTRA_DIST += \
	tests/vm/vm-cuse.sh \
	tests/vm/vm-guests.sh \
	tests/vm/vm-multi.sh \
	tests/vm/vm-features.sh \
	tests/vm/vm-boot-loop.sh \
	tests/vm/vm-test.sh \
	tests/vm/vm-init.sh \
	tests/vm/vm-lib.sh \
	tests/vm/nested-guest.sh \
	tests/vm/t-cuse.sh \
	tests/vm/t-conformance.sh \
	tests/vm/t-guest-kernel.sh \
	tests/vm/t-guest-usvhost.sh \
	tests/vm/t-guest-features.sh \
	tests/vm/t-multi.sh \
	tests/vm/t-boot-loop.sh \
	tests/vm/t-bench.sh
