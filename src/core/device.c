/* SPDX-License-Identifier: MIT */
/* Device lifetime: creation, the kernel's vq reset, RESET_OWNER and release. */
#include "core/device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/observer.h"

uint64_t usv_vring_desc_size(uint32_t num)
{
	return (uint64_t)USV_VRING_DESC_SIZE * num;
}

/* Packed ring: avail and used are the driver's and the device's event
 * suppression structures, 4 bytes each (virtio 1.1 2.8.10). */
uint64_t usv_vring_avail_size(const struct usv_dev *dev, uint32_t num)
{
	uint64_t event = usv_dev_has_feature(dev, USV_F_RING_EVENT_IDX) ? 2 : 0;

	if (usv_dev_has_feature(dev, USV_F_RING_PACKED))
		return 4;
	return 4 + 2ULL * num + event;
}

uint64_t usv_vring_used_size(const struct usv_dev *dev, uint32_t num)
{
	uint64_t event = usv_dev_has_feature(dev, USV_F_RING_EVENT_IDX) ? 2 : 0;

	if (usv_dev_has_feature(dev, USV_F_RING_PACKED))
		return 4;
	return 4 + 8ULL * num + event;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The state vhost_vq_reset() leaves: what a fresh open or RESET_OWNER sees. */
static void vq_reset(struct usv_vq *vq, unsigned index)
{
	memset(vq, 0, sizeof(*vq));
	vq->index = index;
	vq->num = 1;
	vq->log_addr = UINT64_MAX;
	vq->kick_fd = vq->call_fd = vq->err_fd = vq->backend_fd = -1;
}

struct usv_dev *usv_dev_new(unsigned handle, const struct usv_profile *profile,
			    const struct usv_datapath_ops *dp, void *dp_ctx)
{
	struct usv_dev *dev = calloc(1, sizeof(*dev));

	if (!dev)
		return NULL;
	if (pthread_mutex_init(&dev->lock, NULL)) {
		free(dev);
		return NULL;
	}
	if (usv_msgq_init(&dev->msgq)) {
		pthread_mutex_destroy(&dev->lock);
		free(dev);
		return NULL;
	}
	dev->handle = handle;
	dev->profile = profile;
	dev->dp = dp;
	dev->dp_ctx = dp_ctx;
	dev->owner.pidfd = dev->owner.memfd = -1;
	dev->late_close = -1;
	dev->log_fd = -1;
	for (unsigned i = 0; i < USV_NET_NVQS; i++)
		vq_reset(&dev->vqs[i], i);
	return dev;
}

bool usv_dev_is_owner(const struct usv_dev *dev, pid_t tgid)
{
	return dev->owner.tgid != 0 && dev->owner.tgid == tgid &&
	       usv_owner_alive(&dev->owner);
}

void usv_dev_close_later(struct usv_dev *dev, int fd)
{
	if (fd < 0)
		return;
	if (dev->late_close >= 0)
		close(dev->late_close); /* one per request; never twice */
	dev->late_close = fd;
}

void usv_dev_put_backend(struct usv_dev *dev, unsigned idx, int fd)
{
	for (unsigned i = 0; i < USV_NET_NVQS; i++)
		if (i != idx && fd >= 0 && dev->vqs[i].backend_fd == fd)
			return;
	if (fd >= 0)
		close(fd);
}

void usv_dev_ring_config(const struct usv_dev *dev, unsigned idx,
			 struct usv_ring_config *cfg)
{
	const struct usv_vq *vq = &dev->vqs[idx];

	memset(cfg, 0, sizeof(*cfg));
	cfg->handle = dev->handle;
	cfg->index = idx;
	cfg->num = vq->num;
	cfg->desc = vq->desc;
	cfg->avail = vq->avail;
	cfg->used = vq->used;
	cfg->log_used = vq->log_used;
	cfg->log_addr = vq->log_addr;
	cfg->log_base = vq->log_base;
	cfg->log_fd = dev->log_fd;
	cfg->kick_fd = vq->kick_fd;
	cfg->call_fd = vq->call_fd;
	cfg->err_fd = vq->err_fd;
	cfg->backend_fd = vq->backend_fd;
	cfg->backend_packet = vq->backend.kind == USV_FD_PACKET;
	snprintf(cfg->backend_name, sizeof(cfg->backend_name), "%s%s%s",
		 usv_fd_kind_name(vq->backend.kind), vq->backend.ifname[0] ? ":" : "",
		 vq->backend.ifname);
	cfg->features = dev->acked_features[0];
	cfg->backend_features = dev->acked_backend_features;
	cfg->vhost_hlen = vq->vhost_hlen;
	cfg->sock_hlen = vq->sock_hlen;
	cfg->busyloop_us = vq->busyloop_timeout;
	cfg->mem = dev->mem;
	cfg->iotlb = dev->iotlb;
	cfg->owner_memfd = dev->owner.memfd;
	cfg->owner_tgid = dev->owner.tgid;
	usv_dev_ring_base(dev, idx, &cfg->base);
}

void usv_dev_ring_base(const struct usv_dev *dev, unsigned idx, struct usv_ring_base *b)
{
	const struct usv_vq *vq = &dev->vqs[idx];

	b->last_avail_idx = vq->last_avail_idx;
	b->avail_idx = vq->avail_idx;
	b->last_used_idx = vq->last_used_idx;
	b->used_flags = vq->used_flags;
}

/* The datapath's indexes back into the ring (sync and stop). */
static void ring_base_put(struct usv_dev *dev, unsigned idx, const struct usv_ring_base *b)
{
	struct usv_vq *vq = &dev->vqs[idx];

	vq->last_avail_idx = b->last_avail_idx;
	vq->avail_idx = b->avail_idx;
	vq->last_used_idx = b->last_used_idx;
	vq->used_flags = b->used_flags;
}

int usv_dev_dp_start(struct usv_dev *dev, unsigned idx)
{
	struct usv_ring_config cfg;
	int ret;

	if (!dev->dp || !dev->dp->ring_start) {
		dev->vqs[idx].dp_paused = false;
		return 0;
	}
	usv_dev_ring_config(dev, idx, &cfg);
	ret = dev->dp->ring_start(dev->dp_ctx, dev, &cfg);
	if (!ret)
		dev->vqs[idx].dp_paused = false;
	return ret;
}

void usv_dev_dp_stop(struct usv_dev *dev, unsigned idx)
{
	struct usv_ring_base b;

	if (dev->vqs[idx].dp_paused) {
		dev->vqs[idx].dp_paused = false; /* stopped already */
		return;
	}
	if (!dev->dp || !dev->dp->ring_stop)
		return;
	usv_dev_ring_base(dev, idx, &b);
	dev->dp->ring_stop(dev->dp_ctx, dev, idx, &b);
	ring_base_put(dev, idx, &b);
}

void usv_dev_dp_sync(struct usv_dev *dev, unsigned idx)
{
	struct usv_ring_base b;

	if (!usv_vq_running(&dev->vqs[idx]) || dev->vqs[idx].dp_paused || !dev->dp ||
	    !dev->dp->ring_sync)
		return;
	usv_dev_ring_base(dev, idx, &b);
	dev->dp->ring_sync(dev->dp_ctx, dev, idx, &b);
	ring_base_put(dev, idx, &b);
}

void usv_dev_dp_update(struct usv_dev *dev, unsigned idx, unsigned what)
{
	struct usv_ring_config cfg;

	if (!usv_vq_running(&dev->vqs[idx]) || dev->vqs[idx].dp_paused || !dev->dp ||
	    !dev->dp->ring_update)
		return;
	usv_dev_ring_config(dev, idx, &cfg);
	dev->dp->ring_update(dev->dp_ctx, dev, what, &cfg);
}

void usv_ring_report_error(struct usv_dev *dev, unsigned idx, const char *why)
{
	usv_dev_observe_ring_error(dev, idx, why);
}

void usv_dev_stop_ring(struct usv_dev *dev, unsigned idx)
{
	struct usv_vq *vq = &dev->vqs[idx];
	int fd;

	if (!usv_vq_running(vq))
		return;
	usv_dev_dp_stop(dev, idx);
	usv_info("dev %u: vq %u detached from %s%s%s", dev->handle, idx,
		 usv_fd_kind_name(vq->backend.kind),
		 vq->backend.ifname[0] ? " " : "", vq->backend.ifname);
	fd = vq->backend_fd;
	vq->backend_fd = -1;
	usv_dev_put_backend(dev, idx, fd);
	memset(&vq->backend, 0, sizeof(vq->backend));
}

/* vhost_dev_cleanup(): rings stopped, every fd, the log, memory and owner gone. */
static void dev_cleanup(struct usv_dev *dev)
{
	for (unsigned i = 0; i < USV_NET_NVQS; i++)
		usv_dev_stop_ring(dev, i);
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		struct usv_vq *vq = &dev->vqs[i];

		close_fd(&vq->kick_fd);
		close_fd(&vq->call_fd);
		close_fd(&vq->err_fd);
		vq_reset(vq, i);
	}
	close_fd(&dev->log_fd);
	usv_guestmem_free(dev->mem);
	dev->mem = NULL;
	/* No ring runs: nothing translates through it any more. A blocked
	 * read() wakes and finds no IOTLB (EBADFD). */
	usv_iotlb_free(dev->iotlb);
	dev->iotlb = NULL;
	usv_msgq_set_open(&dev->msgq, false);
	usv_msgq_clear(&dev->msgq);
	memset(dev->acked_features, 0, sizeof(dev->acked_features));
	dev->acked_backend_features = 0;
	/* After the table: it borrows the owner's /proc/<pid>/mem. */
	usv_owner_release(&dev->owner);
}

void usv_dev_reset_owner(struct usv_dev *dev, struct usv_guestmem *empty)
{
	dev_cleanup(dev);
	dev->mem = empty;
}

void usv_dev_free(struct usv_dev *dev)
{
	if (!dev)
		return;
	dev_cleanup(dev);
	close_fd(&dev->late_close);
	if (dev->dp && dev->dp->dev_free)
		dev->dp->dev_free(dev->dp_ctx, dev);
	usv_msgq_destroy(&dev->msgq);
	pthread_mutex_destroy(&dev->lock);
	free(dev);
}
