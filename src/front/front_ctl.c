/* SPDX-License-Identifier: MIT */
/*
 * The hand-over switch (usv_front_ctl, front/front.h): asked from any
 * thread, seen by the front's loop (front/loop.c) through an eventfd that
 * is readable while a hand-over is pending.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.h"
#include "front/front.h"
#include "front/front_ctl.h"

struct usv_front_ctl {
	pthread_mutex_t lock;
	int efd;       /* readable while a hand-over is pending */
	bool serving;  /* a loop runs: a hand-over may be asked */
	bool pending;
};

int usv_front_ctl_new(struct usv_front_ctl **out)
{
	struct usv_front_ctl *c = calloc(1, sizeof(*c));
	int ret = 0;

	if (!c)
		return -ENOMEM;
	c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->efd < 0) {
		ret = -errno;
		free(c);
		return ret;
	}
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return 0;
}

void usv_front_ctl_free(struct usv_front_ctl *c)
{
	if (!c)
		return;
	close(c->efd);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int usv_front_ctl_handover(struct usv_front_ctl *c)
{
	uint64_t one = 1;
	int ret = 0;

	pthread_mutex_lock(&c->lock);
	if (c->pending)
		ret = -EBUSY;
	else if (!c->serving)
		ret = -ENOTCONN;
	else if (write(c->efd, &one, sizeof(one)) < 0)
		ret = -errno;
	else
		c->pending = true;
	pthread_mutex_unlock(&c->lock);
	return ret;
}

int usv_front_ctl_fd(struct usv_front_ctl *c)
{
	return c->efd;
}

void usv_front_ctl_serving(struct usv_front_ctl *c, bool on)
{
	pthread_mutex_lock(&c->lock);
	c->serving = on;
	pthread_mutex_unlock(&c->lock);
}

bool usv_front_ctl_pending(struct usv_front_ctl *c)
{
	bool p;

	pthread_mutex_lock(&c->lock);
	p = c->pending;
	pthread_mutex_unlock(&c->lock);
	return p;
}

void usv_front_ctl_done(struct usv_front_ctl *c)
{
	uint64_t v;

	pthread_mutex_lock(&c->lock);
	c->pending = false;
	if (read(c->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		usv_err("hand-over request eventfd: %s", strerror(errno));
	pthread_mutex_unlock(&c->lock);
}

