/* SPDX-License-Identifier: MIT */
/*
 * A bound on how long the daemon's stop may take (--stop-timeout). A stop
 * releases every device; a device whose worker waits in a page fault on
 * memory its owner does not let anyone read (a frozen FUSE file mapped as
 * guest RAM, say) cannot be released: that wait ends only when the process
 * does. Past the bound the watch calls overdue(), which removes what is
 * seen from outside (the mount, the control socket) and ends the process:
 * the kernel then closes every fd it held, as for any exit.
 */
#ifndef USV_DAEMON_STOP_WATCH_H
#define USV_DAEMON_STOP_WATCH_H

#include <pthread.h>
#include <stdbool.h>

struct usv_stop_watch {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool running;  /* the thread was started and is not joined yet */
	bool finished; /* the stop finished: the thread leaves */
	unsigned secs;
	/* On the watch's thread, secs after arming; should not return (if it
	 * does, the stop goes on unwatched). */
	void (*overdue)(void *ctx, unsigned secs);
	void *ctx;
};

/* secs 0: never overdue (arming does nothing). -errno on failure, with
 * w->overdue left NULL. */
int usv_stop_watch_init(struct usv_stop_watch *w, unsigned secs,
			void (*overdue)(void *ctx, unsigned secs), void *ctx);
/* The stop begins: the time runs from now. Only the first call counts; a
 * failure to start the thread is logged and leaves the stop unwatched. */
void usv_stop_watch_arm(struct usv_stop_watch *w);
/* The stop finished in time: the watch's thread leaves; frees it all. */
void usv_stop_watch_destroy(struct usv_stop_watch *w);

#endif
