/* SPDX-License-Identifier: MIT */
/*
 * Per-ring counters for people watching a running daemon: --stats=FILE is
 * rewritten (atomically, by rename) every second, on SIGUSR1, and at exit.
 * One line per ring of every open device:
 *   dev=0 vq=1 dir=tx backend=tap:tap0 state=running packets=.. bytes=..
 *   kicks=.. interrupts=.. drops=.. errors=..
 * and a last line with the totals of devices already released.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/log.h"
#include "datapath/dp_internal.h"

static uint64_t ld(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

static void counters(const struct usv_dp_stats *st, char *buf, size_t n)
{
	snprintf(buf, n,
		 "packets=%" PRIu64 " bytes=%" PRIu64 " kicks=%" PRIu64
		 " interrupts=%" PRIu64 " drops=%" PRIu64 " errors=%" PRIu64,
		 ld(&st->packets), ld(&st->bytes), ld(&st->kicks),
		 ld(&st->interrupts), ld(&st->drops), ld(&st->errors));
}

void usv_dp_stats_line(const struct usv_dp_ring *r, char *buf, size_t n)
{
	counters(&r->st, buf, n);
}

void usv_dp_write_stats(struct usv_dp *dp)
{
	char tmp[4096], line[256];
	FILE *f;

	if (!dp || !dp->stats_path)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", dp->stats_path);
	f = fopen(tmp, "we");
	if (!f) {
		usv_warn("stats: cannot write %s: %s", tmp, strerror(errno));
		return;
	}
	pthread_mutex_lock(&dp->lock);
	for (const struct usv_dp_dev *d = dp->devs; d; d = d->next) {
		for (unsigned i = 0; i < USV_NET_NVQS; i++) {
			const struct usv_dp_ring *r = &d->ring[i];

			counters(&r->st, line, sizeof(line));
			fprintf(f, "dev=%u vq=%u dir=%s backend=%s state=%s %s\n", d->handle, i,
				i == USV_VQ_RX ? "rx" : "tx",
				r->backend_name[0] ? r->backend_name : "none",
				__atomic_load_n(&r->broken, __ATOMIC_RELAXED) ? "broken" :
				__atomic_load_n(&r->running, __ATOMIC_RELAXED) ? "running" : "stopped",
				line);
		}
	}
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		counters(&dp->retired[i], line, sizeof(line));
		fprintf(f, "released vq=%u dir=%s %s\n", i, i == USV_VQ_RX ? "rx" : "tx", line);
	}
	pthread_mutex_unlock(&dp->lock);
	if (fclose(f) || rename(tmp, dp->stats_path))
		usv_warn("stats: cannot replace %s: %s", dp->stats_path, strerror(errno));
}

static const char *ring_state(const struct usv_dp_ring *r)
{
	return __atomic_load_n(&r->broken, __ATOMIC_RELAXED) ? "broken" :
	       __atomic_load_n(&r->running, __ATOMIC_RELAXED) ? "running" : "stopped";
}

static void copy_counters(const struct usv_dp_stats *st, struct usv_dp_ring_stats *o)
{
	o->packets = ld(&st->packets);
	o->bytes = ld(&st->bytes);
	o->kicks = ld(&st->kicks);
	o->interrupts = ld(&st->interrupts);
	o->drops = ld(&st->drops);
	o->errors = ld(&st->errors);
}

int usv_dp_stats_collect(struct usv_dp *dp, struct usv_dp_ring_stats **out, unsigned *n)
{
	struct usv_dp_ring_stats *s;
	unsigned count = 0, k = 0;

	pthread_mutex_lock(&dp->lock);
	for (const struct usv_dp_dev *d = dp->devs; d; d = d->next)
		count += USV_NET_NVQS;
	s = calloc(count + USV_NET_NVQS, sizeof(*s));
	if (!s) {
		pthread_mutex_unlock(&dp->lock);
		return -ENOMEM;
	}
	for (const struct usv_dp_dev *d = dp->devs; d; d = d->next) {
		for (unsigned i = 0; i < USV_NET_NVQS; i++, k++) {
			const struct usv_dp_ring *r = &d->ring[i];

			s[k].handle = d->handle;
			s[k].idx = i;
			snprintf(s[k].backend, sizeof(s[k].backend), "%s", r->backend_name);
			s[k].state = ring_state(r);
			copy_counters(&r->st, &s[k]);
		}
	}
	for (unsigned i = 0; i < USV_NET_NVQS; i++, k++) {
		s[k].handle = UINT_MAX;
		s[k].idx = i;
		s[k].state = "released";
		copy_counters(&dp->retired[i], &s[k]);
	}
	pthread_mutex_unlock(&dp->lock);
	*out = s;
	*n = k;
	return 0;
}

struct usv_dp_seed {
	struct usv_dp_seed *next;
	const struct usv_dev *key; /* the device's, as usv_dp_dev's */
	unsigned idx;
	struct usv_dp_stats st;
};

static void add_counters(struct usv_dp_stats *to, const struct usv_dp_stats *from)
{
	usv_dp_count(&to->packets, from->packets);
	usv_dp_count(&to->bytes, from->bytes);
	usv_dp_count(&to->kicks, from->kicks);
	usv_dp_count(&to->interrupts, from->interrupts);
	usv_dp_count(&to->drops, from->drops);
	usv_dp_count(&to->errors, from->errors);
}

int usv_dp_stats_seed(struct usv_dp *dp, const struct usv_dev *dev, unsigned idx,
		      const struct usv_dp_ring_stats *st)
{
	struct usv_dp_stats add = { .packets = st->packets, .bytes = st->bytes,
				    .kicks = st->kicks, .interrupts = st->interrupts,
				    .drops = st->drops, .errors = st->errors };
	struct usv_dp_seed *s;
	struct usv_dp_dev *d;
	int ret = 0;

	if (idx >= USV_NET_NVQS)
		return -EINVAL;
	pthread_mutex_lock(&dp->lock);
	for (d = dp->devs; d && d->key != dev; d = d->next)
		;
	if (d) {
		/* The worker counts with atomic adds: so do we. */
		add_counters(&d->ring[idx].st, &add);
	} else if ((s = calloc(1, sizeof(*s)))) {
		s->key = dev;
		s->idx = idx;
		s->st = add;
		s->next = dp->seeds;
		dp->seeds = s;
	} else {
		ret = -ENOMEM;
	}
	pthread_mutex_unlock(&dp->lock);
	return ret;
}

void usv_dp_stats_take_seeds(struct usv_dp *dp, struct usv_dp_dev *d)
{
	struct usv_dp_seed **p = &dp->seeds;

	while (*p) {
		struct usv_dp_seed *s = *p;

		if (s->key != d->key) {
			p = &s->next;
			continue;
		}
		add_counters(&d->ring[s->idx].st, &s->st);
		*p = s->next;
		free(s);
	}
}

void usv_dp_stats_retire_seeds(struct usv_dp *dp, const struct usv_dev *dev)
{
	struct usv_dp_seed **p;

	pthread_mutex_lock(&dp->lock);
	for (p = &dp->seeds; *p;) {
		struct usv_dp_seed *s = *p;

		if (s->key != dev) {
			p = &s->next;
			continue;
		}
		add_counters(&dp->retired[s->idx], &s->st);
		*p = s->next;
		free(s);
	}
	pthread_mutex_unlock(&dp->lock);
}

void usv_dp_stats_free_seeds(struct usv_dp *dp)
{
	while (dp->seeds) {
		struct usv_dp_seed *s = dp->seeds;

		dp->seeds = s->next;
		free(s);
	}
}

static void *stats_main(void *arg)
{
	struct usv_dp *dp = arg;
	struct pollfd pfd[2] = {
		{ .fd = dp->stats_stop_fd, .events = POLLIN },
		{ .fd = dp->stats_sigfd, .events = POLLIN },
	};

	pthread_setname_np(pthread_self(), "usv-stats");
	for (;;) {
		int n = poll(pfd, dp->stats_sigfd >= 0 ? 2 : 1, 1000);

		if (n > 0 && (pfd[0].revents & POLLIN))
			break;
		if (n > 0 && (pfd[1].revents & POLLIN)) {
			struct signalfd_siginfo si;

			if (read(dp->stats_sigfd, &si, sizeof(si)) < 0)
				usv_warn("stats: signalfd: %s", strerror(errno));
		}
		usv_dp_write_stats(dp);
	}
	usv_dp_write_stats(dp);
	return NULL;
}

int usv_dp_stats_start(struct usv_dp *dp)
{
	sigset_t set;
	int ret;

	dp->stats_stop_fd = eventfd(0, EFD_CLOEXEC);
	if (dp->stats_stop_fd < 0)
		return -errno;
	/* SIGUSR1 is blocked in every thread (the daemon does it before any
	 * starts) and read here. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	dp->stats_sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (dp->stats_sigfd < 0) {
		ret = -errno;
		usv_err("stats: cannot read SIGUSR1 through a signalfd: %s", strerror(-ret));
		return ret;
	}
	ret = pthread_create(&dp->stats_thread, NULL, stats_main, dp);
	if (ret) {
		usv_err("stats: cannot create the writer thread: %s", strerror(ret));
		return -ret;
	}
	dp->stats_started = true;
	return 0;
}

void usv_dp_stats_stop(struct usv_dp *dp)
{
	uint64_t one = 1;

	if (dp->stats_started) {
		if (write(dp->stats_stop_fd, &one, sizeof(one)) < 0)
			usv_warn("stats: cannot stop the writer: %s", strerror(errno));
		pthread_join(dp->stats_thread, NULL);
		dp->stats_started = false;
	}
	if (dp->stats_sigfd >= 0)
		close(dp->stats_sigfd);
	if (dp->stats_stop_fd >= 0)
		close(dp->stats_stop_fd);
	dp->stats_sigfd = dp->stats_stop_fd = -1;
}
