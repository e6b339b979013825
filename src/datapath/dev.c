/* SPDX-License-Identifier: MIT */
/*
 * The net device's datapath state: per device its own worker thread (as the
 * kernel's vhost-PID worker; devices never share one), its two rings and
 * their buffers, allocated on the NUMA node of the guest's memory; and the
 * ops table the core calls (start, stop, update, sync, free).
 */
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <stdlib.h>
#include <string.h>

#include "core/iotlb.h"
#include "core/guestmem.h"
#include "core/log.h"
#include "datapath/dp_internal.h"

static int memory_node(const struct usv_guestmem *mem)
{
	int node = -1;

	for (uint32_t i = 0; mem && i < mem->nregions; i++) {
		const struct usv_mem_region *reg = &mem->regions[i];

		if (reg->local &&
		    get_mempolicy(&node, NULL, 0, reg->local, MPOL_F_NODE | MPOL_F_ADDR) == 0)
			return node;
	}
	return -1;
}

static void dp_dev_release(struct usv_dp_dev *d)
{
	for (unsigned i = 0; i < USV_NET_NVQS; i++)
		usv_dp_ring_free(&d->ring[i]);
	if (d->numa_alloc)
		usv_dp_node_free(d, sizeof(*d));
	else
		free(d);
}

/* The state the datapath keeps for the core's device dev, or NULL. */
static struct usv_dp_dev *dp_dev_find(struct usv_dp *dp, const struct usv_dev *dev)
{
	struct usv_dp_dev *d;

	pthread_mutex_lock(&dp->lock);
	for (d = dp->devs; d && d->key != dev; d = d->next)
		;
	pthread_mutex_unlock(&dp->lock);
	return d;
}

/* The device's state and worker, made at its first ring start (*created
 * then says so, for the caller to undo it if that start fails). */
static int dp_dev_get(struct usv_dp *dp, struct usv_dev *dev,
		      const struct usv_ring_config *cfg, struct usv_dp_dev **out,
		      bool *created)
{
	struct usv_dp_dev *d = dp_dev_find(dp, dev);
	int node, ret;

	*created = false;
	if (d) {
		*out = d;
		return 0;
	}
	node = dp->numa ? memory_node(cfg->mem) : -1;
	if (node >= 0) {
		d = usv_dp_node_zalloc(sizeof(*d), node);
		if (d)
			d->numa_alloc = true;
	}
	if (!d) {
		d = calloc(1, sizeof(*d));
		if (!d)
			return -ENOMEM;
	}
	d->key = dev;
	d->dp = dp;
	d->node = node;
	d->handle = cfg->handle;
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		struct usv_dp_ring *r = &d->ring[i];

		r->w = &d->w;
		r->dp = dp;
		r->dev = dev;
		r->devno = cfg->handle;
		r->idx = i;
		r->kick_fd = r->backend_fd = -1;
		usv_dp_sig_init(&r->call, r);
		usv_dp_sig_init(&r->err, r);
		usv_dp_sig_init(&r->log, r);
	}
	ret = usv_dp_worker_start(&d->w, d->handle, node);
	if (ret) {
		usv_err("dev %u: cannot start its worker: %s", d->handle, strerror(-ret));
		dp_dev_release(d);
		return ret;
	}
	pthread_mutex_lock(&dp->lock);
	usv_dp_stats_take_seeds(dp, d);
	d->next = dp->devs;
	dp->devs = d;
	pthread_mutex_unlock(&dp->lock);
	*out = d;
	*created = true;
	return 0;
}

/* Ends the device's worker and drops its state; every ring is stopped. Its
 * counters go to the released totals. */
static void dp_dev_destroy(struct usv_dp *dp, struct usv_dp_dev *d)
{
	struct usv_dp_dev **p;

	usv_dp_worker_stop(&d->w);
	pthread_mutex_lock(&dp->lock);
	for (p = &dp->devs; *p; p = &(*p)->next) {
		if (*p == d) {
			*p = d->next;
			break;
		}
	}
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
	dp_dev_release(d);
}

void usv_dp_ring_free(struct usv_dp_ring *r)
{
	usv_iotlb_free(r->tlb);
	r->tlb = NULL;
	free(r->segs);
	free(r->iov);
	free(r->chains);
	free(r->arena);
	free(r->scratch);
	free(r->pending);
	r->segs = NULL;
	r->iov = NULL;
	r->chains = NULL;
	r->arena = r->scratch = r->pending = NULL;
}

struct usv_dp_loglock *usv_dp_loglock_get(struct usv_dp *dp, pid_t tgid)
{
	struct usv_dp_loglock *l;

	pthread_mutex_lock(&dp->lock);
	for (l = dp->loglocks; l && l->tgid != tgid; l = l->next)
		;
	if (!l && (l = calloc(1, sizeof(*l)))) {
		l->tgid = tgid;
		pthread_mutex_init(&l->lock, NULL);
		l->next = dp->loglocks;
		dp->loglocks = l;
	}
	if (l)
		l->refs++;
	pthread_mutex_unlock(&dp->lock);
	return l;
}

void usv_dp_loglock_put(struct usv_dp *dp, struct usv_dp_loglock *l)
{
	struct usv_dp_loglock **p;

	if (!l)
		return;
	pthread_mutex_lock(&dp->lock);
	if (--l->refs) {
		pthread_mutex_unlock(&dp->lock);
		return;
	}
	for (p = &dp->loglocks; *p != l; p = &(*p)->next)
		;
	*p = l->next;
	pthread_mutex_unlock(&dp->lock);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

int usv_dp_ring_alloc(struct usv_dp_ring *r, void *(*zalloc)(size_t, size_t))
{
	bool tx = r->idx == USV_VQ_TX;

	if (r->segs)
		return 0; /* every buffer is there: they come all or none */
	r->segs = zalloc(USV_DP_SEG_POOL, sizeof(*r->segs));
	r->iov = zalloc(USV_DP_SEG_POOL, sizeof(*r->iov));
	r->chains = zalloc(USV_DP_MAX_CHAINS, sizeof(*r->chains));
	if (tx) {
		r->arena = zalloc(1, USV_DP_TX_ARENA);
	} else {
		r->scratch = zalloc(1, USV_DP_RX_HEADROOM + USV_DP_FRAME_MAX + 1);
		r->pending = zalloc(1, USV_DP_FRAME_MAX);
	}
	if (!r->segs || !r->iov || !r->chains ||
	    (tx ? !r->arena : !r->scratch || !r->pending)) {
		usv_dp_ring_free(r);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < USV_DP_BATCH; i++)
		r->tx.slot[i].ring = r;
	return 0;
}

/* A control-plane call, run in the device's worker (usv_dp_send). */
struct ring_call {
	struct usv_dp_ring *r;
	unsigned what;
	const struct usv_ring_config *cfg;
	struct usv_ring_base *base;
};

static void call_start(void *arg)
{
	struct ring_call *c = arg;

	usv_dp_ring_start(c->r, c->cfg);
}

static void call_stop(void *arg)
{
	struct ring_call *c = arg;

	usv_dp_ring_stop(c->r, c->base);
}

static void call_update(void *arg)
{
	struct ring_call *c = arg;

	usv_dp_ring_update(c->r, c->what, c->cfg);
}

static void call_sync(void *arg)
{
	struct ring_call *c = arg;

	usv_dp_ring_sync(c->r, c->base);
}

/* Ring idx of dev, if it runs here. */
static struct usv_dp_ring *running_ring(struct usv_dp *dp, const struct usv_dev *dev,
					unsigned idx)
{
	struct usv_dp_dev *d = dp_dev_find(dp, dev);

	return d && idx < USV_NET_NVQS && d->ring[idx].running ? &d->ring[idx] : NULL;
}

static int op_ring_start(void *ctx, struct usv_dev *dev, const struct usv_ring_config *cfg)
{
	struct ring_call c = { .cfg = cfg };
	unsigned idx = cfg->index;
	struct usv_dp_dev *d;
	struct usv_dp_ring *r;
	bool created;
	int ret;

	if (idx >= USV_NET_NVQS)
		return -EINVAL;
	ret = dp_dev_get(ctx, dev, cfg, &d, &created);
	if (ret)
		return ret;
	r = &d->ring[idx];
	ret = usv_dp_ring_alloc(r, calloc);
	if (ret) {
		usv_err("dev %u: vq %u: no memory for its buffers", cfg->handle, idx);
		goto err_dev;
	}
	/* The owner's log lock: the owner stays while the ring runs
	 * (RESET_OWNER stops it first); the stop lets it go. */
	r->loglock = usv_dp_loglock_get(ctx, cfg->owner_tgid);
	if (!r->loglock) {
		usv_err("dev %u: vq %u: no memory for its owner's log lock", cfg->handle, idx);
		ret = -ENOMEM;
		goto err_dev;
	}
	/* The device's handlers (vq->handle_kick), set while the ring is
	 * stopped; the message orders them before the worker's reads. */
	r->handle = idx == USV_VQ_TX ? usv_dp_handle_tx : usv_dp_handle_rx;
	r->quiesce = idx == USV_VQ_TX ? usv_dp_tx_quiesce : NULL;
	c.r = r;
	usv_dp_send(&d->w, call_start, &c);
	return 0;
err_dev:
	/* A failed first start leaves no worker behind: the device is as it
	 * was before the request. */
	if (created)
		dp_dev_destroy(ctx, d);
	return ret;
}

static void op_ring_stop(void *ctx, struct usv_dev *dev, unsigned idx,
			 struct usv_ring_base *base)
{
	struct ring_call c = { .r = running_ring(ctx, dev, idx), .base = base };

	if (!c.r)
		return;
	usv_dp_send(c.r->w, call_stop, &c);
	/* The worker is done with the ring: its log lock can go. */
	usv_dp_loglock_put(ctx, c.r->loglock);
	c.r->loglock = NULL;
}

static void op_ring_update(void *ctx, struct usv_dev *dev, unsigned what,
			   const struct usv_ring_config *cfg)
{
	struct ring_call c = { .r = running_ring(ctx, dev, cfg->index), .what = what,
			       .cfg = cfg };

	if (c.r)
		usv_dp_send(c.r->w, call_update, &c);
}

static void op_ring_sync(void *ctx, struct usv_dev *dev, unsigned idx,
			 struct usv_ring_base *base)
{
	struct ring_call c = { .r = running_ring(ctx, dev, idx), .base = base };

	if (c.r)
		usv_dp_send(c.r->w, call_sync, &c);
}

static void op_dev_free(void *ctx, struct usv_dev *dev)
{
	struct usv_dp_dev *d = dp_dev_find(ctx, dev);

	/* Every ring is stopped: the worker has nothing left but to quit. */
	if (d)
		dp_dev_destroy(ctx, d);
	else
		usv_dp_stats_retire_seeds(ctx, dev);
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

int usv_dp_create(const struct usv_dp_config *cfg, struct usv_dp **out)
{
	struct usv_dp *dp = calloc(1, sizeof(*dp));
	int ret;

	if (!dp)
		return -ENOMEM;
	pthread_mutex_init(&dp->lock, NULL);
	dp->numa = numa_available() >= 0 && numa_num_configured_nodes() > 1;
	dp->stats_sigfd = dp->stats_stop_fd = -1;
	ret = usv_dp_kick_setup();
	if (ret)
		goto err_dp;
	if (cfg->stats_path) {
		dp->stats_path = strdup(cfg->stats_path);
		ret = dp->stats_path ? usv_dp_stats_start(dp) : -ENOMEM;
		if (ret)
			goto err_dp;
	}
	usv_info("datapath: one io_uring worker thread per device%s",
		 dp->numa ? ", on the NUMA node of its memory" : "");
	*out = dp;
	return 0;
err_dp:
	usv_dp_destroy(dp);
	return ret;
}

void usv_dp_destroy(struct usv_dp *dp)
{
	if (!dp)
		return;
	usv_dp_stats_stop(dp);
	usv_dp_stats_free_seeds(dp);
	free(dp->stats_path);
	pthread_mutex_destroy(&dp->lock);
	free(dp);
}
