#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check-vm-boot-loop: in the test VM, the nested guest booted again and again (tests/vm/vm-test.sh).
exec bash "$(dirname "$0")/vm-test.sh" boot-loop
