/* SPDX-License-Identifier: MIT */
/*
 * The two ways a front reaches the caller's memory for a request.
 *
 * restricted (FUSE file): the kernel copied _IOC_SIZE bytes in and copies the
 *   reply's bytes out; anything else is read or written through
 *   /proc/<tgid>/mem, opened only when a request needs it.
 * retry (CUSE, unrestricted): nothing is reachable directly. The request is
 *   replayed from the start on every round; its reads and writes are
 *   recorded in order and served from what the kernel fetched last round.
 *   An access past that ends the round with -USV_ERETRY, and the front asks
 *   the kernel to fetch every recorded range (fuse_reply_ioctl_retry).
 */
#ifndef USV_FRONT_UACCESS_H
#define USV_FRONT_UACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "core/request.h"

struct usv_ua_restricted {
	uint64_t arg;
	const uint8_t *in;
	size_t in_len;
	uint8_t *out;
	size_t out_cap;
	size_t out_len;
	pid_t tid;  /* whose memory */
	int memfd;  /* opened on first need, closed by usv_ua_restricted_done() */
};

extern const struct usv_uaccess usv_ua_restricted_ops;
void usv_ua_restricted_init(struct usv_ua_restricted *ua, pid_t tid, uint64_t arg,
			    const void *in, size_t in_len, void *out, size_t out_cap);
void usv_ua_restricted_done(struct usv_ua_restricted *ua);

/* CUSE lets an ioctl name at most 256 ranges (FUSE_IOCTL_MAX_IOV) and moves
 * at most a request's worth of pages; past these the answer is EFAULT. */
#define USV_UA_MAX_IOV 256
#define USV_UA_MAX_BYTES (64u * 1024)

struct usv_ua_range {
	uint64_t addr;
	size_t len;
	size_t off; /* where its bytes sit in the in (or out) data */
};

struct usv_ua_retry {
	const uint8_t *in;  /* what the kernel fetched for the last round */
	size_t in_len;
	uint8_t out[USV_UA_MAX_BYTES];
	size_t out_cap;     /* what the kernel prepared to copy out */
	struct usv_ua_range rd[USV_UA_MAX_IOV], wr[USV_UA_MAX_IOV];
	unsigned nrd, nwr;
	size_t rd_bytes, wr_bytes;
};

extern const struct usv_uaccess usv_ua_retry_ops;
/* Every round starts the same way: the ioctl's fixed payload at arg is
 * declared first (in_size to read, out_size to write back), so one retry
 * fetches a whole struct, as the kernel's copy_from_user() would. */
void usv_ua_retry_init(struct usv_ua_retry *ua, uint64_t arg, size_t in_size,
		       size_t out_size, const void *in, size_t in_len, size_t out_cap);
/* The ranges for fuse_reply_ioctl_retry(). */
unsigned usv_ua_retry_iov(const struct usv_ua_range *r, unsigned n, struct iovec *iov);
/* Bytes of the out data to send with a successful reply. */
size_t usv_ua_retry_out_len(const struct usv_ua_retry *ua);

#endif
