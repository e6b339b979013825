/* SPDX-License-Identifier: MIT */
/*
 * The fronts' multithreaded request loop. libfuse's own loop cannot stop
 * without losing a request: a worker that has read one after the loop
 * decided to stop drops it unanswered. This loop reads the session fd
 * non-blocking after poll(), so a stop reaches every worker between two
 * requests and each request read is answered before its worker exits.
 */
#ifndef USV_FRONT_LOOP_H
#define USV_FRONT_LOOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct fuse_session;
struct fuse_buf;
struct usv_front_ctl;
struct usv_front_hooks;

/* Request threads for everything but one device's turn (libfuse's loop
 * allowed as many; USV_CHR_READERS_MAX assumes it). A device whose request
 * is being answered holds one more (USV_FRONT_THREADS_MAX in all): one that
 * waits on its owner's memory for ever cannot take the others' threads. */
#define USV_FRONT_THREADS 16
#define USV_FRONT_THREADS_MAX 4096

/* The kernel's INIT (FUSE_INIT or CUSE_INIT) arguments, as read. */
struct usv_front_init {
	bool seen;
	unsigned major, minor, max_readahead;
	uint64_t flags; /* flags, and flags2 << 32 when FUSE_INIT_EXT */
};

/* Notes the arguments of an INIT request in buf, if it is one (true). */
bool usv_front_init_peek(const struct fuse_buf *buf, struct usv_front_init *init);

/* What a run of the loop shares with the request handlers. */
struct usv_front_loop {
	atomic_bool stopping; /* blocking IOTLB reads give up (EINTR) */
};

#define USV_LOOP_HANDOVER 1

/* Serves se (whose fd must be O_NONBLOCK) with up to USV_FRONT_THREADS
 * threads, plus one per device whose turn it is, until SIGINT/SIGTERM/SIGHUP
 * (libfuse's handlers end the session), the kernel ends the session, or ctl
 * asks for a hand-over. Returns once every request read is answered:
 * USV_LOOP_HANDOVER, 0, or -errno (-EIO when the session failed). A
 * hand-over whose requests in progress do not all finish within 5 s is
 * refused instead (hooks->handover_refused, then serving on). INIT requests
 * are noted in init; ctl takes hand-over requests once init has seen one. */
int usv_front_loop_run(struct fuse_session *se, struct usv_front_ctl *ctl,
		       const struct usv_front_hooks *hooks, struct usv_front_loop *loop,
		       struct usv_front_init *init);


#endif
