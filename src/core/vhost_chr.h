/* SPDX-License-Identifier: MIT */
/* The device's read/write/poll: the IOTLB message channel. */
#ifndef USV_CORE_VHOST_CHR_H
#define USV_CORE_VHOST_CHR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/device.h"

/* Bytes consumed, or -errno. */
ssize_t usv_chr_write(struct usv_dev *dev, const void *buf, size_t len);
/* Bytes produced into a message, or -errno. */
ssize_t usv_chr_read(struct usv_dev *dev, size_t len, bool nonblock);
/* POLL* mask. */
unsigned usv_chr_poll(struct usv_dev *dev);

#endif
