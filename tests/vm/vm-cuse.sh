#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check: in the test VM, the CUSE front's bring-up and the ioctl conformance table (tests/vm/vm-test.sh).
exec bash "$(dirname "$0")/vm-test.sh" cuse conformance
