/* SPDX-License-Identifier: MIT */
/* The device's read/write/poll: the IOTLB message channel. */
#ifndef USV_CORE_VHOST_CHR_H
#define USV_CORE_VHOST_CHR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/device.h"

/* Bytes consumed, or -errno. Takes the device lock. */
ssize_t usv_chr_write(struct usv_dev *dev, const void *buf, size_t len);
/* Bytes of one message copied into buf (len bytes), 0 when len is shorter
 * than a message, or -errno; a blocking read waits until a message comes,
 * the device loses its IOTLB (-EBADFD) or interrupted(ctx) (-EINTR). */
ssize_t usv_chr_read(struct usv_dev *dev, void *buf, size_t len, bool nonblock,
		     bool (*interrupted)(void *ctx), void *ctx);
/* POLL* mask. A non-NULL handle is kept and woken through w when a message
 * is queued (the front's poll notification). */
unsigned usv_chr_poll(struct usv_dev *dev, const struct usv_poll_waker *w, void *handle);
/* Wakes the poller of the handle kept by usv_chr_poll, if any, and drops
 * it: the poller polls again, and its new poll request finds whoever
 * serves the device then (the front's hand-over). */
void usv_chr_poll_release(struct usv_dev *dev);
/* vhost_iotlb_miss(): ring vq could not translate iova for access
 * (USV_IOTLB_RO/WO); queues a MISS, v2-framed when the ring's backend
 * features have IOTLB_MSG_V2. Any thread, without the device lock. */
int usv_chr_miss(struct usv_dev *dev, unsigned vq, uint64_t iova, unsigned access,
		 bool v2);

#endif
