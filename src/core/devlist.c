/* SPDX-License-Identifier: MIT */
#include "core/devlist.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/observer.h"

int usv_devlist_init(struct usv_devlist *list, const struct usv_profile *profile,
		     const struct usv_datapath_ops *dp, void *dp_ctx)
{
	memset(list, 0, sizeof(*list));
	list->profile = profile;
	list->dp = dp;
	list->dp_ctx = dp_ctx;
	return -pthread_mutex_init(&list->lock, NULL);
}

void usv_devlist_destroy(struct usv_devlist *list)
{
	while (list->head)
		usv_devlist_remove(list, list->head->handle);
	free(list->opener);
	list->opener = NULL;
	list->nopener = 0;
	pthread_mutex_destroy(&list->lock);
}

/* With the list lock held. */
static unsigned count_uid_locked(const struct usv_devlist *list, uid_t uid)
{
	unsigned n = 0;

	for (const struct usv_dev *d = list->head; d; d = d->next)
		n += list->opener[d->handle] == uid;
	return n;
}

/* Room in opener[] for handle h, with the list lock held. */
static int reserve_opener(struct usv_devlist *list, unsigned h)
{
	unsigned n = list->nopener ? list->nopener : 16;
	uid_t *grown;

	if (h < list->nopener)
		return 0;
	while (n <= h)
		n = n > UINT_MAX / 2 ? UINT_MAX : n * 2;
	grown = realloc(list->opener, (size_t)n * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	list->opener = grown;
	list->nopener = n;
	return 0;
}

/* Links dev in at link (kept sorted by handle) for opener uid, with the
 * list's observer and injection; the list lock is held. */
static void link_dev(struct usv_devlist *list, struct usv_dev **link, struct usv_dev *dev,
		     uid_t uid)
{
	dev->obs = list->obs;
	dev->obs_ctx = list->obs_ctx;
	dev->inject = list->inject;
	dev->next = *link;
	*link = dev;
	list->opener[dev->handle] = uid;
	list->count++;
}

int usv_devlist_add_uid(struct usv_devlist *list, uid_t uid, unsigned *handle)
{
	struct usv_dev **link, *dev;
	unsigned h = 0;
	int ret = 0;

	pthread_mutex_lock(&list->lock);
	if (list->max_per_uid && count_uid_locked(list, uid) >= list->max_per_uid) {
		ret = -EMFILE;
		goto out;
	}
	/* The list is sorted: the first gap is the lowest free handle. */
	for (link = &list->head; *link && (*link)->handle == h; link = &(*link)->next)
		h++;
	if (h == UINT_MAX) {
		ret = -ENFILE;
		goto out;
	}
	ret = reserve_opener(list, h);
	if (ret)
		goto out;
	dev = usv_dev_new(h, list->profile, list->dp, list->dp_ctx);
	if (!dev) {
		ret = -ENOMEM;
		goto out;
	}
	link_dev(list, link, dev, uid);
	*handle = h;
out:
	pthread_mutex_unlock(&list->lock);
	return ret;
}

int usv_devlist_add(struct usv_devlist *list, unsigned *handle)
{
	return usv_devlist_add_uid(list, 0, handle);
}

int usv_devlist_insert(struct usv_devlist *list, struct usv_dev *dev, uid_t uid)
{
	struct usv_dev **link;
	unsigned h = dev->handle;
	int ret;

	pthread_mutex_lock(&list->lock);
	for (link = &list->head; *link && (*link)->handle < h; link = &(*link)->next)
		;
	if (*link && (*link)->handle == h) {
		ret = -EEXIST;
		goto out;
	}
	if (h == UINT_MAX) {
		ret = -EINVAL;
		goto out;
	}
	ret = reserve_opener(list, h);
	if (ret)
		goto out;
	link_dev(list, link, dev, uid);
out:
	pthread_mutex_unlock(&list->lock);
	return ret;
}

struct usv_dev *usv_devlist_get(struct usv_devlist *list, unsigned handle)
{
	struct usv_dev *dev;

	pthread_mutex_lock(&list->lock);
	for (dev = list->head; dev && dev->handle < handle; dev = dev->next)
		;
	if (dev && dev->handle != handle)
		dev = NULL;
	pthread_mutex_unlock(&list->lock);
	return dev;
}

/* Rings still running at release are stopped by the release: say so. */
static void observe_release_detach(struct usv_dev *dev)
{
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		struct usv_obs_event ev = { .kind = USV_OBS_DETACH, .handle = dev->handle,
					    .index = i, .backend = &dev->vqs[i].backend,
					    .reason = "release" };

		if (usv_vq_running(&dev->vqs[i]))
			usv_dev_observe(dev, &ev);
	}
}

int usv_devlist_remove(struct usv_devlist *list, unsigned handle)
{
	struct usv_dev **link, *dev = NULL;

	pthread_mutex_lock(&list->lock);
	for (link = &list->head; *link; link = &(*link)->next) {
		if ((*link)->handle == handle) {
			dev = *link;
			*link = dev->next;
			list->count--;
			break;
		}
	}
	/* Reported before the handle can be reused by another open, so that a
	 * trace never shows a release after the next open of its handle. No
	 * request is in flight on a released device: its lock is free. */
	if (dev && list->obs && list->obs->event) {
		struct usv_obs_event ev = { .kind = USV_OBS_RELEASE, .handle = handle,
					    .open_count = list->count };

		pthread_mutex_lock(&dev->lock);
		observe_release_detach(dev);
		pthread_mutex_unlock(&dev->lock);
		list->obs->event(list->obs_ctx, NULL, &ev);
	}
	pthread_mutex_unlock(&list->lock);
	if (!dev)
		return -ENOENT;
	/* Outside the list lock: stopping rings waits for the datapath. */
	pthread_mutex_lock(&dev->lock);
	pthread_mutex_unlock(&dev->lock);
	usv_dev_free(dev);
	return 0;
}

unsigned usv_devlist_count(struct usv_devlist *list)
{
	unsigned n;

	pthread_mutex_lock(&list->lock);
	n = list->count;
	pthread_mutex_unlock(&list->lock);
	return n;
}

void usv_devlist_for_each(struct usv_devlist *list, void (*fn)(struct usv_dev *dev, void *arg),
			  void *arg)
{
	pthread_mutex_lock(&list->lock);
	for (struct usv_dev *d = list->head; d; d = d->next)
		fn(d, arg);
	pthread_mutex_unlock(&list->lock);
}

unsigned usv_devlist_count_uid(struct usv_devlist *list, uid_t uid)
{
	unsigned n;

	pthread_mutex_lock(&list->lock);
	n = count_uid_locked(list, uid);
	pthread_mutex_unlock(&list->lock);
	return n;
}

void usv_devlist_set_max_per_uid(struct usv_devlist *list, unsigned max)
{
	list->max_per_uid = max;
}

void usv_devlist_set_datapath(struct usv_devlist *list,
			      const struct usv_datapath_ops *dp, void *dp_ctx)
{
	list->dp = dp;
	list->dp_ctx = dp_ctx;
}

void usv_devlist_set_observer(struct usv_devlist *list,
			      const struct usv_observer *obs, void *obs_ctx)
{
	list->obs = obs;
	list->obs_ctx = obs_ctx;
}

void usv_devlist_set_inject(struct usv_devlist *list, struct usv_inject *inject)
{
	list->inject = inject;
}

void usv_devlist_observe(struct usv_devlist *list, const struct usv_obs_event *ev)
{
	if (list->obs && list->obs->event)
		list->obs->event(list->obs_ctx, NULL, ev);
}
