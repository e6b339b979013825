/* SPDX-License-Identifier: MIT */
/*
 * The IOTLB channel's message queues (vhost_dev's read_list and
 * pending_list): MISS messages wait in the read queue until read(), then
 * in the pending queue until an UPDATE covers their address, which
 * requeues their ring. It has a lock of its own (the kernel's iotlb_lock):
 * the datapath queues misses without the device lock, and a blocking
 * read() waits on it.
 */
#ifndef USV_CORE_IOTLB_MSGQ_H
#define USV_CORE_IOTLB_MSGQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* struct vhost_msg and struct vhost_msg_v2 have the same size. */
#define USV_IOTLB_MSG_LEN 72
/* A miss already queued for an address is not queued again, so the queues
 * hold at most a few per ring; past this bound a miss is dropped (the ring
 * asks again at its next go). */
#define USV_IOTLB_MSGQ_MAX 256u

struct usv_iotlb_msg_node;

/* How a front delivers poll readiness: it hands a poll handle with
 * usv_msgq_poll_arm(); the queue calls notify(handle) then drop(handle)
 * when a message arrives, and drop(handle) for a handle it replaces. */
struct usv_poll_waker {
	void (*notify)(void *handle);
	void (*drop)(void *handle);
};

struct usv_iotlb_msgq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct usv_iotlb_msg_node *read_head, **read_tail;
	struct usv_iotlb_msg_node *pending;
	unsigned count;
	bool open;   /* the device has an IOTLB: a blocking read may wait */
	const struct usv_poll_waker *waker;
	void *poll_handle;
};

int usv_msgq_init(struct usv_iotlb_msgq *q);
void usv_msgq_destroy(struct usv_iotlb_msgq *q);
/* vhost_clear_msg() and the wake-up of vhost_dev_cleanup(); open says
 * whether the device now has an IOTLB. */
void usv_msgq_clear(struct usv_iotlb_msgq *q);
void usv_msgq_set_open(struct usv_iotlb_msgq *q, bool open);
/* vhost_iotlb_miss(): a MISS for iova with access perm from ring vq, in v2
 * framing or v1. 0, or -ENOMEM when dropped. */
int usv_msgq_miss(struct usv_iotlb_msgq *q, unsigned vq, uint64_t iova, uint8_t perm,
		  bool v2);
/* vhost_chr_read_iter() after the length check: copies one message into
 * buf (USV_IOTLB_MSG_LEN bytes) and returns its length; -EAGAIN when none
 * and nonblock; -EBADFD when none and the device has no IOTLB; -EINTR when
 * interrupted(ctx) says so while waiting. */
ssize_t usv_msgq_read(struct usv_iotlb_msgq *q, void *buf, bool nonblock,
		      bool (*interrupted)(void *ctx), void *ctx);
/* vhost_iotlb_notify_vq(): read misses in [iova, iova+size-1] are answered;
 * returns the mask of rings (bit per vq) to requeue. */
unsigned usv_msgq_answered(struct usv_iotlb_msgq *q, uint64_t iova, uint64_t size);
/* A message is queued for read(). */
bool usv_msgq_readable(struct usv_iotlb_msgq *q);
/* One queued MISS, for a hand-over (core/devstate.h). */
struct usv_msgq_entry {
	unsigned vq;
	uint64_t iova;
	uint8_t perm;
	bool v2;   /* v2 framing */
	bool read; /* read already: waits for its answer (pending) */
};

/* Copies every queued message, unread ones first in read order, into a new
 * array (*out, to free; NULL when none). 0 or -ENOMEM. */
int usv_msgq_list(struct usv_iotlb_msgq *q, struct usv_msgq_entry **out, unsigned *n);
/* Queues e again where usv_msgq_list() found it (appended to its queue).
 * -EINVAL for a ring or permission that cannot be, -ENOMEM (also past
 * USV_IOTLB_MSGQ_MAX). Wakes no one. */
int usv_msgq_put(struct usv_iotlb_msgq *q, const struct usv_msgq_entry *e);
/* Keeps handle to wake when a message arrives (replacing an older one). */
void usv_msgq_poll_arm(struct usv_iotlb_msgq *q, const struct usv_poll_waker *w,
		       void *handle);

#endif
