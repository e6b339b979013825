/* SPDX-License-Identifier: MIT */
/*
 * TX: guest to tap, one packet per descriptor chain, as vhost-net's
 * handle_tx(). A batch of chains becomes a batch of io_uring writes, issued
 * so that the tap gets them in the guest's order: straight from guest memory
 * when it is mapped here (writev), otherwise bounced through a bounded arena
 * first. The worker never waits for a write: a tap or socket that cannot
 * take one now holds the batch (its poll or io-wq does the waiting) and the
 * ring goes on when the last write completes. A non-blocking tap that
 * refuses RWF_NOWAIT (tun before FMODE_NOWAIT, e.g. Linux 6.1) is written by
 * the worker itself, as vhost's sendmsg(): io_uring would hand each of its
 * writes to an io-wq thread. A chain longer than
 * USV_DP_FRAME_MAX is dropped and counted, as tun refuses it. The vhost
 * header is skipped when vhost owns it (vhost_hlen); used entries carry
 * length 0, published in order once the batch is done.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/log.h"
#include "datapath/dp_internal.h"

/* The chain's readable part from byte skip on, as iovecs into our mapping.
 * Returns the count, or 0 when a piece is not mapped here. */
static unsigned local_iov(const struct usv_chain *c, uint32_t skip, struct iovec *iov)
{
	unsigned n = 0;

	for (unsigned i = 0; i < c->nout; i++) {
		const struct usv_seg *s = &c->seg[i];

		if (skip >= s->len) {
			skip -= s->len;
			continue;
		}
		if (!s->local)
			return 0;
		iov[n++] = (struct iovec){ .iov_base = (uint8_t *)s->local + skip,
					   .iov_len = s->len - skip };
		skip = 0;
	}
	return n;
}

static void tx_done(struct usv_dp_op *op, const struct io_uring_cqe *cqe)
{
	struct usv_dp_txslot *s = (struct usv_dp_txslot *)op;
	struct usv_dp_ring *r = s->ring;

	s->res = cqe->res;
	s->inflight = false;
	if (--r->tx.inflight == 0)
		usv_dp_queue(r); /* publish the batch, then the next one */
}

/* Publishes the finished batch in order; failed sends are dropped packets
 * (the kernel's "Fail to send packet"). 0, or -EFAULT with the ring stopped. */
static int tx_complete(struct usv_dp_ring *r)
{
	struct usv_dp_tx *tx = &r->tx;
	uint64_t pkts = 0, bytes = 0, drops = 0;
	unsigned used = 0;

	for (unsigned i = 0; i < tx->n; i++) {
		if (tx->queued[i] && tx->slot[i].res >= 0) {
			pkts++;
			bytes += tx->len[i];
		} else {
			drops++;
		}
		r->heads[used] = r->chains[i].head;
		r->lens[used] = 0;
		used++;
	}
	tx->n = 0;
	tx->arena_used = 0;
	usv_dp_count(&r->st.packets, pkts);
	usv_dp_count(&r->st.bytes, bytes);
	usv_dp_count(&r->st.drops, drops);
	return usv_dp_flush_used(r, &used);
}

/*
 * Queues chain i's write. The usual way: RWF_NOWAIT, not linked. Requests
 * are issued in queue order during the submit, and a write that cannot go
 * at once fails with EAGAIN instead of waiting behind the others, so the tap
 * gets the batch in the guest's order. Such a write (and every write to a
 * backend that refuses RWF_NOWAIT) goes again without it, hard-linked after
 * the other retries (tx_retry): io_uring waits for room, not the worker.
 * Only a packet the tap could not take at once can then end up behind later
 * ones of its batch, when room appeared between two writes.
 */
static void tx_queue(struct usv_dp_ring *r, unsigned i, const struct iovec *iov,
		     unsigned cnt, bool linked, struct io_uring_sqe **last)
{
	struct usv_dp_txslot *s = &r->tx.slot[i];
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->w->uring);

	if (!sqe)
		return; /* room was checked; a drop if it ever happens */
	io_uring_prep_writev(sqe, r->backend_fd, iov, cnt, (uint64_t)-1);
	if (linked)
		/* Hard links keep the order and go on after a failed send. */
		io_uring_sqe_set_flags(sqe, IOSQE_IO_HARDLINK);
	else
		sqe->rw_flags = RWF_NOWAIT;
	s->op.done = tx_done;
	s->ring = r;
	s->res = 0;
	s->inflight = true;
	usv_dp_sqe_op(sqe, &s->op);
	r->tx.queued[i] = true;
	r->tx.iov[i] = iov;
	r->tx.iovcnt[i] = cnt;
	r->tx.inflight++;
	*last = sqe;
}

/* Writes chain i now, without io_uring (tx_direct). After a write that
 * could not go at once, the rest of the batch is not tried either: they go
 * again, hard-linked and in order, with it (tx_retry). */
static void tx_write_direct(struct usv_dp_ring *r, unsigned i, const struct iovec *iov,
			    unsigned cnt, bool *full)
{
	struct usv_dp_txslot *s = &r->tx.slot[i];
	ssize_t n = -1;

	errno = EAGAIN;
	if (!*full)
		n = writev(r->backend_fd, iov, (int)cnt);
	s->res = n >= 0 ? (int)n : errno == EINTR ? -EAGAIN : -errno;
	s->inflight = false;
	if (s->res == -EAGAIN)
		*full = true;
	r->tx.queued[i] = true;
	r->tx.iov[i] = iov;
	r->tx.iovcnt[i] = cnt;
}

/* Closes a link chain and hands the batch to the kernel. */
static void tx_submit(struct usv_dp_ring *r, struct io_uring_sqe *last)
{
	if (!last)
		return;
	last->flags &= (uint8_t)~IOSQE_IO_HARDLINK; /* the chain ends here */
	io_uring_submit(&r->w->uring);
}

/* The batch's writes that could not go at once go again, in order, allowed
 * to wait (in io_uring). True when some went. */
static bool tx_retry(struct usv_dp_ring *r)
{
	struct usv_dp_tx *tx = &r->tx;
	struct io_uring_sqe *last = NULL;

	if (tx->retried)
		return false;
	tx->retried = true;
	io_uring_submit(&r->w->uring); /* room for the chain: at most a batch */
	for (unsigned i = 0; i < tx->n; i++) {
		int res = tx->slot[i].res;

		if (!tx->queued[i] || (res != -EAGAIN && res != -EOPNOTSUPP))
			continue;
		if (res == -EOPNOTSUPP && !r->tx_linked) {
			/* No RWF_NOWAIT here (tun before it learnt
			 * FMODE_NOWAIT): io_uring would punt every write to
			 * an io-wq thread, a wake-up per batch. A
			 * non-blocking tap (QEMU's always are) never waits
			 * in a write, so the worker writes itself from now
			 * on; any other goes hard-linked. */
			int fl = fcntl(r->backend_fd, F_GETFL);

			r->tx_linked = true;
			r->tx_direct = fl >= 0 && (fl & O_NONBLOCK);
		}
		tx_queue(r, i, tx->iov[i], tx->iovcnt[i], true, &last);
	}
	tx_submit(r, last);
	return last != NULL;
}

/* Takes a batch of chains and submits their writes. Counts what it took
 * towards the go's weight; a broken chain stops the ring (what was taken
 * before it is still sent and published). True when it stopped because the
 * guest had nothing more: only then may the caller let the guest kick
 * again. Stopping for lack of room (submission queue) with chains still
 * available is not "empty": the guest already kicked for them. */
static bool tx_fill(struct usv_dp_ring *r, unsigned *pkts, uint64_t *bytes,
		    uint64_t *descs)
{
	struct usv_dp_tx *tx = &r->tx;
	struct io_uring_sqe *last = NULL;
	unsigned segs_used = 0, room;
	char why[sizeof(r->vr.err)] = "";
	bool empty = false, full = false;

	/* The batch's writes may form one link chain: it must fit the queue,
	 * and nothing else may queue a request in its middle (the ring error,
	 * which cancels polls and signals, waits until the chain is closed). */
	io_uring_submit(&r->w->uring);
	room = io_uring_sq_space_left(&r->w->uring);
	tx->n = 0;
	tx->arena_used = 0;
	tx->retried = false;
	while (tx->n < USV_DP_BATCH && tx->n < room &&
	       USV_DP_SEG_POOL - segs_used >= USV_VRING_MAX_SEGS &&
	       USV_DP_TX_ARENA - tx->arena_used >= USV_DP_FRAME_MAX) {
		struct usv_chain *c = &r->chains[tx->n];
		unsigned i, cnt;
		struct iovec *iov;
		uint32_t len;
		int ret;

		c->seg = r->segs + segs_used;
		c->max_segs = USV_VRING_MAX_SEGS;
		ret = usv_vringh_pop(&r->vr, c);
		*descs += c->ndesc;
		if (ret == -EAGAIN) {
			empty = true;
			break;
		}
		if (ret == USV_VRING_MISS) {
			usv_dp_iotlb_miss(r); /* the chain stays: retried on the answer */
			break;
		}
		if (ret) {
			snprintf(why, sizeof(why), "%s", r->vr.err);
			break;
		}
		if (c->nin) {
			snprintf(why, sizeof(why), "unexpected descriptor format for TX: "
				 "out %u, in %u", c->nout, c->nin);
			break;
		}
		if (c->out_len <= r->vhost_hlen) {
			snprintf(why, sizeof(why), "unexpected header len for TX: %u expected %u",
				 c->out_len, r->vhost_hlen);
			break;
		}
		iov = r->iov + segs_used; /* the chain's iovecs sit by its segments */
		segs_used += c->nout;
		len = c->out_len - r->vhost_hlen;
		i = tx->n++;
		tx->len[i] = len;
		tx->queued[i] = false;
		(*pkts)++;
		*bytes += len;
		if (len > USV_DP_FRAME_MAX)
			continue; /* more than a tap takes: dropped, as tun refuses it */
		cnt = local_iov(c, r->vhost_hlen, iov);
		if (!cnt) {
			/* Not mapped here: bounce through the arena, which has
			 * room for a frame (checked above). */
			uint8_t *p = r->arena + tx->arena_used;

			if (usv_dp_chain_read(r, c, r->vhost_hlen, p, len)) {
				/* As a fault in tun's copy: the packet is lost. */
				if (!r->read_err_logged)
					usv_warn("dev %u: vq %u: cannot read TX buffer of head %u; "
						 "packet dropped (logged once)", r->devno,
						 r->idx, c->head);
				r->read_err_logged = true;
				continue;
			}
			tx->arena_used += len;
			iov[0] = (struct iovec){ .iov_base = p, .iov_len = len };
			cnt = 1;
		}
		if (r->tx_direct)
			tx_write_direct(r, i, iov, cnt, &full);
		else
			tx_queue(r, i, iov, cnt, r->tx_linked, &last);
	}
	tx_submit(r, last);
	if (why[0])
		usv_dp_ring_error(r, "%s", why);
	return empty;
}

static bool tx_idle(void *arg)
{
	return ((struct usv_dp_ring *)arg)->tx.inflight == 0;
}

void usv_dp_tx_quiesce(struct usv_dp_ring *r)
{
	struct usv_worker *w = r->w;

	/* Writes usually finish at once; one held by a full tap or socket is
	 * cancelled (its packet dropped). A cancel can miss a linked write
	 * not yet issued, so it is repeated until none is left. A write the
	 * tap could not take at once goes again first, as in a go (a quiesce
	 * per IOTLB change would otherwise drop them). */
	do {
		usv_dp_wait_until(w, tx_idle, r, 10);
		while (r->tx.inflight) {
			for (unsigned i = 0; i < r->tx.n; i++)
				if (r->tx.slot[i].inflight)
					usv_dp_cancel_op(w, &r->tx.slot[i].op);
			usv_dp_wait_until(w, tx_idle, r, 10);
		}
	} while (r->tx.n && tx_retry(r));
	if (r->tx.n)
		tx_complete(r);
}

bool usv_dp_handle_tx(struct usv_dp_ring *r)
{
	uint64_t bytes = 0, descs = 0;
	unsigned pkts = 0;

	r->iotlb_wait = false;
	if (!usv_dp_iotlb_ready(r))
		return false;
	usv_vringh_disable_notify(&r->vr);
	for (;;) {
		if (r->tx.inflight) {
			usv_dp_reap(r->w);
			if (r->tx.inflight)
				return false; /* the last completion queues us */
		}
		if (r->tx.n && tx_retry(r))
			continue;
		if (r->tx.n && tx_complete(r))
			return false;
		if (r->broken)
			return false;
		if (usv_dp_exceeds_weight(pkts, bytes, descs))
			return true; /* fairness: the other ring gets a turn */
		if (!tx_fill(r, &pkts, &bytes, &descs) && !r->tx.n && !r->broken)
			/* Nothing could be taken now, not nothing there; after a
			 * miss, the UPDATE that answers it requeues us (kicks
			 * stay off, as in the kernel). */
			return !r->iotlb_wait;
		if (r->tx.n || r->broken)
			continue;
		/* Empty: spin if asked (with kicks still off), then let the
		 * guest kick again; recheck for a race. */
		switch (usv_dp_busy_poll(r)) {
		case USV_DP_BUSY_FOUND:
			continue;
		case USV_DP_BUSY_YIELD:
			return true;
		case USV_DP_BUSY_NONE:
			break;
		}
		if (usv_vringh_enable_notify(&r->vr)) {
			/* Counted as a packet, as the kernel's loop does: a guest
			 * whose avail index moves under our own notify writes
			 * gets its turn ended by the weight, not an endless one. */
			usv_vringh_disable_notify(&r->vr);
			pkts++;
			continue;
		}
		return false;
	}
}
