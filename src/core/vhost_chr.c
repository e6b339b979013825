/* SPDX-License-Identifier: MIT */
/*
 * read()/write()/poll() on the device: the IOTLB message channel of
 * vhost_chr_read_iter()/vhost_chr_write_iter()/vhost_chr_poll() and
 * vhost_process_iotlb_msg().
 *
 * write() takes one struct vhost_msg (v1) or vhost_msg_v2: a header too
 * short is EINVAL, an UPDATE of size 0 is EINVAL, and every
 * refusal of the message itself (no IOTLB, an owner range outside the user
 * address space, a type the device does not take) is EFAULT, as the kernel
 * turns any handler failure into EFAULT. vhost-net has no address spaces
 * (IOTLB_ASID), so the v2 asid word is skipped unread. A success consumes
 * sizeof(struct vhost_msg) whatever the length written.
 *
 * read() shorter than one message reads nothing (0); otherwise it returns
 * one queued MISS, or EAGAIN (non-blocking), or waits; a blocking read on a
 * device without IOTLB fails with EBADFD. poll() reports POLLIN|POLLRDNORM
 * when a message is queued, and never POLLOUT, as vhost_chr_poll().
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "core/log.h"
#include "core/observer.h"
#include "core/vhost_chr.h"
#include "core/vhost_ops.h"

/* struct vhost_iotlb_msg and the framing of vhost_msg / vhost_msg_v2. */
#define IOTLB_MSG_V1 1
#define IOTLB_MSG_V2 2
#define IOTLB_UPDATE 2
#define IOTLB_INVALIDATE 3
#define IOTLB_MSG_SIZE 32   /* iova, size, uaddr, perm, type, padding */
#define VHOST_MSG_SIZE 72   /* type + hole (v1) or asid (v2), union of 64 */
#define V1_BODY_OFFSET 8    /* the union is 8-byte aligned after int type */

_Static_assert(VHOST_MSG_SIZE == USV_IOTLB_MSG_LEN, "one message size");

struct iotlb_msg {
	uint64_t iova, size, uaddr;
	uint8_t perm, type;
};

/* umem_access_ok(): no wrap, and inside the user address space for each
 * access the entry grants. */
static bool umem_access_ok(uint64_t uaddr, uint64_t size, uint8_t perm)
{
	if (uaddr > UINT64_MAX - size)
		return false;
	if ((perm & USV_IOTLB_RO) && !usv_access_ok(uaddr, size))
		return false;
	if ((perm & USV_IOTLB_WO) && !usv_access_ok(uaddr, size))
		return false;
	return true;
}

/* Tells every running ring the IOTLB changed, and requeues the rings whose
 * read misses an UPDATE answered (vhost_vq_meta_reset, notify_vq). */
static void iotlb_changed(struct usv_dev *dev, unsigned answered)
{
	for (unsigned i = 0; i < USV_NET_NVQS; i++)
		usv_dev_dp_update(dev, i, USV_RING_IOTLB |
				  (answered >> i & 1 ? USV_RING_REQUEUE : 0));
}

/* vhost_process_iotlb_msg(), with the device lock held. */
static int process_msg(struct usv_dev *dev, const struct iotlb_msg *m)
{
	int ret;

	switch (m->type) {
	case IOTLB_UPDATE:
		if (!dev->iotlb || !umem_access_ok(m->uaddr, m->size, m->perm))
			return -EFAULT;
		ret = usv_iotlb_add(dev->iotlb, m->iova, m->iova + m->size - 1, m->uaddr,
				    m->perm);
		if (ret)
			return ret;
		iotlb_changed(dev, usv_msgq_answered(&dev->msgq, m->iova, m->size));
		return 0;
	case IOTLB_INVALIDATE:
		if (!dev->iotlb)
			return -EFAULT;
		usv_iotlb_del(dev->iotlb, m->iova, m->iova + m->size - 1);
		/* Returns only once no ring can use what was removed. */
		iotlb_changed(dev, 0);
		return 0;
	default:
		return -EINVAL;
	}
}

/* Tells the device's observer (the trace) of a message. */
static void observe(struct usv_dev *dev, const struct usv_obs_iotlb *m)
{
	struct usv_obs_event ev = { .kind = USV_OBS_IOTLB, .handle = dev->handle, .iotlb = m };

	usv_dev_observe(dev, &ev);
}

/* The message at p (len bytes, a whole header and body) for the trace. */
static void observe_bytes(struct usv_dev *dev, const uint8_t *p, bool read, int answer)
{
	struct usv_obs_iotlb o = { .read = read, .answer = answer };

	memcpy(&o.framing, p, 4);
	memcpy(&o.iova, p + V1_BODY_OFFSET, 8);
	memcpy(&o.size, p + V1_BODY_OFFSET + 8, 8);
	memcpy(&o.uaddr, p + V1_BODY_OFFSET + 16, 8);
	o.perm = p[V1_BODY_OFFSET + 24];
	o.type = p[V1_BODY_OFFSET + 25];
	observe(dev, &o);
}

ssize_t usv_chr_write(struct usv_dev *dev, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	struct iotlb_msg m;
	uint32_t type;
	size_t body;
	int ret;

	if (len < sizeof(type))
		return -EINVAL;
	memcpy(&type, p, sizeof(type));
	if (type == IOTLB_MSG_V1)
		body = V1_BODY_OFFSET;
	else if (type == IOTLB_MSG_V2)
		body = 8; /* type, then asid, which is skipped without ASID */
	else
		return -EINVAL;
	if (len < body + IOTLB_MSG_SIZE)
		return -EINVAL;
	memcpy(&m.iova, p + body, 8);
	memcpy(&m.size, p + body + 8, 8);
	memcpy(&m.uaddr, p + body + 16, 8);
	m.perm = p[body + 24];
	m.type = p[body + 25];
	/* Only an UPDATE of size 0 is refused: Linux 6.1 takes an INVALIDATE
	 * of size 0 (recorded in the test VM), which removes the ranges
	 * spanning iova - 1 and iova (all of them for iova 0), as its interval
	 * query of [iova, iova - 1] finds. */
	if (m.type == IOTLB_UPDATE && m.size == 0) {
		usv_dbg("dev %u: IOTLB message type %u iova 0x%llx of size 0 refused",
			dev->handle, m.type, (unsigned long long)m.iova);
		observe_bytes(dev, p, false, -EINVAL);
		return -EINVAL;
	}
	pthread_mutex_lock(&dev->lock);
	ret = process_msg(dev, &m);
	pthread_mutex_unlock(&dev->lock);
	observe_bytes(dev, p, false, ret ? -EFAULT : 0);
	if (!ret)
		usv_dbg("dev %u: IOTLB %s iova 0x%llx size 0x%llx uaddr 0x%llx perm %u",
			dev->handle, m.type == IOTLB_UPDATE ? "UPDATE" : "INVALIDATE",
			(unsigned long long)m.iova, (unsigned long long)m.size,
			(unsigned long long)m.uaddr, m.perm);
	if (ret) {
		usv_dbg("dev %u: IOTLB message type %u iova 0x%llx size 0x%llx "
			  "refused: %s", dev->handle, m.type, (unsigned long long)m.iova,
			  (unsigned long long)m.size, strerror(-ret));
		return -EFAULT;
	}
	return VHOST_MSG_SIZE;
}

ssize_t usv_chr_read(struct usv_dev *dev, void *buf, size_t len, bool nonblock,
		     bool (*interrupted)(void *ctx), void *ctx)
{
	/* The kernel answers a buffer too short for one message before
	 * looking for one. */
	ssize_t ret;

	if (len < VHOST_MSG_SIZE)
		return 0;
	ret = usv_msgq_read(&dev->msgq, buf, nonblock, interrupted, ctx);
	if (ret == VHOST_MSG_SIZE)
		observe_bytes(dev, buf, true, 0);
	return ret;
}

unsigned usv_chr_poll(struct usv_dev *dev, const struct usv_poll_waker *w, void *handle)
{
	if (handle)
		usv_msgq_poll_arm(&dev->msgq, w, handle);
	/* Never writable: the kernel does not report POLLOUT, though a
	 * write() would not block. */
	return usv_msgq_readable(&dev->msgq) ? POLLIN | POLLRDNORM : 0;
}

void usv_chr_poll_release(struct usv_dev *dev)
{
	struct usv_iotlb_msgq *q = &dev->msgq;

	pthread_mutex_lock(&q->lock);
	if (q->poll_handle && q->waker) {
		q->waker->notify(q->poll_handle);
		q->waker->drop(q->poll_handle);
	}
	q->poll_handle = NULL;
	pthread_mutex_unlock(&q->lock);
}

int usv_chr_miss(struct usv_dev *dev, unsigned vq, uint64_t iova, unsigned access,
		 bool v2)
{
	return usv_msgq_miss(&dev->msgq, vq, iova, (uint8_t)access, v2);
}

int usv_ring_report_miss(struct usv_dev *dev, unsigned idx, uint64_t iova, unsigned access,
			 bool v2)
{
	return usv_chr_miss(dev, idx, iova, access, v2);
}
