/* SPDX-License-Identifier: MIT */
/*
 * The ioctl table: one row per vhost ioctl. It drives dispatch (which path,
 * which handler), decoding for logs and traces, and the generated docs.
 *
 * Paths mirror the kernel's vhost_net_ioctl():
 *   NET   - handled before any owner check (features, owners, backend);
 *   DEV   - vhost_dev_ioctl(): owner check (EPERM), then the handler;
 *   VRING - vhost_vring_ioctl(): owner check, u32 index read at arg (EFAULT),
 *           index >= 2 (ENOBUFS), then the handler, or ENOTTY without one.
 * Numbers not in the table take the VRING path with no handler, which is the
 * kernel's fall-through for unknown ioctls: EPERM / EFAULT / ENOBUFS / ENOTTY.
 */
#ifndef USV_CORE_IOCTL_TABLE_H
#define USV_CORE_IOCTL_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/device.h"
#include "core/request.h"

enum usv_ioctl_path {
	USV_PATH_NET,
	USV_PATH_DEV,
	USV_PATH_VRING,
};

/* Decoders format captured payload bytes; len may be short (a fault). */
typedef void (*usv_decode_fn)(const uint8_t *p, size_t len, char *buf,
			      size_t n);

struct usv_ioctl_desc {
	uint32_t cmd;
	const char *name; /* without the VHOST_ prefix */
	enum usv_ioctl_path path;
	uint32_t in_size;  /* fixed bytes read at arg */
	uint32_t out_size; /* fixed bytes written at arg */
	bool varlen;       /* reads or writes past the fixed part */
	int (*dev_fn)(struct usv_dev *dev, struct usv_req *req);
	int (*vq_fn)(struct usv_dev *dev, struct usv_vq *vq, struct usv_req *req);
	usv_decode_fn decode_in;
	usv_decode_fn decode_out;
};

/* The row for cmd, or NULL for a number the table does not know. */
const struct usv_ioctl_desc *usv_ioctl_lookup(uint32_t cmd);
/* Every row, for docs and tests. */
const struct usv_ioctl_desc *usv_ioctl_rows(unsigned *count);

/* "NAME args" for logs and traces; the name is "0x%08x" for unknown numbers. */
void usv_ioctl_describe(const struct usv_req *req, char *buf, size_t n);

#endif
