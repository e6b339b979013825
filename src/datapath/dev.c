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

#include "core/log.h"
#include "datapath/dp_internal.h"

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

static void dp_dev_release(struct usv_dp_dev *d)
{
	for (unsigned i = 0; i < USV_NET_NVQS; i++)
		usv_dp_ring_free(&d->ring[i]);
	if (d->numa_alloc)
		numa_free(d, sizeof(*d));
	else
		free(d);
}

/* The device's state and worker, made at its first ring start. */
static int dp_dev_get(struct usv_dp *dp, struct usv_dev *dev, struct usv_dp_dev **out)
{
	struct usv_dp_dev *d = dev->vqs[0].dp_priv;
	int node, ret;

	if (d) {
		*out = d;
		return 0;
	}
	node = dp->numa ? memory_node(dev) : -1;
	if (node >= 0) {
		d = numa_alloc_onnode(sizeof(*d), node);
		if (d) {
			memset(d, 0, sizeof(*d));
			d->numa_alloc = true;
		}
	}
	if (!d) {
		d = calloc(1, sizeof(*d));
		if (!d)
			return -ENOMEM;
	}
	d->dp = dp;
	d->node = node;
	d->handle = dev->handle;
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		struct usv_dp_ring *r = &d->ring[i];

		r->w = &d->w;
		r->dp = dp;
		r->dev = dev;
		r->idx = i;
		r->kick_fd = r->backend_fd = -1;
		usv_dp_sig_init(&r->call, r);
		usv_dp_sig_init(&r->err, r);
		usv_dp_sig_init(&r->log, r);
	}
	ret = usv_dp_worker_start(&d->w, dev->handle, node);
	if (ret) {
		usv_err("dev %u: cannot start its worker: %s", dev->handle, strerror(-ret));
		dp_dev_release(d);
		return ret;
	}
	pthread_mutex_lock(&dp->lock);
	d->next = dp->devs;
	dp->devs = d;
	pthread_mutex_unlock(&dp->lock);
	dev->vqs[0].dp_priv = d; /* both rings point at the device's state */
	dev->vqs[1].dp_priv = d;
	*out = d;
	return 0;
}

void usv_dp_ring_free(struct usv_dp_ring *r)
{
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
		r->scratch = zalloc(1, USV_DP_FRAME_MAX + 1);
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

static int op_ring_start(void *ctx, struct usv_dev *dev, unsigned idx)
{
	struct usv_dp_dev *d;
	struct usv_dp_ring *r;
	int ret;

	ret = dp_dev_get(ctx, dev, &d);
	if (ret)
		return ret;
	r = &d->ring[idx];
	ret = usv_dp_ring_alloc(r, calloc);
	if (ret) {
		usv_err("dev %u: vq %u: no memory for its buffers", dev->handle, idx);
		return ret;
	}
	/* The owner's log lock: the owner stays while the ring runs
	 * (RESET_OWNER stops it first); the stop lets it go. */
	r->loglock = usv_dp_loglock_get(ctx, dev->owner.tgid);
	if (!r->loglock)
		return -ENOMEM;
	/* The device's handlers (vq->handle_kick), set while the ring is
	 * stopped; the message orders them before the worker's reads. */
	r->handle = idx == USV_VQ_TX ? usv_dp_handle_tx : usv_dp_handle_rx;
	r->quiesce = idx == USV_VQ_TX ? usv_dp_tx_quiesce : NULL;
	usv_dp_send(&d->w, USV_DP_START, r, 0);
	return 0;
}

static void op_ring_stop(void *ctx, struct usv_dev *dev, unsigned idx)
{
	struct usv_dp_dev *d = dev->vqs[0].dp_priv;

	(void)ctx;
	if (d && d->ring[idx].running)
		usv_dp_send(&d->w, USV_DP_STOP, &d->ring[idx], 0);
}

static void op_ring_update(void *ctx, struct usv_dev *dev, unsigned idx, unsigned what)
{
	struct usv_dp_dev *d = dev->vqs[0].dp_priv;

	(void)ctx;
	if (d && d->ring[idx].running)
		usv_dp_send(&d->w, USV_DP_UPDATE, &d->ring[idx], what);
}

static void op_ring_sync(void *ctx, struct usv_dev *dev, unsigned idx)
{
	struct usv_dp_dev *d = dev->vqs[0].dp_priv;

	(void)ctx;
	if (d && d->ring[idx].running)
		usv_dp_send(&d->w, USV_DP_SYNC, &d->ring[idx], 0);
}

static void op_dev_free(void *ctx, struct usv_dev *dev)
{
	struct usv_dp *dp = ctx;
	struct usv_dp_dev *d = dev->vqs[0].dp_priv, **p;

	if (!d)
		return;
	/* Every ring is stopped: the worker has nothing left but to quit. */
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
	dev->vqs[0].dp_priv = NULL;
	dev->vqs[1].dp_priv = NULL;
	dp_dev_release(d);
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
	free(dp->stats_path);
	pthread_mutex_destroy(&dp->lock);
	free(dp);
}
