/* SPDX-License-Identifier: MIT */
#include "daemon/stop_watch.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

int usv_stop_watch_init(struct usv_stop_watch *w, unsigned secs,
			void (*overdue)(void *ctx, unsigned secs), void *ctx)
{
	pthread_condattr_t ca;
	int ret;

	memset(w, 0, sizeof(*w));
	w->secs = secs;
	w->overdue = overdue;
	w->ctx = ctx;
	ret = -pthread_mutex_init(&w->lock, NULL);
	if (ret)
		return ret;
	ret = -pthread_condattr_init(&ca);
	if (!ret) {
		ret = -pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		if (!ret)
			ret = -pthread_cond_init(&w->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (ret) {
		pthread_mutex_destroy(&w->lock);
		memset(w, 0, sizeof(*w)); /* not set up: overdue is NULL */
	}
	return ret;
}

static void *watch_main(void *arg)
{
	struct usv_stop_watch *w = arg;
	struct timespec end;
	bool late = false;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += w->secs;
	pthread_mutex_lock(&w->lock);
	while (!w->finished && !late)
		late = pthread_cond_timedwait(&w->cond, &w->lock, &end) == ETIMEDOUT &&
		       !w->finished;
	pthread_mutex_unlock(&w->lock);
	if (late)
		w->overdue(w->ctx, w->secs);
	return NULL;
}

void usv_stop_watch_arm(struct usv_stop_watch *w)
{
	sigset_t block, old;
	int ret;

	if (!w->secs)
		return;
	pthread_mutex_lock(&w->lock);
	if (w->running || w->finished) {
		pthread_mutex_unlock(&w->lock);
		return;
	}
	/* The main thread, not the watch, takes the stop signals. */
	sigfillset(&block);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	ret = pthread_create(&w->thread, NULL, watch_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	w->running = ret == 0;
	pthread_mutex_unlock(&w->lock);
	if (ret)
		usv_warn("cannot start the stop's watch (%s): this stop may take longer "
			 "than --stop-timeout=%u", strerror(ret), w->secs);
}

void usv_stop_watch_destroy(struct usv_stop_watch *w)
{
	bool running;

	pthread_mutex_lock(&w->lock);
	w->finished = true;
	running = w->running;
	w->running = false;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	if (running)
		pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}
