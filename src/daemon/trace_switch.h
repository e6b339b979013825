/* SPDX-License-Identifier: MIT */
/*
 * The ioctl trace, switchable at runtime: an observer installed once, at
 * start-up, that forwards to the current recorder (src/trace) or to none.
 *
 * Why this is safe with dispatch running: devices copy the list's observer
 * when they are created, so the observer itself never changes; only the
 * recorder behind it does. Every forwarded call holds a read lock for its
 * duration; on/off swaps the pointer under the write lock and closes the old
 * recorder only after dropping it, when no call can still be using it. The
 * rwlock prefers writers, so a swap is not starved by a busy device; calls
 * never nest, so a waiting writer cannot deadlock a reader. The writer holds
 * no other lock.
 */
#ifndef USV_DAEMON_TRACE_SWITCH_H
#define USV_DAEMON_TRACE_SWITCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/observer.h"
#include "trace/recorder.h"

struct usv_trace_switch {
	pthread_rwlock_t lock;
	struct usv_trace *cur; /* NULL: tracing off */
	FILE *f;               /* the stream under cur, when switched on here */
	char name[256];        /* what cur writes to, as named */
	struct usv_trace_info info; /* for the headers of traces started here */
};

extern const struct usv_observer usv_trace_switch_observer;

/* Takes initial (NULL: off), the --trace recorder, named name. */
int usv_trace_switch_init(struct usv_trace_switch *sw, const struct usv_trace_info *info,
			  struct usv_trace *initial, const char *name);
/* Starts a new trace on fd (taken, even on failure), replacing any. */
int usv_trace_switch_on(struct usv_trace_switch *sw, int fd, const char *name);
void usv_trace_switch_off(struct usv_trace_switch *sw);
/* Whether tracing is on, and to what (name, a copy). */
bool usv_trace_switch_state(struct usv_trace_switch *sw, char *name, size_t len);
/* Closes the current trace; call once no device can report any more. */
void usv_trace_switch_destroy(struct usv_trace_switch *sw);

#endif
