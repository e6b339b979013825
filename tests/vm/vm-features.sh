#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check-vm-features: in the test VM, nested KVM guests with the packed ring and behind a vIOMMU on usvhostd's CUSE node (tests/vm/vm-test.sh).
exec bash "$(dirname "$0")/vm-test.sh" guest-features
