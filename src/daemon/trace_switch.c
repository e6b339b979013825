/* SPDX-License-Identifier: MIT */
#include "daemon/trace_switch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

static void sw_ioctl(void *ctx, struct usv_dev *dev, const struct usv_obs_ioctl *ev)
{
	struct usv_trace_switch *sw = ctx;

	pthread_rwlock_rdlock(&sw->lock);
	if (sw->cur)
		usv_trace_observer.ioctl(sw->cur, dev, ev);
	pthread_rwlock_unlock(&sw->lock);
}

static void sw_event(void *ctx, struct usv_dev *dev, const struct usv_obs_event *ev)
{
	struct usv_trace_switch *sw = ctx;

	pthread_rwlock_rdlock(&sw->lock);
	if (sw->cur)
		usv_trace_observer.event(sw->cur, dev, ev);
	pthread_rwlock_unlock(&sw->lock);
}

const struct usv_observer usv_trace_switch_observer = {
	.ioctl = sw_ioctl,
	.event = sw_event,
};

int usv_trace_switch_init(struct usv_trace_switch *sw, const struct usv_trace_info *info,
			  struct usv_trace *initial, const char *name)
{
	pthread_rwlockattr_t attr;
	int ret;

	memset(sw, 0, sizeof(*sw));
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	ret = -pthread_rwlock_init(&sw->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	if (ret)
		return ret;
	sw->info = *info;
	sw->cur = initial;
	if (initial)
		snprintf(sw->name, sizeof(sw->name), "%s", name);
	return 0;
}

/* Puts t (on stream f, NULL: not ours) in place under the write lock, and
 * closes what it replaced once no observer call can be using it. */
static void swap_in(struct usv_trace_switch *sw, struct usv_trace *t, FILE *f,
		    const char *name)
{
	struct usv_trace *old;
	FILE *oldf;

	pthread_rwlock_wrlock(&sw->lock);
	old = sw->cur;
	oldf = sw->f;
	sw->cur = t;
	sw->f = f;
	snprintf(sw->name, sizeof(sw->name), "%s", t ? name : "");
	pthread_rwlock_unlock(&sw->lock);
	usv_trace_close(old);
	if (oldf)
		fclose(oldf);
}

int usv_trace_switch_on(struct usv_trace_switch *sw, int fd, const char *name)
{
	struct usv_trace *t;
	FILE *f = fdopen(fd, "w");

	if (!f) {
		int err = -errno;

		close(fd);
		return err;
	}
	t = usv_trace_open_stream(f, &sw->info);
	if (!t) {
		fclose(f);
		return -ENOMEM;
	}
	swap_in(sw, t, f, name);
	return 0;
}

void usv_trace_switch_off(struct usv_trace_switch *sw)
{
	swap_in(sw, NULL, NULL, NULL);
}

bool usv_trace_switch_state(struct usv_trace_switch *sw, char *name, size_t len)
{
	bool on;

	pthread_rwlock_rdlock(&sw->lock);
	on = sw->cur != NULL;
	snprintf(name, len, "%s", sw->name);
	pthread_rwlock_unlock(&sw->lock);
	return on;
}

void usv_trace_switch_destroy(struct usv_trace_switch *sw)
{
	usv_trace_switch_off(sw);
	pthread_rwlock_destroy(&sw->lock);
}
