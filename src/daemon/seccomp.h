/* SPDX-License-Identifier: MIT */
/*
 * The daemon's system call allow-list (libseccomp), installed once the
 * privileges are dropped and before any serving thread exists, so that
 * every thread started afterwards (libfuse's loop, each device's worker, the
 * stats writer) inherits it. seccomp.c says why each call is on the list;
 * usvhostd(8), SECURITY, and docs/security.md what a refused call does.
 */
#ifndef USV_DAEMON_SECCOMP_H
#define USV_DAEMON_SECCOMP_H

#include <stdbool.h>

enum usv_seccomp_mode {
	/* A call off the list fails with EPERM; the first of each number is
	 * logged at error level, naming it. */
	USV_SECCOMP_ENFORCE,
	/* Allowed, and the kernel logs it (audit, SECCOMP_RET_LOG). */
	USV_SECCOMP_LOG,
	/* The kernel kills the daemon (SECCOMP_RET_KILL_PROCESS). */
	USV_SECCOMP_KILL,
	/* No filter. */
	USV_SECCOMP_OFF,
};

/* "enforce", "log", "kill" or "off"; -EINVAL for anything else. */
int usv_seccomp_parse_mode(const char *s, enum usv_seccomp_mode *mode);
const char *usv_seccomp_mode_name(enum usv_seccomp_mode mode);

/* Installs the filter for the calling thread and every thread it starts
 * later (and, with TSYNC, any thread already there). to_syslog: the daemon
 * logs to syslog, so refused calls are reported there too. Logs what it
 * installed (info) or why it could not (error, -errno). */
int usv_seccomp_install(enum usv_seccomp_mode mode, bool to_syslog);

#endif
