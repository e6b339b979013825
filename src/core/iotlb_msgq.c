/* SPDX-License-Identifier: MIT */
/* The IOTLB channel's MISS queues (vhost_new_msg/enqueue/dequeue). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/iotlb_msgq.h"

#define VHOST_IOTLB_MSG 1
#define VHOST_IOTLB_MSG_V2 2
#define VHOST_IOTLB_MISS 1
#define BODY 8 /* struct vhost_iotlb_msg starts at 8 in both framings */
/* A blocked read() looks at its interruption this often. */
#define READ_WAIT_NS 50000000L

struct usv_iotlb_msg_node {
	struct usv_iotlb_msg_node *next;
	unsigned vq;
	uint64_t iova;
	uint8_t perm;
	uint8_t msg[USV_IOTLB_MSG_LEN];
};

int usv_msgq_init(struct usv_iotlb_msgq *q)
{
	pthread_condattr_t ca;
	int ret;

	memset(q, 0, sizeof(*q));
	q->read_tail = &q->read_head;
	ret = pthread_mutex_init(&q->lock, NULL);
	if (ret)
		return -ret;
	ret = pthread_condattr_init(&ca);
	if (!ret) {
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		ret = pthread_cond_init(&q->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (ret) {
		pthread_mutex_destroy(&q->lock);
		return -ret;
	}
	return 0;
}

static void free_list(struct usv_iotlb_msg_node *n)
{
	while (n) {
		struct usv_iotlb_msg_node *next = n->next;

		free(n);
		n = next;
	}
}

/* Called with the lock held. */
static void drop_poll(struct usv_iotlb_msgq *q)
{
	if (q->poll_handle && q->waker)
		q->waker->drop(q->poll_handle);
	q->poll_handle = NULL;
}

void usv_msgq_destroy(struct usv_iotlb_msgq *q)
{
	free_list(q->read_head);
	free_list(q->pending);
	drop_poll(q);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
}

void usv_msgq_clear(struct usv_iotlb_msgq *q)
{
	pthread_mutex_lock(&q->lock);
	free_list(q->read_head);
	free_list(q->pending);
	q->read_head = q->pending = NULL;
	q->read_tail = &q->read_head;
	q->count = 0;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

void usv_msgq_set_open(struct usv_iotlb_msgq *q, bool open)
{
	pthread_mutex_lock(&q->lock);
	q->open = open;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

int usv_msgq_miss(struct usv_iotlb_msgq *q, unsigned vq, uint64_t iova, uint8_t perm,
		  bool v2)
{
	struct usv_iotlb_msg_node *n, **pp;
	uint32_t type;
	int ret = 0;

	pthread_mutex_lock(&q->lock);
	/* Asked and not read yet: once is enough. */
	for (n = q->read_head; n; n = n->next)
		if (n->vq == vq && n->iova == iova && n->perm == perm)
			goto out;
	/* Read but unanswered (the owner could not translate it): ask again,
	 * as the kernel does, in place of the old one. */
	for (pp = &q->pending; *pp; pp = &(*pp)->next)
		if ((*pp)->vq == vq && (*pp)->iova == iova && (*pp)->perm == perm) {
			n = *pp;
			*pp = n->next;
			free(n);
			q->count--;
			break;
		}
	if (q->count >= USV_IOTLB_MSGQ_MAX || !(n = calloc(1, sizeof(*n)))) {
		ret = -ENOMEM;
		goto out;
	}
	n->vq = vq;
	n->iova = iova;
	n->perm = perm;
	type = v2 ? VHOST_IOTLB_MSG_V2 : VHOST_IOTLB_MSG;
	memcpy(n->msg, &type, sizeof(type));
	memcpy(n->msg + BODY, &iova, sizeof(iova));
	n->msg[BODY + 24] = perm;
	n->msg[BODY + 25] = VHOST_IOTLB_MISS;
	*q->read_tail = n;
	q->read_tail = &n->next;
	q->count++;
	pthread_cond_broadcast(&q->cond);
	if (q->poll_handle && q->waker) {
		q->waker->notify(q->poll_handle);
		drop_poll(q);
	}
out:
	pthread_mutex_unlock(&q->lock);
	return ret;
}

static void node_entry(const struct usv_iotlb_msg_node *n, bool read,
		       struct usv_msgq_entry *e)
{
	uint32_t type;

	memcpy(&type, n->msg, sizeof(type));
	*e = (struct usv_msgq_entry){ .vq = n->vq, .iova = n->iova, .perm = n->perm,
				      .v2 = type == VHOST_IOTLB_MSG_V2, .read = read };
}

int usv_msgq_list(struct usv_iotlb_msgq *q, struct usv_msgq_entry **out, unsigned *n)
{
	struct usv_msgq_entry *e = NULL;
	const struct usv_iotlb_msg_node *p;
	unsigned k = 0, np = 0;
	int ret = 0;

	pthread_mutex_lock(&q->lock);
	if (q->count && !(e = calloc(q->count, sizeof(*e)))) {
		ret = -ENOMEM;
		goto out;
	}
	for (p = q->read_head; p && k < q->count; p = p->next)
		node_entry(p, false, &e[k++]);
	/* pending is newest first: listed oldest first, as put appends. */
	for (p = q->pending; p; p = p->next)
		np++;
	if (k + np > q->count)
		np = q->count - k;
	p = q->pending;
	for (unsigned j = 0; j < np; j++, p = p->next)
		node_entry(p, true, &e[k + np - 1 - j]);
	k += np;
	*out = e;
	*n = k;
out:
	pthread_mutex_unlock(&q->lock);
	return ret;
}

int usv_msgq_put(struct usv_iotlb_msgq *q, const struct usv_msgq_entry *e)
{
	struct usv_iotlb_msg_node *n;
	uint32_t type = e->v2 ? VHOST_IOTLB_MSG_V2 : VHOST_IOTLB_MSG;
	int ret = 0;

	if (e->vq >= 32 || (e->perm != 1 && e->perm != 2))
		return -EINVAL;
	pthread_mutex_lock(&q->lock);
	if (q->count >= USV_IOTLB_MSGQ_MAX || !(n = calloc(1, sizeof(*n)))) {
		ret = -ENOMEM;
		goto out;
	}
	n->vq = e->vq;
	n->iova = e->iova;
	n->perm = e->perm;
	memcpy(n->msg, &type, sizeof(type));
	memcpy(n->msg + BODY, &e->iova, sizeof(e->iova));
	n->msg[BODY + 24] = e->perm;
	n->msg[BODY + 25] = VHOST_IOTLB_MISS;
	if (e->read) {
		/* pending is newest first: the last put is the newest. */
		n->next = q->pending;
		q->pending = n;
	} else {
		*q->read_tail = n;
		q->read_tail = &n->next;
	}
	q->count++;
out:
	pthread_mutex_unlock(&q->lock);
	return ret;
}

static void deadline(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_nsec += READ_WAIT_NS;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_nsec -= 1000000000L;
		ts->tv_sec++;
	}
}

ssize_t usv_msgq_read(struct usv_iotlb_msgq *q, void *buf, bool nonblock,
		      bool (*interrupted)(void *ctx), void *ctx)
{
	struct usv_iotlb_msg_node *n;
	ssize_t ret;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct timespec ts;

		n = q->read_head;
		if (n)
			break;
		if (nonblock) {
			ret = -EAGAIN;
			goto out;
		}
		if (interrupted && interrupted(ctx)) {
			ret = -EINTR;
			goto out;
		}
		if (!q->open) {
			ret = -EBADFD;
			goto out;
		}
		deadline(&ts);
		pthread_cond_timedwait(&q->cond, &q->lock, &ts);
	}
	q->read_head = n->next;
	if (!q->read_head)
		q->read_tail = &q->read_head;
	memcpy(buf, n->msg, USV_IOTLB_MSG_LEN);
	ret = USV_IOTLB_MSG_LEN;
	/* A MISS waits for its answer. */
	n->next = q->pending;
	q->pending = n;
out:
	pthread_mutex_unlock(&q->lock);
	return ret;
}

unsigned usv_msgq_answered(struct usv_iotlb_msgq *q, uint64_t iova, uint64_t size)
{
	struct usv_iotlb_msg_node **pp = &q->pending;
	unsigned rings = 0;

	pthread_mutex_lock(&q->lock);
	while (*pp) {
		struct usv_iotlb_msg_node *n = *pp;

		/* The kernel's test, wrap-around included. */
		if (iova <= n->iova && iova + size - 1 >= n->iova) {
			rings |= 1u << n->vq;
			*pp = n->next;
			free(n);
			q->count--;
		} else {
			pp = &n->next;
		}
	}
	pthread_mutex_unlock(&q->lock);
	return rings;
}

bool usv_msgq_readable(struct usv_iotlb_msgq *q)
{
	bool r;

	pthread_mutex_lock(&q->lock);
	r = q->read_head != NULL;
	pthread_mutex_unlock(&q->lock);
	return r;
}

void usv_msgq_poll_arm(struct usv_iotlb_msgq *q, const struct usv_poll_waker *w,
		       void *handle)
{
	pthread_mutex_lock(&q->lock);
	drop_poll(q);
	q->waker = w;
	q->poll_handle = handle;
	/* Already readable: the caller answers POLLIN now, and a later
	 * message still wakes it. */
	pthread_mutex_unlock(&q->lock);
}
