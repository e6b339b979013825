/* SPDX-License-Identifier: MIT */
/*
 * The daemon's rights and limits: the descriptor limit raised at start, and
 * after start-up every capability dropped but those serving needs (man
 * usvhostd(8), SECURITY, says which and why). Raw capget/capset/prctl, no
 * libcap. Capabilities and no_new_privs belong to each thread: the drop must
 * run before the process has a second thread, and every thread started
 * afterwards inherits the reduced sets.
 */
#ifndef USV_DAEMON_PRIVILEGES_H
#define USV_DAEMON_PRIVILEGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define USV_CAP(c) (UINT64_C(1) << (c))

/* What serving keeps: effective while serving, and reserved (permitted but
 * not effective, raised only for a moment by the thread that needs it). */
struct usv_priv_plan {
	uint64_t effective;
	uint64_t reserved;
};

/* The plan for a front: FUSE keeps CAP_SYS_ADMIN reserved for its unmount
 * at exit; with kernel.io_uring_disabled=1 creating a ring needs it too, and
 * it stays effective (said with a warning). */
void usv_priv_plan_for(bool fuse, struct usv_priv_plan *plan);

/* RLIMIT_NOFILE's soft limit raised to its hard limit (logged at info). */
int usv_raise_nofile(void);

/* no_new_privs; the ambient and inheritable sets cleared; the bounding and
 * permitted sets reduced to effective|reserved and the effective set to
 * effective. Capabilities the process does not hold are left out (warned).
 * -EBUSY when the process already has another thread. Logs the kept sets. */
int usv_priv_drop(const struct usv_priv_plan *plan);

/* Puts a reserved capability in (on) or out of the calling thread's
 * effective set. */
int usv_priv_set_effective(int cap, bool on);

/* "CAP_DAC_OVERRIDE,CAP_SYS_PTRACE" ("none" for 0). */
void usv_priv_names(uint64_t set, char *buf, size_t len);

#endif
