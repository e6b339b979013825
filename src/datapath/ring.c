/* SPDX-License-Identifier: MIT */
/*
 * The ring helpers, vhost.c's share of a virtqueue: starting, updating and
 * stopping a ring in its worker, publishing used entries, vq_err(), busy
 * polling and the weight. The net handlers (net_tx.c, net_rx.c) use them.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/iotlb.h"
#include "core/log.h"
#include "datapath/dp_internal.h"

#define POLL_KICK (1u << USV_TAG_KICK)
#define POLL_TAP (1u << USV_TAG_TAP)

void usv_dp_ring_error(struct usv_dp_ring *r, const char *fmt, ...)
{
	char why[sizeof(r->vr.err) + 32];
	va_list ap;
	bool signalled;

	if (r->broken)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	r->broken = true;
	usv_dp_count(&r->st.errors, 1);
	/* A stopped ring needs no more wake-ups. */
	usv_dp_poll_cancel(r, USV_TAG_KICK);
	usv_dp_poll_cancel(r, USV_TAG_TAP);
	signalled = usv_dp_sig_raise(&r->err);
	usv_warn("dev %u: vq %u stopped: %s (ERR eventfd %s)", r->devno, r->idx,
		 why, signalled ? "signalled" : r->err.fd >= 0 ? "not signalled" : "not set");
	usv_ring_report_error(r->dev, r->idx, why);
}

int usv_dp_flush_used(struct usv_dp_ring *r, unsigned *n)
{
	int ret;

	if (!*n)
		return 0;
	ret = usv_vringh_push(&r->vr, r->heads, r->lens, *n);
	*n = 0;
	if (ret) {
		usv_dp_ring_error(r, "%s", r->vr.err[0] ? r->vr.err : "guest memory fault");
		return -EFAULT;
	}
	usv_dp_signal_log(r);
	if (usv_vringh_need_signal(&r->vr))
		usv_dp_signal(r);
	return 0;
}

void usv_dp_iotlb_miss(struct usv_dp_ring *r)
{
	if (!r->vr.miss)
		return; /* a range without the access: not asked for */
	r->vr.miss = false;
	r->iotlb_wait = true;
	if (usv_ring_report_miss(r->dev, r->idx, r->vr.miss_iova, r->vr.miss_access,
				 r->iotlb_v2))
		usv_dbg("dev %u: vq %u: IOTLB miss at 0x%llx not queued", r->devno, r->idx,
			(unsigned long long)r->vr.miss_iova);
	else
		usv_dbg("dev %u: vq %u: IOTLB miss at 0x%llx (%s) asked for", r->devno, r->idx,
			(unsigned long long)r->vr.miss_iova,
			r->vr.miss_access == USV_IOTLB_WO ? "write" : "read");
}

bool usv_dp_iotlb_ready(struct usv_dp_ring *r)
{
	if (r->iotlb_nomem) {
		usv_dp_ring_error(r, "no memory for a copy of the device IOTLB");
		return false;
	}
	if (!usv_vringh_prefetch(&r->vr))
		return true;
	usv_dp_iotlb_miss(r);
	return false;
}

bool usv_dp_exceeds_weight(unsigned pkts, uint64_t bytes, uint64_t descs)
{
	return pkts >= USV_DP_WEIGHT_PKTS || bytes >= USV_DP_WEIGHT_BYTES ||
	       descs >= USV_DP_WEIGHT_DESCS;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

static bool before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* vhost_net_busy_poll(): spins while nothing else is waiting, as the kernel
 * stops on vhost_has_work() and need_resched() (and then requeues the
 * ring); another ring already queued ends the spin without a requeue. The
 * worker is the device's own, so a long timeout burns only that device's
 * thread. */
enum usv_dp_busy usv_dp_busy_poll(struct usv_dp_ring *r)
{
	struct timespec now, end;

	if (!r->busyloop_us)
		return USV_DP_BUSY_NONE;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_nsec += (long)(r->busyloop_us % 1000000) * 1000;
	end.tv_sec += r->busyloop_us / 1000000 + end.tv_nsec / 1000000000;
	end.tv_nsec %= 1000000000;
	do {
		/* Our own work first: its arrival also posts a completion. */
		if (r->idx == USV_VQ_TX) {
			if (usv_vringh_has_avail(&r->vr))
				return USV_DP_BUSY_FOUND;
		} else {
			struct pollfd pfd = { .fd = r->backend_fd, .events = POLLIN };

			if (poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN))
				return USV_DP_BUSY_FOUND;
		}
		if (usv_dp_worker_has_work(r->w))
			return USV_DP_BUSY_YIELD;
		/* Another ring waits for its go: stop spinning and let it
		 * run. Yielding to it would requeue this ring, and two idle
		 * rings that yield to each other take turns forever. */
		if (r->w->work_head)
			return USV_DP_BUSY_NONE;
		cpu_relax();
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (before(&now, &end));
	return USV_DP_BUSY_NONE;
}

/* Copies what the control plane set into the ring (worker context). */
static void load_ring(struct usv_dp_ring *r, unsigned what, const struct usv_ring_config *cfg)
{
	if (what & (USV_RING_ADDR | USV_RING_FEATURES)) {
		usv_vringh_setup(&r->vr, cfg->mem, cfg->num, cfg->desc, cfg->avail, cfg->used,
				 cfg->features);
		r->vr.log_used = cfg->log_used;
		r->vr.log_addr = cfg->log_addr;
		r->vhost_hlen = cfg->vhost_hlen;
		r->sock_hlen = cfg->sock_hlen;
		r->mergeable = (cfg->features >> USV_F_NET_MRG_RXBUF) & 1;
	}
	if (what & USV_RING_MEM)
		usv_vringh_remap(&r->vr, cfg->mem);
	if (what & USV_RING_IOTLB) {
		/* Our own copy: the core changes its table while we run. */
		int ret = 0;

		if (cfg->iotlb) {
			if (!r->tlb)
				r->tlb = usv_iotlb_new(0);
			ret = r->tlb ? usv_iotlb_assign(r->tlb, cfg->iotlb) : -ENOMEM;
		}
		r->iotlb_nomem = ret != 0;
		usv_vringh_set_iotlb(&r->vr, cfg->iotlb && !ret ? r->tlb : NULL);
	}
	r->iotlb_v2 = cfg->backend_features & USV_BIT(USV_BACKEND_F_IOTLB_MSG_V2);
	if (what & USV_RING_CALL)
		usv_dp_sig_set(&r->call, cfg->call_fd);
	if (what & USV_RING_ERR)
		usv_dp_sig_set(&r->err, cfg->err_fd);
	if (what & USV_RING_LOG) {
		r->vr.log.base = cfg->log_base;
		r->vr.log.fd = cfg->log_fd;
		r->vr.log.memfd = cfg->owner_memfd;
		r->vr.log.lock = &r->loglock->lock;
		usv_dp_sig_set(&r->log, cfg->log_fd);
	}
	if (what & USV_RING_BUSYLOOP)
		r->busyloop_us = cfg->busyloop_us;
}

void usv_dp_ring_start(struct usv_dp_ring *r, const struct usv_ring_config *cfg)
{
	memset(&r->vr, 0, sizeof(r->vr));
	r->vr.desc_snap = r->desc_snap;
	r->vr.desc_snap_cap = sizeof(r->desc_snap);
	r->kick_fd = cfg->kick_fd;
	r->backend_fd = cfg->backend_fd;
	r->backend_sock = cfg->backend_packet;
	load_ring(r, ~0u, cfg);
	r->vr.last_avail_idx = r->vr.avail_idx = cfg->base.last_avail_idx;
	r->vr.last_used_idx = cfg->base.last_used_idx;
	r->vr.used_flags = cfg->base.used_flags;
	r->broken = false;
	r->iotlb_wait = false;
	r->running = true;
	r->nowait_unsupported = false;
	r->read_err_logged = false;
	r->pending_len = 0;
	r->tx.n = r->tx.inflight = 0;
	r->tx.arena_used = 0;
	r->tx_linked = false;
	r->tx_direct = false;
	pthread_mutex_lock(&r->dp->lock);
	snprintf(r->backend_name, sizeof(r->backend_name), "%s", cfg->backend_name);
	pthread_mutex_unlock(&r->dp->lock);
	if (r->kick_fd >= 0)
		usv_dp_poll_arm(r, USV_TAG_KICK);
	if (r->idx == USV_VQ_RX)
		usv_dp_poll_arm(r, USV_TAG_TAP);
	/* Buffers may be waiting already, as the kernel's poll start finds. */
	usv_dp_queue(r);
}

void usv_dp_ring_sync(struct usv_dp_ring *r, struct usv_ring_base *base)
{
	base->last_avail_idx = r->vr.last_avail_idx;
	base->avail_idx = r->vr.avail_idx;
	base->last_used_idx = r->vr.last_used_idx;
	base->used_flags = r->vr.used_flags;
}

void usv_dp_ring_stop(struct usv_dp_ring *r, struct usv_ring_base *base)
{
	char line[256];

	r->running = false;
	usv_dp_poll_cancel(r, USV_TAG_KICK);
	usv_dp_poll_cancel(r, USV_TAG_TAP);
	usv_dp_poll_drain(r, POLL_KICK | POLL_TAP);
	/* Writes in flight finish (or are cancelled) and are published, so
	 * GET_VRING_BASE after the stop is exact. */
	if (r->quiesce)
		r->quiesce(r);
	usv_dp_sig_quiesce(&r->call);
	usv_dp_sig_quiesce(&r->err);
	usv_dp_sig_quiesce(&r->log);
	if (r->pending_len) {
		usv_dp_count(&r->st.drops, 1); /* read from the tap, never delivered */
		r->pending_len = 0;
	}
	usv_dp_ring_sync(r, base);
	usv_dp_unqueue(r);
	usv_dp_stats_line(r, line, sizeof(line));
	usv_info("dev %u: vq %u %s: %s", r->devno, r->idx,
		 r->idx == USV_VQ_RX ? "rx" : "tx", line);
	/* After a stall this says who waits for whom: a guest that posted
	 * past an avail_event it was never kicked for, or a device past
	 * used_event without an interrupt. */
	usv_vringh_describe(&r->vr, line, sizeof(line));
	usv_info("dev %u: vq %u ring at stop: %s", r->devno, r->idx, line);
}

void usv_dp_ring_update(struct usv_dp_ring *r, unsigned what,
			const struct usv_ring_config *cfg)
{
	/* Nothing in flight may use the memory or ring being replaced: the
	 * core frees them when we return. */
	if ((what & (USV_RING_MEM | USV_RING_ADDR | USV_RING_FEATURES | USV_RING_IOTLB)) &&
	    r->quiesce)
		r->quiesce(r);
	if (what & USV_RING_KICK) {
		usv_dp_poll_cancel(r, USV_TAG_KICK);
		usv_dp_poll_drain(r, POLL_KICK);
		r->kick_fd = cfg->kick_fd;
		if (r->kick_fd >= 0 && !r->broken)
			usv_dp_poll_arm(r, USV_TAG_KICK);
	}
	load_ring(r, what, cfg);
	/* A ring resumed after a hand-over: an interrupt for used entries the
	 * guest may not have been told of is harmless, a lost one stalls it. */
	if ((what & USV_RING_SIGNAL) && !r->broken)
		usv_dp_signal(r);
	usv_dp_queue(r); /* a new address or fd may have work behind it */
}
