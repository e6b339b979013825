/* SPDX-License-Identifier: MIT */
/*
 * Worker threads: one io_uring each, polling kick eventfds and taps
 * (multishot), applying the control plane's messages, and running the net
 * handlers in turn. An idle worker sleeps in io_uring_enter: an idle guest
 * costs no CPU.
 */
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/observer.h"
#include "datapath/dp.h"

static uint64_t tag(void *p, unsigned t)
{
	return (uint64_t)(uintptr_t)p | t;
}

static struct io_uring_sqe *get_sqe(struct usv_worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->uring);

	if (!sqe) { /* full: hand what we have to the kernel and retry */
		io_uring_submit(&w->uring);
		sqe = io_uring_get_sqe(&w->uring);
	}
	return sqe;
}

static void arm_poll(struct usv_worker *w, struct usv_dp_ring *r, int fd, unsigned t)
{
	struct io_uring_sqe *sqe = get_sqe(w);

	if (!sqe) {
		usv_err("dev %u: vq %u: io_uring full, cannot poll fd %d",
			r->dev->handle, r->idx, fd);
		return;
	}
	io_uring_prep_poll_multishot(sqe, fd, POLLIN);
	io_uring_sqe_set_data64(sqe, tag(r, t) + 0);
	if (t == USV_TAG_KICK)
		r->kick_tag = tag(r, t);
	else
		r->tap_tag = tag(r, t);
	r->polls++;
}

static void cancel_poll(struct usv_worker *w, uint64_t user_data)
{
	struct io_uring_sqe *sqe = get_sqe(w);

	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, user_data, 0);
	io_uring_sqe_set_data64(sqe, tag(w, USV_TAG_CANCEL));
}

void usv_dp_queue(struct usv_dp_ring *r)
{
	struct usv_worker *w = r->w;

	if (r->queued || !r->running || r->broken)
		return;
	r->queued = true;
	r->next_work = NULL;
	*w->work_tail = r;
	w->work_tail = &r->next_work;
}

/* Routes one completion: polls queue work, messages get applied. */
static void route(struct usv_worker *w, struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	unsigned t = ud & USV_TAG_MASK;
	void *p = (void *)(uintptr_t)(ud & ~(uint64_t)USV_TAG_MASK);

	switch (t) {
	case USV_TAG_KICK:
	case USV_TAG_TAP: {
		struct usv_dp_ring *r = p;

		if (!(cqe->flags & IORING_CQE_F_MORE)) {
			r->polls--;
			/* A multishot poll may end on its own (overflow): re-arm.
			 * One that failed on its fd is reported, not retried. */
			if (cqe->res < 0 && cqe->res != -ECANCELED)
				usv_warn("dev %u: vq %u: %s poll failed: %s", r->dev->handle,
					 r->idx, t == USV_TAG_KICK ? "kick" : "tap",
					 strerror(-cqe->res));
			else if (cqe->res >= 0 && r->running && !r->broken)
				arm_poll(w, r, t == USV_TAG_KICK ? r->kick_fd : r->backend_fd, t);
		}
		if (cqe->res > 0 && r->running) {
			if (t == USV_TAG_KICK)
				usv_dp_count(&r->st.kicks, 1);
			usv_dp_queue(r);
		}
		break;
	}
	case USV_TAG_TXW: {
		struct usv_dp_txslot *s = p;

		s->res = cqe->res;
		s->ring = NULL; /* completed */
		break;
	}
	case USV_TAG_CTL: {
		uint64_t v;

		if (read(w->ctl_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			usv_err("worker %u: control eventfd: %s", w->id, strerror(errno));
		if (!(cqe->flags & IORING_CQE_F_MORE)) {
			struct io_uring_sqe *sqe = get_sqe(w);

			if (sqe) {
				io_uring_prep_poll_multishot(sqe, w->ctl_fd, POLLIN);
				io_uring_sqe_set_data64(sqe, tag(w, USV_TAG_CTL));
			}
		}
		/* Applied between two goes at the rings, never inside one. */
		w->msgs = true;
		break;
	}
	default: /* cancel results */
		break;
	}
}

int usv_dp_wait_one(struct usv_worker *w)
{
	struct io_uring_cqe *cqe;
	int ret = io_uring_submit(&w->uring);

	if (ret < 0 && ret != -EINTR && ret != -EBUSY)
		return ret;
	/* Sleep in poll(2) on the ring rather than in io_uring_enter(): the
	 * same wake-ups, and tools that serialise threads (valgrind) know
	 * poll blocks. */
	if (io_uring_peek_cqe(&w->uring, &cqe) != 0) {
		struct pollfd pfd = { .fd = w->uring.ring_fd, .events = POLLIN };

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return -errno;
	}
	while (io_uring_peek_cqe(&w->uring, &cqe) == 0) {
		struct io_uring_cqe copy = *cqe;

		io_uring_cqe_seen(&w->uring, cqe);
		route(w, &copy);
	}
	return 0;
}

/* Waits until every poll of r has completed (after cancellation). */
static void drain_polls(struct usv_worker *w, struct usv_dp_ring *r)
{
	while (r->polls > 0)
		if (usv_dp_wait_one(w))
			break;
}

void usv_dp_signal(struct usv_dp_ring *r)
{
	uint64_t one = 1;

	if (r->call_fd < 0)
		return;
	if (write(r->call_fd, &one, sizeof(one)) == sizeof(one))
		usv_dp_count(&r->st.interrupts, 1);
}

int usv_dp_flush_used(struct usv_dp_ring *r, unsigned *n)
{
	int ret = 0;

	if (!*n)
		return 0;
	if (usv_vring_push(&r->vr, r->heads, r->lens, *n)) {
		usv_dp_ring_broken(r);
		ret = -EFAULT;
	} else if (usv_vring_need_signal(&r->vr)) {
		usv_dp_signal(r);
	}
	*n = 0;
	return ret;
}

void usv_dp_ring_broken(struct usv_dp_ring *r)
{
	uint64_t one = 1;

	if (r->broken)
		return;
	r->broken = true;
	usv_dp_count(&r->st.errors, 1);
	usv_warn("dev %u: vq %u stopped: %s (ERR eventfd %s)", r->dev->handle, r->idx,
		 r->vr.err[0] ? r->vr.err : "guest memory fault",
		 r->err_fd >= 0 ? "signalled" : "not set");
	usv_dev_observe_ring_error(r->dev, r->idx,
				   r->vr.err[0] ? r->vr.err : "guest memory fault");
	if (r->err_fd >= 0 && write(r->err_fd, &one, sizeof(one)) < 0)
		usv_warn("dev %u: vq %u: ERR eventfd: %s", r->dev->handle, r->idx,
			 strerror(errno));
}

bool usv_dp_busy_poll(struct usv_dp_ring *r)
{
	struct timespec now, end;

	if (!r->busyloop_us)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_nsec += (long)(r->busyloop_us % 1000000) * 1000;
	end.tv_sec += r->busyloop_us / 1000000 + end.tv_nsec / 1000000000;
	end.tv_nsec %= 1000000000;
	do {
		if (r->idx == USV_VQ_TX) {
			if (usv_vring_has_avail(&r->vr))
				return true;
		} else {
			struct pollfd pfd = { .fd = r->backend_fd, .events = POLLIN };

			if (poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN))
				return true;
		}
		if (__atomic_load_n(&r->w->mhead, __ATOMIC_RELAXED))
			return false; /* the control plane is waiting */
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec < end.tv_sec ||
		 (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec));
	return false;
}

/* Copies what the control plane set into the ring (worker context). */
static void load_ring(struct usv_dp_ring *r, unsigned what)
{
	struct usv_dev *dev = r->dev;
	struct usv_vq *vq = &dev->vqs[r->idx];

	if (what & (USV_RING_ADDR | USV_RING_FEATURES)) {
		usv_vring_setup(&r->vr, dev->mem, vq->num, vq->desc, vq->avail, vq->used,
				dev->acked_features[0]);
		r->vr.log_used = vq->log_used;
		r->vr.log_addr = vq->log_addr;
		r->vhost_hlen = vq->vhost_hlen;
		r->sock_hlen = vq->sock_hlen;
		r->mergeable = usv_dev_has_feature(dev, USV_F_NET_MRG_RXBUF);
	}
	if (what & USV_RING_MEM)
		usv_vring_remap(&r->vr, dev->mem);
	if (what & USV_RING_CALL)
		r->call_fd = vq->call_fd;
	if (what & USV_RING_ERR)
		r->err_fd = vq->err_fd;
	if (what & USV_RING_LOG) {
		r->vr.log.base = vq->log_base;
		r->vr.log.fd = dev->log_fd;
		r->vr.log.tgid = dev->owner.tgid;
		r->vr.log.lock = &r->w->dp->log_lock;
	}
	if (what & USV_RING_BUSYLOOP)
		r->busyloop_us = vq->busyloop_timeout;
}

static void start_ring(struct usv_worker *w, struct usv_dp_ring *r)
{
	struct usv_vq *vq = &r->dev->vqs[r->idx];

	memset(&r->vr, 0, sizeof(r->vr));
	r->tgid = r->dev->owner.tgid;
	r->kick_fd = vq->kick_fd;
	r->backend_fd = vq->backend_fd;
	load_ring(r, ~0u);
	r->vr.last_avail_idx = r->vr.avail_idx = vq->last_avail_idx;
	r->vr.last_used_idx = vq->last_used_idx;
	r->vr.used_flags = vq->used_flags;
	r->broken = false;
	r->running = true;
	r->nowait_unsupported = false;
	r->pending_len = 0;
	pthread_mutex_lock(&w->dp->lock);
	snprintf(r->backend_name, sizeof(r->backend_name), "%s%s%s",
		 usv_fd_kind_name(vq->backend.kind), vq->backend.ifname[0] ? ":" : "",
		 vq->backend.ifname);
	pthread_mutex_unlock(&w->dp->lock);
	if (r->kick_fd >= 0)
		arm_poll(w, r, r->kick_fd, USV_TAG_KICK);
	if (r->idx == USV_VQ_RX)
		arm_poll(w, r, r->backend_fd, USV_TAG_TAP);
	/* Buffers may be waiting already, as the kernel's poll start finds. */
	usv_dp_queue(r);
}

static void unqueue(struct usv_worker *w, struct usv_dp_ring *r)
{
	struct usv_dp_ring **p;

	if (!r->queued)
		return;
	for (p = &w->work_head; *p; p = &(*p)->next_work) {
		if (*p == r) {
			*p = r->next_work;
			break;
		}
	}
	w->work_tail = &w->work_head;
	while (*w->work_tail)
		w->work_tail = &(*w->work_tail)->next_work;
	r->queued = false;
}

static void sync_ring(struct usv_dp_ring *r)
{
	struct usv_vq *vq = &r->dev->vqs[r->idx];

	vq->last_avail_idx = r->vr.last_avail_idx;
	vq->avail_idx = r->vr.avail_idx;
	vq->last_used_idx = r->vr.last_used_idx;
	vq->used_flags = r->vr.used_flags;
}

static void stop_ring(struct usv_worker *w, struct usv_dp_ring *r)
{
	r->running = false;
	if (r->kick_tag && r->polls)
		cancel_poll(w, r->kick_tag);
	if (r->idx == USV_VQ_RX && r->polls)
		cancel_poll(w, r->tap_tag);
	drain_polls(w, r);
	unqueue(w, r);
	if (r->pending_len) {
		usv_dp_count(&r->st.drops, 1); /* read from the tap, never delivered */
		r->pending_len = 0;
	}
	sync_ring(r);
	{
		char line[256];

		usv_dp_stats_line(r, line, sizeof(line));
		usv_info("dev %u: vq %u %s: %s", r->dev->handle, r->idx,
			 r->idx == USV_VQ_RX ? "rx" : "tx", line);
		/* After a stall this says who waits for whom. */
		usv_vring_describe(&r->vr, line, sizeof(line));
		usv_info("dev %u: vq %u ring at stop: %s", r->dev->handle, r->idx, line);
	}
}

static void update_ring(struct usv_worker *w, struct usv_dp_ring *r, unsigned what)
{
	if (what & USV_RING_KICK) {
		struct usv_vq *vq = &r->dev->vqs[r->idx];
		unsigned tap_polls = r->idx == USV_VQ_RX ? 1 : 0;

		if (r->polls > tap_polls) {
			cancel_poll(w, r->kick_tag);
			while (r->polls > tap_polls && !usv_dp_wait_one(w))
				;
		}
		r->kick_fd = vq->kick_fd;
		if (r->kick_fd >= 0)
			arm_poll(w, r, r->kick_fd, USV_TAG_KICK);
	}
	load_ring(r, what);
	usv_dp_queue(r); /* a new address or fd may have work behind it */
}

static void apply_messages(struct usv_worker *w)
{
	for (;;) {
		struct usv_dp_msg *m;

		pthread_mutex_lock(&w->mlock);
		m = w->mhead;
		if (m) {
			w->mhead = m->next;
			if (!w->mhead)
				w->mtail = &w->mhead;
		}
		pthread_mutex_unlock(&w->mlock);
		if (!m)
			return;
		m->result = 0;
		switch (m->type) {
		case USV_DP_START:
			start_ring(w, m->ring);
			break;
		case USV_DP_STOP:
			stop_ring(w, m->ring);
			break;
		case USV_DP_UPDATE:
			update_ring(w, m->ring, m->what);
			break;
		case USV_DP_SYNC:
			sync_ring(m->ring);
			break;
		case USV_DP_QUIT:
			w->quit = true;
			break;
		}
		pthread_mutex_lock(&w->mlock);
		m->done = true;
		pthread_cond_broadcast(&w->mcond);
		pthread_mutex_unlock(&w->mlock);
	}
}

/* Control thread side: post a message and wait until it is applied. */
static int send_msg(struct usv_worker *w, enum usv_dp_msg_type type,
		    struct usv_dp_ring *r, unsigned what)
{
	struct usv_dp_msg m = { .type = type, .ring = r, .what = what };
	uint64_t one = 1;

	pthread_mutex_lock(&w->mlock);
	*w->mtail = &m;
	w->mtail = &m.next;
	pthread_mutex_unlock(&w->mlock);
	if (write(w->ctl_fd, &one, sizeof(one)) != sizeof(one))
		usv_err("worker %u: cannot wake: %s", w->id, strerror(errno));
	pthread_mutex_lock(&w->mlock);
	while (!m.done)
		pthread_cond_wait(&w->mcond, &w->mlock);
	pthread_mutex_unlock(&w->mlock);
	return m.result;
}

static void *worker_main(void *arg)
{
	struct usv_worker *w = arg;
	char name[16];

	snprintf(name, sizeof(name), "usv-worker%u", w->id);
	pthread_setname_np(pthread_self(), name);
	while (!w->quit) {
		struct usv_dp_ring *r;

		if (w->msgs) {
			w->msgs = false;
			apply_messages(w);
			continue;
		}
		r = w->work_head;
		if (!r) {
			if (usv_dp_wait_one(w))
				usv_err("worker %u: io_uring wait failed", w->id);
			continue;
		}
		/* Pick up new completions without sleeping, then one go at the
		 * first ring; a ring with work left goes to the back. */
		io_uring_submit(&w->uring);
		{
			struct io_uring_cqe *cqe;

			while (io_uring_peek_cqe(&w->uring, &cqe) == 0) {
				struct io_uring_cqe copy = *cqe;

				io_uring_cqe_seen(&w->uring, cqe);
				route(w, &copy);
			}
		}
		if (w->work_head != r)
			continue;
		w->work_head = r->next_work;
		if (!w->work_head)
			w->work_tail = &w->work_head;
		r->queued = false;
		if (!r->running || r->broken)
			continue;
		if (r->idx == USV_VQ_TX ? usv_dp_handle_tx(r) : usv_dp_handle_rx(r))
			usv_dp_queue(r);
	}
	return NULL;
}

/* --- placement and the ops table ----------------------------------------- */

static int memory_node(const struct usv_dev *dev)
{
	int node = -1;

	for (uint32_t i = 0; dev->mem && i < dev->mem->nregions; i++) {
		const struct usv_mem_region *reg = &dev->mem->regions[i];

		if (reg->local &&
		    get_mempolicy(&node, NULL, 0, reg->local, MPOL_F_NODE | MPOL_F_ADDR) == 0)
			return node;
	}
	return -1;
}

static struct usv_dp_dev *dp_dev_get(struct usv_dp *dp, struct usv_dev *dev)
{
	struct usv_dp_dev *d = dev->vqs[0].dp_priv;
	struct usv_worker *best = NULL;
	int node;

	if (d)
		return d;
	node = dp->numa ? memory_node(dev) : -1;
	if (dp->numa && node >= 0) {
		d = numa_alloc_onnode(sizeof(*d), node);
		if (d)
			memset(d, 0, sizeof(*d));
	}
	if (d) {
		d->numa_alloc = true;
	} else {
		d = calloc(1, sizeof(*d));
		if (!d)
			return NULL;
	}
	d->dp = dp;
	d->node = node;
	d->handle = dev->handle;
	pthread_mutex_lock(&dp->lock);
	/* The least loaded worker, preferring the memory's node. */
	for (unsigned i = 0; i < dp->nworkers; i++) {
		struct usv_worker *w = &dp->workers[i];
		bool w_near = node < 0 || w->node == node;
		bool b_near = best && (node < 0 || best->node == node);

		if (!best || (w_near && !b_near) ||
		    (w_near == b_near && w->nrings < best->nrings))
			best = w;
	}
	d->w = best;
	best->nrings++;
	d->next = dp->devs;
	dp->devs = d;
	pthread_mutex_unlock(&dp->lock);
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		struct usv_dp_ring *r = &d->ring[i];

		r->w = best;
		r->dev = dev;
		r->idx = i;
		r->kick_fd = r->call_fd = r->err_fd = r->backend_fd = -1;
	}
	dev->vqs[0].dp_priv = d; /* both rings point at the device's state */
	dev->vqs[1].dp_priv = d;
	return d;
}

static int alloc_buffers(struct usv_dp_ring *r)
{
	if (r->segs)
		return 0;
	r->segs = calloc(USV_DP_SEG_POOL, sizeof(*r->segs));
	r->chains = calloc(USV_DP_MAX_CHAINS, sizeof(*r->chains));
	r->scratch = malloc(USV_DP_FRAME_MAX);
	r->pending = r->idx == USV_VQ_RX ? malloc(USV_DP_FRAME_MAX) : NULL;
	if (!r->segs || !r->chains || !r->scratch || (r->idx == USV_VQ_RX && !r->pending))
		return -ENOMEM;
	return 0;
}

static int op_ring_start(void *ctx, struct usv_dev *dev, unsigned idx)
{
	struct usv_dp_dev *d = dp_dev_get(ctx, dev);
	int ret;

	if (!d)
		return -ENOMEM;
	ret = alloc_buffers(&d->ring[idx]);
	if (ret)
		return ret;
	return send_msg(d->w, USV_DP_START, &d->ring[idx], 0);
}

static void op_ring_stop(void *ctx, struct usv_dev *dev, unsigned idx)
{
	struct usv_dp_dev *d = dev->vqs[0].dp_priv;

	(void)ctx;
	if (d && d->ring[idx].running)
		send_msg(d->w, USV_DP_STOP, &d->ring[idx], 0);
}

static void op_ring_update(void *ctx, struct usv_dev *dev, unsigned idx, unsigned what)
{
	struct usv_dp_dev *d = dev->vqs[0].dp_priv;

	(void)ctx;
	if (d && d->ring[idx].running)
		send_msg(d->w, USV_DP_UPDATE, &d->ring[idx], what);
}

static void op_ring_sync(void *ctx, struct usv_dev *dev, unsigned idx)
{
	struct usv_dp_dev *d = dev->vqs[0].dp_priv;

	(void)ctx;
	if (d && d->ring[idx].running)
		send_msg(d->w, USV_DP_SYNC, &d->ring[idx], 0);
}

static void op_dev_free(void *ctx, struct usv_dev *dev)
{
	struct usv_dp *dp = ctx;
	struct usv_dp_dev *d = dev->vqs[0].dp_priv, **p;

	if (!d)
		return;
	pthread_mutex_lock(&dp->lock);
	for (p = &dp->devs; *p; p = &(*p)->next) {
		if (*p == d) {
			*p = d->next;
			break;
		}
	}
	d->w->nrings--;
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		struct usv_dp_stats *t = &dp->retired[i], *s = &d->ring[i].st;

		t->packets += s->packets;
		t->bytes += s->bytes;
		t->kicks += s->kicks;
		t->interrupts += s->interrupts;
		t->drops += s->drops;
		t->errors += s->errors;
	}
	pthread_mutex_unlock(&dp->lock);
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		struct usv_dp_ring *r = &d->ring[i];

		free(r->segs);
		free(r->chains);
		free(r->scratch);
		free(r->pending);
		dev->vqs[i].dp_priv = NULL;
	}
	if (d->numa_alloc)
		numa_free(d, sizeof(*d));
	else
		free(d);
}

static const struct usv_datapath_ops dp_ops = {
	.ring_start = op_ring_start,
	.ring_stop = op_ring_stop,
	.ring_update = op_ring_update,
	.ring_sync = op_ring_sync,
	.dev_free = op_dev_free,
};

const struct usv_datapath_ops *usv_dp_ops(void)
{
	return &dp_ops;
}

unsigned usv_dp_default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 8 ? 8 : (unsigned)n;
}

static int worker_init(struct usv_dp *dp, struct usv_worker *w, unsigned id)
{
	struct io_uring_sqe *sqe;
	int ret;

	w->dp = dp;
	w->id = id;
	w->node = -1;
	w->mtail = &w->mhead;
	w->work_tail = &w->work_head;
	w->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->ctl_fd < 0)
		return -errno;
	pthread_mutex_init(&w->mlock, NULL);
	pthread_cond_init(&w->mcond, NULL);
	ret = io_uring_queue_init(512, &w->uring, 0);
	if (ret) {
		close(w->ctl_fd);
		return ret;
	}
	sqe = io_uring_get_sqe(&w->uring);
	io_uring_prep_poll_multishot(sqe, w->ctl_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, tag(w, USV_TAG_CTL));
	io_uring_submit(&w->uring);
	ret = pthread_create(&w->thread, NULL, worker_main, w);
	if (!ret && dp->numa) {
		/* Spread workers over nodes; pin each to its node's CPUs. */
		struct bitmask *cpus = numa_allocate_cpumask();

		w->node = (int)(id % (unsigned)numa_num_configured_nodes());
		if (cpus && numa_node_to_cpus(w->node, cpus) == 0) {
			cpu_set_t set;

			CPU_ZERO(&set);
			for (unsigned c = 0; c < cpus->size && c < CPU_SETSIZE; c++)
				if (numa_bitmask_isbitset(cpus, c))
					CPU_SET(c, &set);
			pthread_setaffinity_np(w->thread, sizeof(set), &set);
		}
		if (cpus)
			numa_free_cpumask(cpus);
	}
	if (ret) {
		io_uring_queue_exit(&w->uring);
		close(w->ctl_fd);
		return -ret;
	}
	return 0;
}

int usv_dp_create(const struct usv_dp_config *cfg, struct usv_dp **out)
{
	struct usv_dp *dp = calloc(1, sizeof(*dp));
	unsigned n = cfg->workers ? cfg->workers : usv_dp_default_workers();
	int ret;

	if (!dp)
		return -ENOMEM;
	pthread_mutex_init(&dp->lock, NULL);
	pthread_mutex_init(&dp->log_lock, NULL);
	dp->numa = numa_available() >= 0 && numa_num_configured_nodes() > 1;
	dp->stats_sigfd = dp->stats_stop_fd = -1;
	dp->workers = calloc(n, sizeof(*dp->workers));
	if (!dp->workers) {
		ret = -ENOMEM;
		goto fail;
	}
	for (dp->nworkers = 0; dp->nworkers < n; dp->nworkers++) {
		ret = worker_init(dp, &dp->workers[dp->nworkers], dp->nworkers);
		if (ret) {
			usv_err("cannot start worker %u: %s", dp->nworkers, strerror(-ret));
			goto fail;
		}
	}
	if (cfg->stats_path) {
		dp->stats_path = strdup(cfg->stats_path);
		ret = dp->stats_path ? usv_dp_stats_start(dp) : -ENOMEM;
		if (ret)
			goto fail;
	}
	usv_info("datapath: %u io_uring worker%s%s", n, n == 1 ? "" : "s",
		 dp->numa ? ", placed by NUMA node" : "");
	*out = dp;
	return 0;
fail:
	usv_dp_destroy(dp);
	return ret;
}

void usv_dp_destroy(struct usv_dp *dp)
{
	if (!dp)
		return;
	usv_dp_stats_stop(dp);
	for (unsigned i = 0; i < dp->nworkers; i++) {
		struct usv_worker *w = &dp->workers[i];

		send_msg(w, USV_DP_QUIT, NULL, 0);
		pthread_join(w->thread, NULL);
		io_uring_queue_exit(&w->uring);
		close(w->ctl_fd);
		pthread_mutex_destroy(&w->mlock);
		pthread_cond_destroy(&w->mcond);
	}
	free(dp->workers);
	free(dp->stats_path);
	pthread_mutex_destroy(&dp->lock);
	pthread_mutex_destroy(&dp->log_lock);
	free(dp);
}
