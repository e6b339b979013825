/* SPDX-License-Identifier: MIT */
/* Errno names, in one place: logs, traces, --inject and replay all say
 * "EFAULT" the same way and read it back the same way. */
#ifndef USV_CORE_ERRNO_NAME_H
#define USV_CORE_ERRNO_NAME_H

/* "E2BIG" for 7 or -7; NULL for 0 or a number this libc cannot name. */
const char *usv_errno_name(int err);
/* 7 for "E2BIG" (any case); 0 for a name this libc does not know. */
int usv_errno_from_name(const char *name);
/* "EPERM" for 1 or -1, "E123" (into buf) for an errno without a name. */
const char *usv_errname(int err, char *buf, unsigned len);

#endif
