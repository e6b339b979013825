#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check: in the test VM, a nested KVM guest on the kernel's vhost_net, then on usvhostd (tests/vm/vm-test.sh).
exec bash "$(dirname "$0")/vm-test.sh" guest-kernel guest-usvhost
