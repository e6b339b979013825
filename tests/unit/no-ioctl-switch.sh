#!/bin/sh
# The ioctl table is the one place that says what an ioctl carries: no code
# outside the handlers switches on ioctl numbers. Allowed: src/core/vhost_*.c,
# the handler files (each handler serves its own ioctl; vhost_chr.c and
# vhost_access.c are handler files too). Everything else reads the row
# (core/ioctl_table.h) instead of naming cases.
set -eu
: "${srcdir:=$(dirname "$0")/../..}"
hits=$(grep -rn --include='*.c' --include='*.h' 'case[[:space:]]*USV_VHOST_' "$srcdir/src" |
	grep -v "^$srcdir/src/core/vhost_[a-z_]*\.c:" || true)
if [ -n "$hits" ]; then
	echo "case USV_VHOST_* outside the handlers (read the ioctl table's row instead):"
	echo "$hits"
	exit 1
fi
# The check must see the tree: the table names every ioctl.
grep -q 'USV_VHOST_SET_MEM_TABLE' "$srcdir/src/core/ioctl_table.c" || {
	echo "cannot read $srcdir/src/core/ioctl_table.c"
	exit 1
}
echo "no case USV_VHOST_* outside src/core/vhost_*.c"
