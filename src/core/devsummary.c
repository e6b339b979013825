/* SPDX-License-Identifier: MIT */
#include "core/devsummary.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long a busy device is tried again (an ioctl holds its lock for a few
 * microseconds; a stop waiting on a stalled worker, for seconds). */
#define SUMMARY_TRIES 20
#define SUMMARY_PAUSE_NS 2000000L

/* With dev->lock held. */
static void copy_dev(const struct usv_dev *dev, struct usv_dev_summary *s)
{
	s->busy = false;
	s->owner = dev->owner.tgid;
	memcpy(s->comm, dev->owner.comm, sizeof(s->comm));
	s->comm[sizeof(s->comm) - 1] = '\0';
	memcpy(s->features, dev->acked_features, sizeof(s->features));
	s->backend_features = dev->acked_backend_features;
	s->ioctls = dev->ioctls;
	s->has_mem = dev->mem != NULL;
	s->nregions = s->nmapped = 0;
	if (dev->mem) {
		s->nregions = dev->mem->nregions;
		for (uint32_t i = 0; i < dev->mem->nregions; i++)
			s->nmapped += dev->mem->regions[i].strategy == USV_MEM_MMAP;
	}
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		s->vq[i].num = dev->vqs[i].num;
		s->vq[i].running = usv_vq_running(&dev->vqs[i]);
		s->vq[i].backend = dev->vqs[i].backend;
	}
}

/* One pass over the busy entries of s (all on the first pass), with the list
 * lock held; a device gone meanwhile keeps its last state. Returns how many
 * are still busy. */
static unsigned pass(struct usv_devlist *list, struct usv_dev_summary *s, unsigned n)
{
	const struct usv_dev *d = list->head;
	unsigned busy = 0;

	for (unsigned i = 0; i < n; i++) {
		if (!s[i].busy)
			continue;
		while (d && d->handle < s[i].handle)
			d = d->next;
		if (!d || d->handle != s[i].handle)
			continue; /* released since: its entry stays as it was */
		/* The device list's order (list, then device) allows the lock,
		 * but a device lock may be held for seconds: never wait. */
		if (pthread_mutex_trylock((pthread_mutex_t *)&d->lock)) {
			busy++;
			continue;
		}
		copy_dev(d, &s[i]);
		pthread_mutex_unlock((pthread_mutex_t *)&d->lock);
	}
	return busy;
}

int usv_devlist_summarize(struct usv_devlist *list, struct usv_dev_summary **out,
			  unsigned *n)
{
	struct timespec pause = { 0, SUMMARY_PAUSE_NS };
	struct usv_dev_summary *s;
	unsigned count = 0, busy;

	pthread_mutex_lock(&list->lock);
	s = calloc(list->count ? list->count : 1, sizeof(*s));
	if (!s) {
		pthread_mutex_unlock(&list->lock);
		return -ENOMEM;
	}
	for (const struct usv_dev *d = list->head; d; d = d->next) {
		s[count].handle = d->handle;
		s[count].uid = list->opener[d->handle];
		s[count].busy = true;
		count++;
	}
	busy = pass(list, s, count);
	pthread_mutex_unlock(&list->lock);
	for (unsigned t = 0; busy && t < SUMMARY_TRIES; t++) {
		nanosleep(&pause, NULL);
		pthread_mutex_lock(&list->lock);
		busy = pass(list, s, count);
		pthread_mutex_unlock(&list->lock);
	}
	*out = s;
	*n = count;
	return 0;
}
