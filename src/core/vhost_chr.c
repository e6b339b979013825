/* SPDX-License-Identifier: MIT */
/*
 * read()/write()/poll() on the device: the IOTLB message channel of
 * vhost_chr_read_iter()/vhost_chr_write_iter()/vhost_chr_poll().
 *
 * No profile offers VIRTIO_F_ACCESS_PLATFORM yet, so no device ever has an
 * IOTLB, and these answer exactly as the kernel does for such a device:
 * a well-formed UPDATE/INVALIDATE is refused with EFAULT, a malformed message
 * with EINVAL; a read shorter than one message reads nothing (0), a longer
 * one finds no message queued (EAGAIN, or EBADFD when blocking); poll()
 * reports nothing, as vhost_chr_poll() only ever sets EPOLLIN, for a queued
 * message.
 */
#include <errno.h>
#include <string.h>

#include "core/vhost_chr.h"

/* struct vhost_iotlb_msg and the framing of vhost_msg / vhost_msg_v2. */
#define IOTLB_MSG_V1 1
#define IOTLB_MSG_V2 2
#define IOTLB_UPDATE 2
#define IOTLB_INVALIDATE 3
#define IOTLB_MSG_SIZE 32   /* iova, size, uaddr, perm, type, padding */
#define VHOST_MSG_SIZE 72   /* type + hole (v1) or asid (v2), union of 64 */
#define V1_BODY_OFFSET 8    /* the union is 8-byte aligned after int type */

ssize_t usv_chr_write(struct usv_dev *dev, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t type;
	uint64_t size;
	uint8_t msg_type;
	size_t body;

	(void)dev;
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
	memcpy(&size, p + body + 8, sizeof(size));
	msg_type = p[body + 25];
	if ((msg_type == IOTLB_UPDATE || msg_type == IOTLB_INVALIDATE) && size == 0)
		return -EINVAL;
	/* Without an IOTLB every message handler fails, and any handler
	 * failure is reported as EFAULT. */
	return -EFAULT;
}

ssize_t usv_chr_read(struct usv_dev *dev, size_t len, bool nonblock)
{
	(void)dev;
	/* The kernel answers a buffer too short for one message before
	 * looking for one. */
	if (len < VHOST_MSG_SIZE)
		return 0;
	/* Nothing is ever queued; a blocking read on a device without IOTLB
	 * fails rather than sleeping forever. */
	return nonblock ? -EAGAIN : -EBADFD;
}

unsigned usv_chr_poll(struct usv_dev *dev)
{
	(void)dev;
	/* Never writable: the kernel does not report POLLOUT, though a
	 * write() would not block. */
	return 0;
}
