#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check: in the test VM, two nested guests at once, then one with queues=2 (tests/vm/vm-test.sh).
exec bash "$(dirname "$0")/vm-test.sh" multi
