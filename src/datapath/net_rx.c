/* SPDX-License-Identifier: MIT */
/*
 * RX: tap to guest, as vhost-net's handle_rx(), in its three steps: take
 * guest buffers (get_rx_bufs), receive a frame into them, complete it
 * (vnet header, num_buffers, used entries).
 *
 * A tap has no peek, and its read() returns at most the bytes asked for,
 * cutting longer frames silently. So a frame is read into the guest buffers
 * taken (when mapped here) and a scratch tail, USV_DP_FRAME_MAX + 1 bytes in
 * all: a read that fills them was longer than the datapath stages and is
 * dropped and counted. Every later copy is bounded by a frame that fits.
 *
 * With MRG_RXBUF a frame spreads over as many chains as it needs and
 * num_buffers says how many; without it a frame that does not fit one chain
 * is discarded, as the kernel does. A frame read while the guest lacks room
 * is held until it adds buffers: no frame is lost while the guest has
 * buffers. One that needs more buffers than the datapath takes for a frame
 * is dropped (the kernel's "headcount > UIO_MAXIOV").
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/log.h"
#include "datapath/dp_internal.h"

#define NUM_BUFFERS_OFF 10 /* in struct virtio_net_hdr_mrg_rxbuf */
#define RX_FIRST_GUESS 1536
/* Bytes one read may return: a frame that fills them is too long. */
#define RX_READ_MAX (USV_DP_FRAME_MAX + 1)
/* Iovecs one read may take (UIO_MAXIOV), the scratch tail included. */
#define RX_IOV_MAX 1024

struct rx_state {
	unsigned k;        /* chains taken */
	uint64_t cap;      /* their writable bytes */
	unsigned segs;     /* segments used from the pool */
	bool limited;      /* our bounds, not the guest, stopped the taking */
};

/* get_rx_bufs(): takes chains until their room covers want (a single chain
 * without MRG_RXBUF). 0; -EAGAIN when the guest has no more; -errno when
 * the guest broke the ring (stopped). */
static int get_rx_bufs(struct usv_dp_ring *r, struct rx_state *s, uint64_t want,
		       uint64_t *descs)
{
	while (s->k == 0 || (r->mergeable && s->cap < want)) {
		struct usv_chain *c;
		int ret;

		if (s->k == USV_DP_MAX_CHAINS || USV_DP_SEG_POOL - s->segs < USV_VRING_MAX_SEGS) {
			s->limited = true;
			return 0;
		}
		c = &r->chains[s->k];
		c->seg = r->segs + s->segs;
		c->max_segs = USV_VRING_MAX_SEGS;
		ret = usv_vringh_pop(&r->vr, c);
		*descs += c->ndesc;
		if (ret == -EAGAIN)
			return ret;
		if (ret == USV_VRING_MISS) {
			usv_dp_iotlb_miss(r); /* the ring waits for the answer */
			return ret;
		}
		if (ret) {
			usv_dp_ring_error(r, "%s", r->vr.err);
			return ret;
		}
		if (c->nout || !c->nin) {
			/* This chain stays taken, as in the kernel. */
			usv_dp_ring_error(r, "unexpected descriptor format for RX: out %u, in %u",
					  c->nout, c->nin);
			return -EINVAL;
		}
		s->segs += c->nin;
		s->cap += c->in_len;
		s->k++;
	}
	return 0;
}

/* Copies len bytes between buf and the writable stream of chains [0, k)
 * starting at byte off; never past either. */
static int stream_copy(struct usv_dp_ring *r, unsigned k, uint64_t off, void *buf,
		       uint32_t len, bool to_guest)
{
	uint8_t *p = buf;

	for (unsigned j = 0; j < k && len; j++) {
		const struct usv_chain *c = &r->chains[j];
		uint32_t n;
		int ret;

		if (off >= c->in_len) {
			off -= c->in_len;
			continue;
		}
		n = c->in_len - (uint32_t)off < len ? c->in_len - (uint32_t)off : len;
		ret = to_guest ? usv_dp_chain_write(r, c, (uint32_t)off, p, n)
			       : usv_dp_chain_read_in(r, c, (uint32_t)off, p, n);
		if (ret)
			return ret;
		p += n;
		len -= n;
		off = 0;
	}
	return len ? -EFAULT : 0;
}

/* iovecs over the taken chains' writable bytes from skip on, at most limit
 * bytes and max iovecs, if all are mapped here; *bytes gets their sum. */
static unsigned direct_iov(struct usv_dp_ring *r, unsigned k, uint32_t skip,
			   struct iovec *iov, unsigned max, size_t limit, size_t *bytes)
{
	unsigned n = 0;
	size_t sum = 0;

	*bytes = 0;
	for (unsigned j = 0; j < k && sum < limit; j++) {
		const struct usv_chain *c = &r->chains[j];

		for (unsigned i = c->nout; i < c->nout + c->nin && sum < limit; i++) {
			const struct usv_seg *sg = &c->seg[i];
			size_t len;

			if (skip >= sg->len) {
				skip -= sg->len;
				continue;
			}
			if (!sg->local || n == max)
				return 0;
			len = sg->len - skip;
			if (len > limit - sum)
				len = limit - sum;
			iov[n++] = (struct iovec){ .iov_base = (uint8_t *)sg->local + skip,
						   .iov_len = len };
			sum += len;
			skip = 0;
		}
	}
	*bytes = sum;
	return n;
}

/* Reads one frame without blocking: bytes, 0 when the tap is empty, -errno. */
static ssize_t tap_read(struct usv_dp_ring *r, struct iovec *iov, unsigned cnt)
{
	ssize_t n;

	if (!r->nowait_unsupported) {
		n = preadv2(r->backend_fd, iov, (int)cnt, -1, RWF_NOWAIT);
		if (n >= 0)
			return n;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno != EOPNOTSUPP)
			return -errno;
		r->nowait_unsupported = true;
	}
	if (r->backend_sock) {
		/* A socket takes "don't wait" per call. */
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = cnt };

		n = recvmsg(r->backend_fd, &mh, MSG_DONTWAIT);
	} else {
		/* A tap without RWF_NOWAIT (older kernels): read only what
		 * poll says is there. Another reader of the same queue could
		 * take it in between; QEMU's taps are O_NONBLOCK anyway. */
		struct pollfd pfd = { .fd = r->backend_fd, .events = POLLIN };

		if (poll(&pfd, 1, 0) <= 0 || !(pfd.revents & POLLIN))
			return 0;
		n = readv(r->backend_fd, iov, (int)cnt);
	}
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	return n;
}

/* Receives one frame into the taken chains (when mapped here) and scratch.
 * The frame's length, 0 when the tap is empty, -EMSGSIZE for one too long
 * (read and dropped), or -errno. *placed: its first bytes that went
 * straight into the guest; the rest is at the start of scratch. */
static ssize_t rx_read(struct usv_dp_ring *r, const struct rx_state *s, uint32_t hlen,
		       uint32_t *placed)
{
	size_t guest;
	unsigned cnt = direct_iov(r, s->k, hlen, r->iov, RX_IOV_MAX - 1, RX_READ_MAX, &guest);
	ssize_t n;

	if (guest < RX_READ_MAX)
		r->iov[cnt++] = (struct iovec){ .iov_base = usv_dp_rx_tail(r),
						.iov_len = RX_READ_MAX - guest };
	n = tap_read(r, r->iov, cnt);
	if (n <= 0)
		return n;
	if ((size_t)n >= RX_READ_MAX)
		return -EMSGSIZE; /* maybe cut by the read: too long either way */
	*placed = (size_t)n < guest ? (uint32_t)n : (uint32_t)guest;
	return n;
}

/* A failed read: true when the frame was consumed and is counted as dropped
 * (go on with the next), false for an error of the backend (stop here). */
static bool rx_read_failed(struct usv_dp_ring *r, ssize_t n)
{
	/* tun consumes the frame on EINVAL (our buffers are shorter than its
	 * vnet header size) and EFAULT. */
	bool dropped = n == -EMSGSIZE || n == -EINVAL || n == -EFAULT;

	usv_dp_count(dropped ? &r->st.drops : &r->st.errors, 1);
	if (r->read_err_logged)
		return dropped;
	r->read_err_logged = true;
	if (n == -EMSGSIZE)
		usv_warn("dev %u: vq %u: tap frame longer than %u bytes: dropped "
			 "(counted in drops; logged once)", r->devno, r->idx,
			 USV_DP_FRAME_MAX);
	else
		usv_warn("dev %u: vq %u: tap read: %s%s (logged once)", r->devno,
			 r->idx, strerror((int)-n), dropped ? ": frame dropped" : "");
	return dropped;
}

/* Holds a frame the guest has no room for yet: the bytes that went into
 * its buffers are read back, the tail comes from scratch. frame fits
 * pending (it is at most USV_DP_FRAME_MAX) and placed <= frame. */
static int rx_hold(struct usv_dp_ring *r, const struct rx_state *s, uint32_t hlen,
		   uint32_t frame, uint32_t placed)
{
	if (placed && stream_copy(r, s->k, hlen, r->pending, placed, false)) {
		usv_dp_ring_error(r, "cannot read back RX buffers of head %u", r->chains[0].head);
		return -EFAULT;
	}
	memcpy(r->pending + placed, usv_dp_rx_tail(r), frame - placed);
	r->pending_len = frame;
	return 0;
}

/* Completes a frame whose first placed bytes are in the guest already and
 * whose rest is at rest: the rest, the header, the used entries. A frame
 * wholly in scratch goes with its header in one copy (one write per
 * segment when guest memory is not mapped here). The dirty log is written
 * after the bytes, as the kernel's: a log read in between must not miss
 * them. */
static int rx_complete(struct usv_dp_ring *r, const struct rx_state *s, uint32_t hlen,
		       uint32_t frame, uint32_t placed, uint8_t *rest, unsigned *used)
{
	uint64_t left = (uint64_t)hlen + frame;
	unsigned k_used = 0, first = *used;
	uint8_t hdr[12] = { 0 };
	uint16_t nb;
	int ret = 0;

	/* The chains this frame uses; the rest go back. */
	while (left) {
		const struct usv_chain *c = &r->chains[k_used];
		uint32_t l = c->in_len < left ? c->in_len : (uint32_t)left;

		r->heads[*used] = c->head;
		r->lens[*used] = l;
		left -= l;
		k_used++;
		(*used)++;
	}
	usv_vringh_unpop(&r->vr, s->k - k_used);
	nb = (uint16_t)k_used;
	if (r->mergeable)
		memcpy(hdr + NUM_BUFFERS_OFF, &nb, sizeof(nb));
	if (hlen && hlen <= sizeof(hdr) && !placed && rest == usv_dp_rx_tail(r)) {
		memcpy(rest - hlen, hdr, hlen); /* the headroom before the tail */
		ret = stream_copy(r, k_used, 0, rest - hlen, hlen + frame, true);
	} else {
		if (frame > placed)
			ret = stream_copy(r, k_used, hlen + placed, rest, frame - placed, true);
		if (!ret && hlen)
			ret = stream_copy(r, k_used, 0, hdr,
					  hlen < sizeof(hdr) ? hlen : sizeof(hdr), true);
		else if (!ret && r->mergeable && r->sock_hlen >= 12 && frame >= 12)
			ret = stream_copy(r, k_used, NUM_BUFFERS_OFF, &nb, sizeof(nb), true);
	}
	if (ret) {
		usv_dp_ring_error(r, "cannot write RX buffers of head %u", r->chains[0].head);
		*used = first; /* not delivered: its entries are not published */
		return ret;
	}
#ifndef USV_TEST_NO_RX_LOG /* tests/e2e/migration.sh's broken build */
	for (unsigned j = 0; j < k_used; j++)
		usv_vringh_log_chain(&r->vr, &r->chains[j], r->lens[first + j]);
#endif
	return 0;
}

/* The ring broke after the frame in hand was read from the tap: it is lost,
 * and counted as dropped (a held frame is counted when the stop drops it). */
static void rx_lost(struct usv_dp_ring *r)
{
	if (!r->pending_len)
		usv_dp_count(&r->st.drops, 1);
}

bool usv_dp_handle_rx(struct usv_dp_ring *r)
{
	uint32_t hlen = r->vhost_hlen; /* header we write; the tap's is in the frame */
	uint64_t bytes = 0, descs = 0;
	unsigned used = 0, pkts = 0, delivered = 0;
	bool more = false;

	r->iotlb_wait = false;
	if (!usv_dp_iotlb_ready(r))
		return false;
	usv_vringh_disable_notify(&r->vr);
	while (!r->broken) {
		struct rx_state s = { 0 };
		uint32_t frame, placed = 0;
		uint8_t *rest;
		int ret;

		if (usv_dp_exceeds_weight(pkts, bytes, descs)) {
			more = true; /* fairness: the other ring gets a turn */
			break;
		}
		/* 1. Guest buffers first: without them the frame stays in the tap. */
		ret = get_rx_bufs(r, &s, r->pending_len ? hlen + r->pending_len : RX_FIRST_GUESS,
				  &descs);
		if (ret && ret != -EAGAIN) {
			usv_vringh_unpop(&r->vr, s.k);
			break;
		}
		if (s.k == 0) {
			if (usv_vringh_enable_notify(&r->vr)) {
				/* A packet towards the weight, as in the kernel:
				 * the guest cannot make this loop endless. */
				usv_vringh_disable_notify(&r->vr);
				pkts++;
				continue;
			}
			break;
		}
		/* 2. The frame: the one held, or the tap's next. */
		if (r->pending_len) {
			frame = r->pending_len;
			rest = r->pending;
		} else {
			ssize_t n = rx_read(r, &s, hlen, &placed);

			if (n == 0) {
				enum usv_dp_busy b = usv_dp_busy_poll(r);

				if (b == USV_DP_BUSY_FOUND)
					n = rx_read(r, &s, hlen, &placed);
				else if (b == USV_DP_BUSY_YIELD)
					more = true; /* poll again after the others */
			}
			if (n <= 0) {
				usv_vringh_unpop(&r->vr, s.k);
				if (n < 0 && rx_read_failed(r, n)) {
					pkts++;
					continue;
				}
				/* Empty (or failing): the tap's poll brings us
				 * back. Not armed while draining, nor while the
				 * guest has no buffers: its kick does. */
				usv_dp_tap_wait(r);
				break;
			}
			frame = (uint32_t)n;
			rest = usv_dp_rx_tail(r);
		}
		/* Mergeable: as many more chains as the frame needs. */
		if (r->mergeable && s.cap < (uint64_t)hlen + frame) {
			ret = get_rx_bufs(r, &s, (uint64_t)hlen + frame, &descs);
			if (ret == USV_VRING_MISS)
				ret = 0; /* short of room: the frame is held */
			if (ret && ret != -EAGAIN) {
				usv_vringh_unpop(&r->vr, s.k);
				rx_lost(r);
				break;
			}
		}
		if (s.cap < (uint64_t)hlen + frame) {
			usv_vringh_unpop(&r->vr, s.k);
			if (!r->mergeable || s.limited) {
				/* The kernel discards such a frame too. */
				usv_dp_count(&r->st.drops, 1);
				r->pending_len = 0;
				pkts++;
				continue;
			}
			/* Hold the frame until the guest adds buffers. */
			if (!r->pending_len && rx_hold(r, &s, hlen, frame, placed)) {
				rx_lost(r);
				break;
			}
			if (r->iotlb_wait)
				break; /* the UPDATE that answers the miss requeues us */
			if (usv_vringh_enable_notify(&r->vr)) {
				usv_vringh_disable_notify(&r->vr);
				pkts++;
				continue;
			}
			break;
		}
		/* 3. Complete it; the chains it does not need go back. */
		if (rx_complete(r, &s, hlen, frame, placed, rest, &used)) {
			rx_lost(r);
			break;
		}
		r->pending_len = 0;
		pkts++;
		delivered++;
		bytes += frame;
		if (used >= USV_DP_BATCH && usv_dp_flush_used(r, &used))
			break;
	}
	/* Frames completed before the ring broke are published, as the
	 * kernel's handle_rx signals the heads it has done on its way out. */
	usv_dp_flush_used(r, &used);
	usv_dp_count(&r->st.packets, delivered);
	usv_dp_count(&r->st.bytes, bytes);
	return more && !r->broken;
}
