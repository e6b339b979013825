/* SPDX-License-Identifier: MIT */
/* The control socket's commands: one request line in, one answer line out
 * (usvhost/control.h). Called from the control thread, with no lock held. */
#ifndef USV_DAEMON_CONTROL_CMD_H
#define USV_DAEMON_CONTROL_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/devlist.h"
#include "daemon/trace_switch.h"

struct usv_dp;
struct usv_front_state;

struct usv_control_ctx {
	struct usv_devlist *devs;
	struct usv_dp *dp;             /* NULL: no counters yet */
	struct usv_trace_switch *trace;
	uid_t uid;                     /* the client, for logs */
	pid_t pid;
	/* NULL: this daemon cannot hand its devices over (takeover answers
	 * EOPNOTSUPP). Else set true by an accepted takeover request: the
	 * caller then passes the connection and the answer to the daemon,
	 * which speaks first on it (daemon/takeover.h). */
	bool *takeover;
	/* What `version` says of this daemon's front and profile, so that a
	 * new daemon can check its options before asking for a hand-over;
	 * NULL: not said. */
	const struct usv_front_state *front;
	const char *profile;
};

/* Answers the request in line[0..len) (no newline). fds[0..nfds) came with
 * it: those the request takes are set to -1, the caller closes the rest.
 * Returns the answer (malloc'd, ending in a newline, *outlen bytes) or NULL
 * when out of memory. */
char *usv_control_answer(const struct usv_control_ctx *ctx, const char *line, size_t len,
			 int *fds, unsigned nfds, size_t *outlen);
/* An answer to no request: the error code and message. */
char *usv_control_error_line(const char *code, const char *message, size_t *outlen);

#endif
