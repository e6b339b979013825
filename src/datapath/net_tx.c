/* SPDX-License-Identifier: MIT */
/*
 * TX: guest to tap, one packet per descriptor chain, as vhost-net's
 * handle_tx(). When the guest's RAM is mapped here, a packet goes straight
 * from guest memory to the tap (writev through io_uring, a batch of packets
 * per submission); otherwise it is gathered with process_vm_readv first.
 * The vhost header is skipped when vhost owns it (vhost_hlen); used entries
 * carry length 0.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/log.h"
#include "datapath/dp.h"

struct tx_batch {
	unsigned n;         /* chains popped */
	unsigned queued;    /* writes handed to io_uring */
	struct iovec *iov;  /* per chain: USV_VRING_MAX_SEGS at most */
	unsigned iovcnt[USV_DP_BATCH];
	uint32_t len[USV_DP_BATCH]; /* payload bytes (header skipped) */
};

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

/* Submits the queued writes and waits for every one of them. */
static void tx_wait(struct usv_dp_ring *r, struct tx_batch *b)
{
	for (unsigned i = 0; i < b->queued; i++)
		while (r->slots[i].ring && !usv_dp_wait_one(r->w))
			;
}

/* Sends one packet now, bouncing through scratch (memory not mapped). */
static int tx_bounce(struct usv_dp_ring *r, const struct usv_chain *c, uint32_t len)
{
	ssize_t n;

	if (usv_chain_read(c, r->vhost_hlen, r->scratch, len, r->vr.mem))
		return -EFAULT;
	n = write(r->backend_fd, r->scratch, len);
	return n < 0 ? -errno : (int)n;
}

bool usv_dp_handle_tx(struct usv_dp_ring *r)
{
	struct tx_batch b = { 0 };
	struct iovec iov[USV_DP_BATCH * 4];
	uint64_t bytes = 0;
	unsigned pkts = 0, used = 0;
	bool more = false;

	usv_vring_disable_notify(&r->vr);
	for (;;) {
		unsigned segs_used = 0, iov_used = 0;
		int ret = 0;

		b.n = b.queued = 0;
		/* Gather a batch of chains while segments and iovecs last. */
		while (b.n < USV_DP_BATCH && USV_DP_SEG_POOL - segs_used >= USV_VRING_MAX_SEGS) {
			struct usv_chain *c = &r->chains[b.n];
			uint32_t len;
			unsigned cnt;

			c->seg = r->segs + segs_used;
			c->max_segs = USV_VRING_MAX_SEGS;
			ret = usv_vring_pop(&r->vr, c);
			if (ret)
				break;
			segs_used += c->nout + c->nin;
			if (c->nin) {
				snprintf(r->vr.err, sizeof(r->vr.err), "unexpected descriptor "
					 "format for TX: out %u, in %u", c->nout, c->nin);
				ret = -EINVAL;
				break;
			}
			if (c->out_len <= r->vhost_hlen) {
				snprintf(r->vr.err, sizeof(r->vr.err), "unexpected header len "
					 "for TX: %u expected %u", c->out_len, r->vhost_hlen);
				ret = -EINVAL;
				break;
			}
			len = c->out_len - r->vhost_hlen;
			b.len[b.n] = len;
			cnt = iov_used + c->nout <= sizeof(iov) / sizeof(iov[0]) ?
				      local_iov(c, r->vhost_hlen, iov + iov_used) : 0;
			b.iovcnt[b.n] = cnt;
			if (cnt) {
				struct io_uring_sqe *sqe = io_uring_get_sqe(&r->w->uring);

				if (!sqe) {
					io_uring_submit(&r->w->uring);
					sqe = io_uring_get_sqe(&r->w->uring);
				}
				if (sqe) {
					r->slots[b.queued] = (struct usv_dp_txslot){ .ring = r };
					io_uring_prep_writev(sqe, r->backend_fd, iov + iov_used, cnt,
							     (uint64_t)-1);
					io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)&r->slots[b.queued] |
								USV_TAG_TXW);
					b.queued++;
					iov_used += cnt;
				} else {
					b.iovcnt[b.n] = 0;
				}
			}
			if (!b.iovcnt[b.n]) {
				/* Keep the order: what was queued goes first. */
				io_uring_submit(&r->w->uring);
				tx_wait(r, &b);
				ret = tx_bounce(r, c, len);
				if (ret < 0 && ret != -EFAULT)
					usv_dp_count(&r->st.drops, 1);
				else if (ret == -EFAULT) {
					snprintf(r->vr.err, sizeof(r->vr.err),
						 "cannot read TX buffer of head %u", c->head);
					b.n++;
					break;
				}
				ret = 0;
			}
			b.n++;
		}
		if (b.queued) {
			io_uring_submit(&r->w->uring);
			tx_wait(r, &b);
		}
		/* Results of the writes, in order; failed sends are dropped
		 * packets (the kernel's "Fail to send packet"). */
		for (unsigned i = 0, q = 0; i < b.n; i++) {
			if (b.iovcnt[i]) {
				int res = r->slots[q++].res;

				if (res < 0)
					usv_dp_count(&r->st.drops, 1);
			}
			r->heads[used] = r->chains[i].head;
			r->lens[used] = 0;
			used++;
			pkts++;
			bytes += b.len[i];
			if (used == USV_DP_BATCH && usv_dp_flush_used(r, &used))
				return false;
		}
		if (ret && ret != -EAGAIN) {
			usv_dp_flush_used(r, &used);
			usv_dp_ring_broken(r);
			break;
		}
		if (usv_dp_flush_used(r, &used))
			break;
		if (ret == -EAGAIN && !b.n) {
			/* Empty: let the guest kick again; recheck for a race. */
			if (usv_vring_enable_notify(&r->vr) || usv_dp_busy_poll(r)) {
				usv_vring_disable_notify(&r->vr);
				continue;
			}
			break;
		}
		if (pkts >= USV_DP_WEIGHT_PKTS || bytes >= USV_DP_WEIGHT_BYTES) {
			more = true; /* fairness: the others get a turn */
			break;
		}
	}
	usv_dp_count(&r->st.packets, pkts);
	usv_dp_count(&r->st.bytes, bytes);
	return more;
}
