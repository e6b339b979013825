/* SPDX-License-Identifier: MIT */
/*
 * Fault injection: make chosen ioctls fail as a kernel could, so that a user
 * can watch how QEMU handles it (usvhostd --inject).
 *
 * A rule is "IOCTL:ERRNO[:nth=N][:count=M]":
 *   IOCTL  a name from the ioctl table, with or without VHOST_, any case
 *          (SET_MEM_TABLE, vhost_set_vring_call), or a number (0x4008af03);
 *   ERRNO  a name (E2BIG) or a positive number (7);
 *   nth=N  the first failure is the Nth call of IOCTL (default 1), counting
 *          every call of it the daemon answers, on every device;
 *   count=M  that many calls fail from there (default 1; 0 = every one).
 * The injected answer replaces the ioctl's own work where the handler would
 * run, after the kernel's generic checks (owner EPERM, ring index): a call
 * that fails those answers as the kernel would and does not use up the rule.
 * An injected call changes nothing in the device.
 */
#ifndef USV_CORE_INJECT_H
#define USV_CORE_INJECT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/errno_name.h"

#define USV_INJECT_MAX_RULES 32

struct usv_inject_rule {
	uint32_t cmd;
	int err;          /* positive errno */
	uint64_t nth;     /* >= 1 */
	uint64_t count;   /* 0: unlimited */
	uint64_t calls;   /* calls of cmd answered so far */
	uint64_t fired;   /* failures delivered so far */
	char spec[96];    /* normalised, for logs and traces */
};

struct usv_inject {
	pthread_mutex_t lock;
	unsigned nrules;
	struct usv_inject_rule rules[USV_INJECT_MAX_RULES];
};

/* A call in progress: begin() and end() bracket one dispatch round. */
struct usv_inject_ticket {
	bool locked;
	struct usv_inject_rule *rule; /* the rule that would fire, or NULL */
};

void usv_inject_init(struct usv_inject *inj);
void usv_inject_destroy(struct usv_inject *inj);
/*
 * Parses one rule and appends it. 0, or -EINVAL with a message in err
 * (errlen bytes). A rule whose errno the kernel never answers for that ioctl
 * is accepted; *warning (if not NULL) then says so.
 */
int usv_inject_add(struct usv_inject *inj, const char *spec, char *err,
		   size_t errlen, char *warning, size_t warnlen);
/* Parses spec into rule without adding it (for tests and --help checks). */
int usv_inject_parse(const char *spec, struct usv_inject_rule *rule, char *err,
		     size_t errlen);

/*
 * Before serving cmd: the errno to inject if this call reaches the handler
 * (0: none). When a rule names cmd, the injection lock is held until end().
 */
int usv_inject_begin(struct usv_inject *inj, uint32_t cmd,
		     struct usv_inject_ticket *t);
/* After the round: final = not a CUSE retry round; delivered = the injected
 * errno was the answer. Counts the call and unlocks. */
void usv_inject_end(struct usv_inject *inj, uint32_t cmd,
		    struct usv_inject_ticket *t, bool final, bool delivered);

/* Does Linux's vhost-net ever answer cmd with err? (For the warning.) */
bool usv_inject_errno_plausible(uint32_t cmd, int err);

#endif
