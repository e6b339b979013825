/* SPDX-License-Identifier: MIT */
/*
 * Handing the live kernel session to another process, and serving one
 * inherited from another process.
 *
 * Handing over: usv_front_ctl_handover() wakes the loop thread, which stops
 * the loop (front/loop.c: every request read is answered, the rest wait in
 * the kernel's queue), wakes and drops every device's IOTLB poll handle (the
 * poller polls again, and that poll request waits in the queue too), and
 * calls the daemon's handover hook. The kernel keeps the session as long as
 * any process holds its fd, so the fronts then return without unmounting or
 * destroying the node.
 *
 * Inheriting: libfuse answers EIO to every request until its session has
 * seen INIT, and the kernel sends INIT once per session. The new session is
 * fed one INIT built from the state the old front recorded, as if read from
 * the kernel; its answer goes to the kernel under a request id no request
 * has, which the kernel refuses with ENOENT and libfuse ignores.
 */
#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>
#include <linux/fuse.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/vhost_chr.h"
#include "front/front.h"
#include "front/front_ctl.h"
#include "front/handover.h"
#include "front/loop.h"

/* The kernel numbers requests from 1 or 2 upward (even ids since Linux
 * 5.0, the low bit marking an interrupt); it would need 2^63 requests to
 * reach this even id. 0 would be a notification. */
#define SYNTHETIC_UNIQUE (UINT64_MAX - 1)

static void release_poll(struct usv_dev *dev, void *arg)
{
	(void)arg;
	usv_chr_poll_release(dev);
}

/* Every device's poller polls again (and waits for the next server). */
static void release_polls(struct usv_devlist *devs)
{
	usv_devlist_for_each(devs, release_poll, NULL);
}

static void describe(const struct usv_front_config *cfg, bool cuse,
		     const struct usv_front_init *init, struct usv_front_state *st)
{
	usv_front_identity(cfg, cuse, st);
	st->proto_major = init->major;
	st->proto_minor = init->minor;
	st->max_readahead = init->max_readahead;
	st->init_flags = init->flags;
}

int usv_front_serve(struct fuse_session *se, const struct usv_front_config *cfg,
		    bool cuse, struct usv_front_loop *loop, struct usv_front_init *init)
{
	for (;;) {
		struct usv_front_state st;
		int ret = usv_front_loop_run(se, cfg->ctl, &cfg->hooks, loop, init);

		if (ret != USV_LOOP_HANDOVER)
			return ret;
		usv_info("hand-over: no request in flight, IOTLB pollers woken");
		release_polls(cfg->devs);
		ret = -ENOTSUP;
		if (!init->seen)
			ret = -EPROTO; /* cannot happen: requests come after INIT */
		else if (cfg->hooks.handover) {
			describe(cfg, cuse, init, &st);
			ret = cfg->hooks.handover(cfg->hooks.ctx, fuse_session_fd(se), &st);
		}
		usv_front_ctl_done(cfg->ctl);
		if (!ret) {
			usv_info("hand-over: the session is served by another process now");
			return USV_LOOP_HANDOVER;
		}
		usv_warn("hand-over failed (%s): serving on", strerror(-ret));
	}
}

void usv_front_init_from_state(const struct usv_front_state *st, struct usv_front_init *init)
{
	init->seen = true;
	init->major = st->proto_major;
	init->minor = st->proto_minor;
	init->max_readahead = st->max_readahead;
	init->flags = st->init_flags;
}

int usv_front_inherit(struct fuse_session *se, int fd, const struct usv_front_state *st)
{
	struct {
		struct fuse_in_header h;
		struct fuse_init_in a; /* CUSE's cuse_init_in is a prefix */
	} msg;
	struct fuse_buf buf = { .mem = &msg };
	char path[32];

	snprintf(path, sizeof(path), "/dev/fd/%d", fd);
	/* libfuse takes a /dev/fd/N "mount point" as the session's fd. */
	if (fuse_session_mount(se, path)) {
		usv_err("cannot attach the inherited session fd %d", fd);
		return -EBADF;
	}
	memset(&msg, 0, sizeof(msg));
	msg.h.opcode = st->cuse ? CUSE_INIT : FUSE_INIT;
	msg.h.unique = SYNTHETIC_UNIQUE;
	msg.a.major = st->proto_major;
	msg.a.minor = st->proto_minor;
	msg.a.flags = (uint32_t)st->init_flags;
	if (!st->cuse) {
		msg.a.max_readahead = st->max_readahead;
		msg.a.flags2 = (uint32_t)(st->init_flags >> 32);
		msg.h.len = sizeof(msg);
	} else {
		msg.h.len = sizeof(msg.h) + sizeof(struct cuse_init_in);
	}
	buf.size = msg.h.len;
	fuse_session_process_buf(se, &buf);
	/* A refused INIT (EPROTO from libfuse) ends the session. */
	if (fuse_session_exited(se)) {
		usv_err("the inherited session refused INIT %u.%u", st->proto_major,
			st->proto_minor);
		return -EPROTO;
	}
	usv_info("serving an inherited session (FUSE protocol %u.%u)", st->proto_major,
		 st->proto_minor);
	return 0;
}

int usv_front_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}
