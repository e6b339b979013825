/* SPDX-License-Identifier: MIT */
/*
 * Eventfd signals (call, err, dirty log) that never block the worker, as the
 * kernel's eventfd_signal() never blocks.
 *
 * An eventfd write blocks only when the counter is full, that is when the
 * reader has not read since it was last signalled: a write that would block
 * is never needed. But the fd is the caller's: it may be blocking, and the
 * caller may fill its counter. So, in order:
 *   1. pwritev2(RWF_NOWAIT): EAGAIN means full, that is signalled already.
 *      Eventfd has no write_iter and answers EOPNOTSUPP up to at least Linux
 *      6.18 (checked on 6.18 and Debian's 6.1); kept for kernels that add it,
 *      and tried once per worker.
 *   2. O_NONBLOCK set (QEMU always sets it): write(); EAGAIN means full.
 *   3. Otherwise the write goes to io_uring, at most one in flight per
 *      eventfd and ring: if it cannot complete, it waits in a poll or an
 *      io-wq thread (bounded per worker), never in the worker.
 * A caller that clears O_NONBLOCK between the check in 2. and the write can
 * still make that write wait: in its own device's worker only, and the
 * control plane interrupts it when it needs that worker (worker.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/log.h"
#include "datapath/dp_internal.h"

static void sig_done(struct usv_dp_op *op, const struct io_uring_cqe *cqe)
{
	struct usv_dp_sig *s = (struct usv_dp_sig *)op;

	s->inflight = false;
	if (cqe->res < 0 && cqe->res != -ECANCELED && cqe->res != -EINTR)
		usv_dbg("dev %u: vq %u: eventfd write: %s", s->ring->devno,
			s->ring->idx, strerror(-cqe->res));
}

void usv_dp_sig_init(struct usv_dp_sig *s, struct usv_dp_ring *r)
{
	s->op.done = sig_done;
	s->ring = r;
	s->fd = -1;
	s->inflight = false;
}

static bool sig_idle(void *arg)
{
	return !((struct usv_dp_sig *)arg)->inflight;
}

void usv_dp_sig_quiesce(struct usv_dp_sig *s)
{
	struct usv_worker *w = s->ring->w;

	/* A pending write waits for a reader that may never come: cancel it.
	 * A cancel can miss a request moving between a poll and io-wq, so it
	 * is repeated until the completion arrives. */
	while (s->inflight) {
		usv_dp_cancel_op(w, &s->op);
		usv_dp_wait_until(w, sig_idle, s, 10);
	}
}

void usv_dp_sig_set(struct usv_dp_sig *s, int fd)
{
	if (fd == s->fd)
		return;
	/* A write pending on the old fd would hold back the new one's. */
	usv_dp_sig_quiesce(s);
	s->fd = fd;
}

bool usv_dp_sig_raise(struct usv_dp_sig *s)
{
	struct usv_worker *w = s->ring->w;
	struct io_uring_sqe *sqe;
	int fl;

	if (s->fd < 0)
		return false;
	if (s->inflight)
		return true; /* the pending write signals */
	s->val = 1;
	if (!w->eventfd_nowait_unsupported) {
		struct iovec iov = { .iov_base = &s->val, .iov_len = sizeof(s->val) };
		ssize_t n = pwritev2(s->fd, &iov, 1, -1, RWF_NOWAIT);

		if (n == sizeof(s->val) || (n < 0 && errno == EAGAIN))
			return true;
		if (n < 0 && errno != EOPNOTSUPP)
			return false;
		w->eventfd_nowait_unsupported = true;
	}
	fl = fcntl(s->fd, F_GETFL);
	if (fl >= 0 && (fl & O_NONBLOCK)) {
		ssize_t n = write(s->fd, &s->val, sizeof(s->val));

		return n == sizeof(s->val) || (n < 0 && errno == EAGAIN);
	}
	sqe = usv_dp_get_sqe(w);
	if (!sqe)
		return false;
	io_uring_prep_write(sqe, s->fd, &s->val, sizeof(s->val), (uint64_t)-1);
	usv_dp_sqe_op(sqe, &s->op);
	s->inflight = true;
	io_uring_submit(&w->uring); /* an interrupt waits for nothing */
	return true;
}

void usv_dp_signal(struct usv_dp_ring *r)
{
	if (usv_dp_sig_raise(&r->call))
		usv_dp_count(&r->st.interrupts, 1);
}

void usv_dp_signal_log(struct usv_dp_ring *r)
{
	if (!r->vr.log.written)
		return;
	r->vr.log.written = false;
	usv_dp_sig_raise(&r->log);
}
