/* SPDX-License-Identifier: MIT */
/* Device lifetime: creation, the kernel's vq reset, RESET_OWNER and release. */
#include "core/device.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

uint64_t usv_vring_desc_size(uint32_t num)
{
	return (uint64_t)USV_VRING_DESC_SIZE * num;
}

uint64_t usv_vring_avail_size(const struct usv_dev *dev, uint32_t num)
{
	uint64_t event = usv_dev_has_feature(dev, USV_F_RING_EVENT_IDX) ? 2 : 0;

	return 4 + 2ULL * num + event;
}

uint64_t usv_vring_used_size(const struct usv_dev *dev, uint32_t num)
{
	uint64_t event = usv_dev_has_feature(dev, USV_F_RING_EVENT_IDX) ? 2 : 0;

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
	void *dp_priv = vq->dp_priv; /* the datapath's, freed by dev_free */

	memset(vq, 0, sizeof(*vq));
	vq->dp_priv = dp_priv;
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

void usv_dev_stop_ring(struct usv_dev *dev, unsigned idx)
{
	struct usv_vq *vq = &dev->vqs[idx];
	int fd;

	if (!usv_vq_running(vq))
		return;
	if (dev->dp && dev->dp->ring_stop)
		dev->dp->ring_stop(dev->dp_ctx, dev, idx);
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
	pthread_mutex_destroy(&dev->lock);
	free(dev);
}
