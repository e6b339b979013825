/* SPDX-License-Identifier: MIT */
/*
 * RX: tap to guest, as vhost-net's handle_rx(). Guest buffers are taken
 * first and the frame is read straight into them when they are mapped here
 * (the tail of a frame larger than the buffers taken lands in scratch and is
 * copied once more buffers are taken). With MRG_RXBUF a frame spreads over
 * as many chains as it needs and num_buffers says how many; without it a
 * frame that does not fit one chain is discarded, as the kernel does. A
 * frame read while the guest lacks room is held until it adds buffers: no
 * frame is lost while the guest has buffers.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/log.h"
#include "datapath/dp.h"

#define NUM_BUFFERS_OFF 10 /* in struct virtio_net_hdr_mrg_rxbuf */
#define RX_FIRST_GUESS 1536

struct rx_state {
	unsigned k;        /* chains taken */
	uint64_t cap;      /* their writable bytes */
	unsigned segs;     /* segments used from the pool */
};

/* Takes one more chain; -EAGAIN when the guest has none. */
static int take_chain(struct usv_dp_ring *r, struct rx_state *s)
{
	struct usv_chain *c;
	int ret;

	if (s->k == USV_DP_MAX_CHAINS || USV_DP_SEG_POOL - s->segs < USV_VRING_MAX_SEGS)
		return -EAGAIN;
	c = &r->chains[s->k];
	c->seg = r->segs + s->segs;
	c->max_segs = USV_VRING_MAX_SEGS;
	ret = usv_vring_pop(&r->vr, c);
	if (ret)
		return ret;
	if (c->nout || !c->nin) {
		snprintf(r->vr.err, sizeof(r->vr.err), "unexpected descriptor format "
			 "for RX: out %u, in %u", c->nout, c->nin);
		s->k++;
		return -EINVAL;
	}
	s->segs += c->nin;
	s->cap += c->in_len;
	s->k++;
	return 0;
}

/* Copies len bytes between buf and the writable stream of chains [0, k)
 * starting at byte off. */
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
		ret = to_guest ? usv_chain_write(c, (uint32_t)off, p, n, r->vr.mem)
			       : usv_chain_read_in(c, (uint32_t)off, p, n, r->vr.mem);
		if (ret)
			return ret;
		p += n;
		len -= n;
		off = 0;
	}
	return len ? -EFAULT : 0;
}

/* iovecs over the taken chains' writable bytes from skip on, if all mapped. */
static unsigned direct_iov(struct usv_dp_ring *r, unsigned k, uint32_t skip,
			   struct iovec *iov, unsigned max)
{
	unsigned n = 0;

	for (unsigned j = 0; j < k; j++) {
		const struct usv_chain *c = &r->chains[j];

		for (unsigned i = c->nout; i < c->nout + c->nin; i++) {
			const struct usv_seg *sg = &c->seg[i];

			if (skip >= sg->len) {
				skip -= sg->len;
				continue;
			}
			if (!sg->local || n == max)
				return 0;
			iov[n++] = (struct iovec){ .iov_base = (uint8_t *)sg->local + skip,
						   .iov_len = sg->len - skip };
			skip = 0;
		}
	}
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
	{
		struct pollfd pfd = { .fd = r->backend_fd, .events = POLLIN };

		if (poll(&pfd, 1, 0) <= 0 || !(pfd.revents & POLLIN))
			return 0;
	}
	n = readv(r->backend_fd, iov, (int)cnt);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	return n;
}

bool usv_dp_handle_rx(struct usv_dp_ring *r)
{
	uint32_t hlen = r->vhost_hlen; /* header we write; the tap's is in the frame */
	unsigned used = 0, pkts = 0;
	uint64_t bytes = 0;
	bool more = false;

	usv_vring_disable_notify(&r->vr);
	for (;;) {
		struct rx_state s = { 0 };
		struct iovec iov[1024];
		uint64_t total, placed = 0;
		uint32_t frame, want;
		unsigned cnt = 0;
		ssize_t n;
		int ret = 0;

		/* Guest buffers first: without them the frame stays in the tap. */
		want = r->pending_len ? hlen + r->pending_len : RX_FIRST_GUESS;
		while ((s.k == 0 || (r->mergeable && s.cap < want)) &&
		       (ret = take_chain(r, &s)) == 0)
			;
		if (ret && ret != -EAGAIN) {
			usv_dp_ring_broken(r);
			break;
		}
		if (s.k == 0) {
			if (usv_vring_enable_notify(&r->vr)) {
				usv_vring_disable_notify(&r->vr);
				continue;
			}
			break;
		}
		if (r->pending_len) {
			frame = r->pending_len;
		} else {
			cnt = direct_iov(r, s.k, hlen, iov, 1023);
			if (cnt) { /* into the guest, overflow to scratch */
				iov[cnt++] = (struct iovec){ .iov_base = r->scratch,
							     .iov_len = USV_DP_FRAME_MAX };
			} else {
				iov[0] = (struct iovec){ .iov_base = r->scratch,
							 .iov_len = USV_DP_FRAME_MAX };
				cnt = 1;
			}
			n = tap_read(r, iov, cnt);
			if (n == 0 && usv_dp_busy_poll(r))
				n = tap_read(r, iov, cnt);
			if (n <= 0) {
				usv_vring_unpop(&r->vr, s.k);
				if (n < 0) {
					usv_dp_count(&r->st.errors, 1);
					usv_warn("dev %u: vq %u: tap read: %s", r->dev->handle,
						 r->idx, strerror((int)-n));
				}
				break; /* empty: the tap's poll brings us back */
			}
			frame = (uint32_t)n;
			if (cnt > 1)
				placed = s.cap - hlen < frame ? s.cap - hlen : frame;
		}
		total = (uint64_t)hlen + frame;
		/* Mergeable: take as many more chains as the frame needs. */
		while (r->mergeable && s.cap < total && (ret = take_chain(r, &s)) == 0)
			;
		if (ret && ret != -EAGAIN) {
			usv_dp_ring_broken(r);
			break;
		}
		if (s.cap < total) {
			if (!r->mergeable) {
				/* The kernel discards such a frame too. */
				usv_dp_count(&r->st.drops, 1);
				usv_vring_unpop(&r->vr, s.k);
				r->pending_len = 0;
				continue;
			}
			/* Hold the frame until the guest adds buffers. */
			if (!r->pending_len) {
				if (placed && stream_copy(r, s.k, hlen, r->pending, (uint32_t)placed, false)) {
					usv_dp_ring_broken(r);
					break;
				}
				memcpy(r->pending + placed, r->scratch, frame - placed);
				r->pending_len = frame;
			}
			usv_vring_unpop(&r->vr, s.k);
			if (usv_vring_enable_notify(&r->vr)) {
				usv_vring_disable_notify(&r->vr);
				continue;
			}
			break;
		}
		/* Put what is not in the guest yet where it belongs. */
		{
			/* The rest is in scratch (after what the read put in the
			 * guest), or the whole frame is the held one. */
			uint8_t *rest = r->pending_len ? r->pending : r->scratch;

			if (frame > placed &&
			    stream_copy(r, s.k, hlen + placed, rest,
					frame - (uint32_t)placed, true)) {
				usv_dp_ring_broken(r);
				break;
			}
		}
		r->pending_len = 0;
		/* The chains this frame used; the rest go back. */
		{
			uint64_t left = total;
			unsigned k_used = 0;

			while (left) {
				uint32_t l = r->chains[k_used].in_len < left ?
						     r->chains[k_used].in_len : (uint32_t)left;

				r->heads[used] = r->chains[k_used].head;
				r->lens[used] = l;
				usv_vring_log_chain(&r->vr, &r->chains[k_used], l);
				left -= l;
				k_used++;
				used++;
			}
			usv_vring_unpop(&r->vr, s.k - k_used);
			if (hlen) {
				uint8_t hdr[12] = { 0 };
				uint16_t nb = (uint16_t)k_used;

				if (r->mergeable)
					memcpy(hdr + NUM_BUFFERS_OFF, &nb, sizeof(nb));
				ret = stream_copy(r, k_used, 0, hdr, hlen, true);
			} else if (r->mergeable && r->sock_hlen >= 12) {
				uint16_t nb = (uint16_t)k_used;

				ret = stream_copy(r, k_used, NUM_BUFFERS_OFF, &nb, sizeof(nb), true);
			}
			if (ret) {
				usv_dp_ring_broken(r);
				break;
			}
		}
		pkts++;
		bytes += frame;
		if (used >= USV_DP_BATCH && usv_dp_flush_used(r, &used))
			return false;
		if (pkts >= USV_DP_WEIGHT_PKTS || bytes >= USV_DP_WEIGHT_BYTES) {
			more = true;
			break;
		}
	}
	if (!r->broken)
		usv_dp_flush_used(r, &used);
	usv_dp_count(&r->st.packets, pkts);
	usv_dp_count(&r->st.bytes, bytes);
	return more;
}
