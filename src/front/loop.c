/* SPDX-License-Identifier: MIT */
/*
 * The request loop (front/loop.h). Workers poll the session fd and the run's
 * stop eventfd; a worker that finds a request answers it before it looks at
 * the stop again, and one that finds nothing (another worker took it) polls
 * again. A worker starts another when none is left idle, as libfuse's loop
 * does.
 *
 * Requests that take a device's lock (ioctls, IOTLB message writes, the
 * release) take turns per device: while one is answered, the next ones for
 * that device are copied and wait in its queue holding no thread, and the
 * thread whose turn it is answers them in order before it polls again. So
 * a device whose request waits for ever (a ring stop behind a read of its
 * owner's memory that the owner never lets finish) holds one thread, and
 * the loop may start one more thread per such device: the others always
 * find USV_FRONT_THREADS.
 *
 * A stop for good (not a hand-over) calls the daemon's stopping hook and
 * then waits for every worker; the daemon bounds that wait (--stop-timeout).
 *
 * The loop thread itself only waits: for a hand-over request, the end of
 * the session, or libfuse's signal handlers marking it exited. Workers
 * block those signals; the kernel gives a process-directed signal to the
 * main thread first, which runs the loop in usvhostd, so the signal
 * interrupts the wait. One that another thread takes is seen at the next
 * tick (LOOP_TICK_MS).
 */
#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>
#include <linux/fuse.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "front/front.h"
#include "front/front_ctl.h"
#include "front/loop.h"

#define LOOP_TICK_MS 1000
/* How long a hand-over waits for the requests in progress. One that waits
 * longer (a device whose owner's memory does not answer) refuses the
 * hand-over, and the loop serves on: an owner must not be able to keep
 * the daemon from being upgraded, nor leave it serving nobody. */
#define DRAIN_MS 5000
/* Requests, and bytes of them, that may wait for one device: far more
 * than QEMU ever has in flight for one (a request per vCPU and IOTLB
 * writes; a SET_MEM_TABLE of 509 regions is 16 KiB), and a bound on what a
 * caller whose requests do not finish can make the daemon hold. Past either
 * a request is answered EAGAIN (a release always waits). */
#define PARKED_MAX 64
#define PARKED_BYTES_MAX (256 * 1024)

/* A request for a device whose turn it is, copied: it holds no thread. */
struct parked {
	struct parked *next;
	size_t size;
	char mem[];
};

/* A device (the fh of its open) with a request being answered. */
struct turn {
	struct turn *next;
	uint64_t fh;
	struct parked *head, **tail;
	unsigned n;    /* parked, at most PARKED_MAX but for releases */
	size_t bytes;  /* theirs, at most PARKED_BYTES_MAX but for releases */
	bool told;     /* a refusal was logged */
};

/* A worker thread; done once it has left its loop (it may be joined). */
struct slot {
	pthread_t t;
	bool done;
};

struct run {
	struct fuse_session *se;
	struct usv_front_loop *loop;
	struct usv_front_init *init;
	struct usv_front_ctl *ctl;
	const struct usv_front_hooks *hooks;
	int stop_fd;              /* readable once the workers must stop */
	pthread_mutex_t lock;
	pthread_cond_t gone;      /* a worker left its loop */
	struct slot *thread;      /* cap entries */
	unsigned nthreads, idle, cap;
	unsigned live;            /* of nthreads, not done */
	struct turn *turns;       /* devices being answered */
	unsigned nturns;
	bool told_max;            /* USV_FRONT_THREADS_MAX was logged */
	bool stop;                /* no more workers are started */
	int error;                /* the session failed (-errno) */
	bool ended;               /* the kernel ended the session */
};

bool usv_front_init_peek(const struct fuse_buf *buf, struct usv_front_init *init)
{
	const struct fuse_in_header *in = buf->mem;
	const struct fuse_init_in *a;

	if ((buf->flags & FUSE_BUF_IS_FD) || buf->size < sizeof(*in) + 16 ||
	    (in->opcode != FUSE_INIT && in->opcode != CUSE_INIT))
		return false;
	/* CUSE's cuse_init_in and fuse_init_in share major, minor and (at
	 * offset 12) flags; max_readahead and flags2 are FUSE's only. */
	a = (const void *)(in + 1);
	init->seen = true;
	init->major = a->major;
	init->minor = a->minor;
	init->flags = a->flags;
	init->max_readahead = 0;
	if (in->opcode == FUSE_INIT) {
		init->max_readahead = a->max_readahead;
		if ((a->flags & FUSE_INIT_EXT) && buf->size >= sizeof(*in) + sizeof(*a))
			init->flags |= (uint64_t)a->flags2 << 32;
	}
	return true;
}

static void stop_workers(struct run *r)
{
	uint64_t one = 1;

	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_mutex_unlock(&r->lock);
	atomic_store(&r->loop->stopping, true);
	if (write(r->stop_fd, &one, sizeof(one)) < 0)
		usv_err("cannot wake the request threads: %s", strerror(errno));
}

static void *worker(void *arg);

/* The device a request acts on, for those that take the device's lock: an
 * ioctl, an IOTLB message write, the release (each carries the open's fh
 * first). Reads and polls of the IOTLB channel wait on its message queue,
 * not on the device, and go at once. */
static bool device_of(const struct fuse_buf *buf, uint64_t *fh, bool *release)
{
	const struct fuse_in_header *in = buf->mem;

	if ((buf->flags & FUSE_BUF_IS_FD) || buf->size < sizeof(*in) + sizeof(*fh))
		return false;
	switch (in->opcode) {
	case FUSE_IOCTL:
	case FUSE_WRITE:
	case FUSE_RELEASE:
		memcpy(fh, (const char *)buf->mem + sizeof(*in), sizeof(*fh));
		*release = in->opcode == FUSE_RELEASE;
		return true;
	default:
		return false;
	}
}

/* With r->lock held: fh's turn, if it has one. */
static struct turn *turn_of(struct run *r, uint64_t fh)
{
	struct turn *t;

	for (t = r->turns; t && t->fh != fh; t = t->next)
		;
	return t;
}

/* With r->lock held: fh's turn begins; NULL when out of memory (the
 * request then waits for the device's lock on its thread, as before). */
static struct turn *turn_begin(struct run *r, uint64_t fh)
{
	struct turn *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->fh = fh;
	t->tail = &t->head;
	t->next = r->turns;
	r->turns = t;
	r->nturns++;
	return t;
}

/* With r->lock held: buf waits for t's device. -ENOMEM: not parked. */
static int park(struct turn *t, const struct fuse_buf *buf)
{
	struct parked *p = malloc(sizeof(*p) + buf->size);

	if (!p)
		return -ENOMEM;
	p->next = NULL;
	p->size = buf->size;
	memcpy(p->mem, buf->mem, buf->size);
	*t->tail = p;
	t->tail = &p->next;
	t->n++;
	t->bytes += buf->size;
	return 0;
}

/* Answers the request in buf with -err, straight to the kernel: libfuse
 * never saw it. */
static void refuse(struct run *r, const struct fuse_buf *buf, int err)
{
	const struct fuse_in_header *in = buf->mem;
	struct fuse_out_header out = { .len = sizeof(out), .error = -err, .unique = in->unique };

	if (write(fuse_session_fd(r->se), &out, sizeof(out)) != sizeof(out))
		usv_err("cannot answer a request: %s", strerror(errno));
}

enum turn_taken { TURN_NONE, TURN_MINE, TURN_PARKED, TURN_REFUSED };

/* With r->lock held: where buf goes. TURN_MINE: this thread answers it and
 * then what was parked meanwhile (*t); TURN_NONE: it takes no turn (or no
 * memory was left for one) and is answered here. */
static enum turn_taken take_turn(struct run *r, const struct fuse_buf *buf, struct turn **t)
{
	bool release = false;
	uint64_t fh;

	*t = NULL;
	if (!device_of(buf, &fh, &release))
		return TURN_NONE;
	*t = turn_of(r, fh);
	if (!*t) {
		*t = turn_begin(r, fh);
		return *t ? TURN_MINE : TURN_NONE;
	}
	if (!release && ((*t)->n >= PARKED_MAX || (*t)->bytes + buf->size > PARKED_BYTES_MAX)) {
		if (!(*t)->told)
			usv_warn("dev %llu: %u requests (%zu bytes) wait for its request in "
				 "progress; more are answered EAGAIN until it finishes",
				 (unsigned long long)fh, (*t)->n, (*t)->bytes);
		(*t)->told = true;
		return TURN_REFUSED;
	}
	if (park(*t, buf)) {
		*t = NULL; /* out of memory: answered out of turn */
		return TURN_NONE;
	}
	return TURN_PARKED;
}

/* Answers what came for t's device meanwhile, in order, then ends t. */
static void turn_finish(struct run *r, struct turn *t)
{
	for (;;) {
		struct fuse_buf b = { .size = 0 };
		struct turn **pt;
		struct parked *p;

		pthread_mutex_lock(&r->lock);
		p = t->head;
		if (p) {
			t->head = p->next;
			if (!t->head)
				t->tail = &t->head;
			t->n--;
			t->bytes -= p->size;
			pthread_mutex_unlock(&r->lock);
			b.mem = p->mem;
			b.size = p->size;
			fuse_session_process_buf(r->se, &b);
			free(p);
			continue;
		}
		for (pt = &r->turns; *pt != t; pt = &(*pt)->next)
			;
		*pt = t->next;
		r->nturns--;
		pthread_mutex_unlock(&r->lock);
		free(t);
		return;
	}
}

/* With r->lock held: room for one more thread. */
static bool may_start(struct run *r)
{
	struct slot *grown;
	unsigned cap;

	if (r->stop || r->nthreads >= USV_FRONT_THREADS + r->nturns)
		return false;
	if (r->nthreads >= USV_FRONT_THREADS_MAX) {
		if (!r->told_max)
			usv_warn("%u request threads, the most there may be: %u devices wait "
				 "on their requests", r->nthreads, r->nturns);
		r->told_max = true;
		return false;
	}
	if (r->nthreads < r->cap)
		return true;
	cap = r->cap * 2 < USV_FRONT_THREADS_MAX ? r->cap * 2 : USV_FRONT_THREADS_MAX;
	grown = realloc(r->thread, cap * sizeof(*grown));
	if (!grown) {
		usv_err("cannot start a request thread: %s", strerror(ENOMEM));
		return false;
	}
	r->thread = grown;
	r->cap = cap;
	return true;
}

/* With r->lock held. */
static void start_worker(struct run *r)
{
	sigset_t block, old;
	int ret;

	if (!may_start(r))
		return;
	/* The loop thread, not a worker, takes the stop signals, as in
	 * libfuse's loop. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	r->thread[r->nthreads].done = false;
	ret = pthread_create(&r->thread[r->nthreads].t, NULL, worker, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		usv_err("cannot start a request thread: %s", strerror(ret));
		return;
	}
	r->nthreads++;
	r->live++;
	r->idle++;
}

/* The calling worker leaves: it was idle (between two requests). */
static void worker_done(struct run *r)
{
	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < r->nthreads; i++)
		if (pthread_equal(r->thread[i].t, pthread_self()))
			r->thread[i].done = true;
	r->live--;
	r->idle--;
	pthread_cond_broadcast(&r->gone);
	pthread_mutex_unlock(&r->lock);
}

static void *worker(void *arg)
{
	struct run *r = arg;
	struct fuse_buf buf = { .mem = NULL };
	struct pollfd pfd[2] = {
		{ .fd = fuse_session_fd(r->se), .events = POLLIN },
		{ .fd = r->stop_fd, .events = POLLIN },
	};

	for (;;) {
		enum turn_taken taken;
		struct turn *t;
		bool is_init;
		int res;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR) {
			res = -errno;
			goto failed;
		}
		if (pfd[1].revents) {
			bool stop;

			pthread_mutex_lock(&r->lock);
			stop = r->stop;
			pthread_mutex_unlock(&r->lock);
			if (stop)
				break;
			continue; /* a hand-over was refused meanwhile (resume) */
		}
		if (!pfd[0].revents)
			continue;
		res = fuse_session_receive_buf(r->se, &buf);
		if (res == -EAGAIN || res == -EINTR)
			continue; /* another worker took it */
		if (res == 0) { /* ENODEV: unmounted, or the device went away */
			pthread_mutex_lock(&r->lock);
			r->ended = true;
			pthread_mutex_unlock(&r->lock);
			stop_workers(r);
			break;
		}
		if (res < 0)
			goto failed;
		pthread_mutex_lock(&r->lock);
		is_init = usv_front_init_peek(&buf, r->init);
		taken = take_turn(r, &buf, &t);
		if (taken == TURN_PARKED || taken == TURN_REFUSED) {
			pthread_mutex_unlock(&r->lock);
			if (taken == TURN_REFUSED)
				refuse(r, &buf, EAGAIN);
			continue;
		}
		if (--r->idle == 0)
			start_worker(r);
		pthread_mutex_unlock(&r->lock);
		fuse_session_process_buf(r->se, &buf);
		if (t)
			turn_finish(r, t);
		pthread_mutex_lock(&r->lock);
		r->idle++;
		/* The session can be described (and handed over) now. */
		if (is_init && r->ctl && !r->stop)
			usv_front_ctl_serving(r->ctl, true);
		pthread_mutex_unlock(&r->lock);
		continue;
failed:
		usv_err("reading FUSE requests: %s", strerror(-res));
		pthread_mutex_lock(&r->lock);
		r->error = res;
		pthread_mutex_unlock(&r->lock);
		stop_workers(r);
		break;
	}
	free(buf.mem);
	worker_done(r);
	return NULL;
}

/* Waits on the loop thread for a reason to stop: USV_LOOP_HANDOVER, or 0. */
static int wait_stop(struct run *r, struct usv_front_ctl *ctl)
{
	struct pollfd pfd[2] = {
		{ .fd = r->stop_fd, .events = POLLIN },
		{ .fd = ctl ? usv_front_ctl_fd(ctl) : -1, .events = POLLIN },
	};

	for (;;) {
		if (fuse_session_exited(r->se))
			return 0;
		if (ctl && usv_front_ctl_pending(ctl))
			return USV_LOOP_HANDOVER;
		if (poll(pfd, 2, LOOP_TICK_MS) > 0 && pfd[0].revents)
			return 0;
	}
}

/* After stop_workers(): waits up to ms for every worker to leave. */
static bool drained(struct run *r, int ms)
{
	struct timespec end;
	bool all;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += (long)(ms % 1000) * 1000000;
	if (end.tv_nsec >= 1000000000) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&r->lock);
	while (r->live && pthread_cond_timedwait(&r->gone, &r->lock, &end) != ETIMEDOUT)
		;
	all = r->live == 0;
	pthread_mutex_unlock(&r->lock);
	return all;
}

/* The kernel ended the session, or reading it failed. */
static bool session_over(struct run *r)
{
	bool over;

	pthread_mutex_lock(&r->lock);
	over = r->ended || r->error;
	pthread_mutex_unlock(&r->lock);
	return over;
}

/* With r->lock held: the devices whose request did not finish, for a log
 * line ("1 device: dev 3", "18 devices: dev 1, dev 2, dev 7 and 15 more"). */
static void busy_devices(struct run *r, char *buf, size_t n)
{
	enum { NAMED = 3 };
	size_t len;
	unsigned i = 0;

	if (!r->nturns) {
		snprintf(buf, n, "no device");
		return;
	}
	len = (size_t)snprintf(buf, n, "%u device%s:", r->nturns, r->nturns == 1 ? "" : "s");
	for (struct turn *t = r->turns; t && i < NAMED && len < n; t = t->next, i++)
		len += (size_t)snprintf(buf + len, n - len, "%s dev %llu", i ? "," : "",
					(unsigned long long)t->fh);
	if (r->nturns > NAMED && len < n)
		snprintf(buf + len, n - len, " and %u more", r->nturns - NAMED);
}

/* A hand-over was asked, but a request has not finished within DRAIN_MS:
 * the hand-over is refused (the asker told why) and the workers serve on,
 * the one still answering included. */
static void refuse_handover(struct run *r)
{
	char devs[128], why[256];
	unsigned kept = 0;
	uint64_t v;

	pthread_mutex_lock(&r->lock);
	busy_devices(r, devs, sizeof(devs));
	r->stop = false;
	if (read(r->stop_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		usv_err("request loop stop eventfd: %s", strerror(errno));
	atomic_store(&r->loop->stopping, false);
	for (unsigned i = 0; i < r->nthreads; i++) {
		if (r->thread[i].done)
			pthread_join(r->thread[i].t, NULL);
		else
			r->thread[kept++] = r->thread[i];
	}
	r->nthreads = kept;
	if (r->idle == 0)
		start_worker(r);
	pthread_mutex_unlock(&r->lock);
	snprintf(why, sizeof(why), "a request in progress has not finished in %d s (%s); "
		 "it waits on its device, whose owner's memory may not answer; serving on",
		 DRAIN_MS / 1000, devs);
	usv_warn("hand-over refused: %s", why);
	if (r->hooks && r->hooks->handover_refused)
		r->hooks->handover_refused(r->hooks->ctx, why);
	usv_front_ctl_serving(r->ctl, true);
	usv_front_ctl_done(r->ctl);
}

/* The front stops for good: the daemon is told (it bounds the stop), and a
 * request that has not finished in DRAIN_MS is named in the log; the loop
 * then waits for it. */
static void stop_for_good(struct run *r)
{
	char devs[128];

	if (r->hooks && r->hooks->stopping)
		r->hooks->stopping(r->hooks->ctx, fuse_session_fd(r->se));
	if (drained(r, DRAIN_MS))
		return;
	pthread_mutex_lock(&r->lock);
	busy_devices(r, devs, sizeof(devs));
	pthread_mutex_unlock(&r->lock);
	usv_warn("stopping: a request in progress has not finished in %d s (%s); it waits "
		 "on its device, whose owner's memory may not answer", DRAIN_MS / 1000, devs);
}

int usv_front_loop_run(struct fuse_session *se, struct usv_front_ctl *ctl,
		       const struct usv_front_hooks *hooks, struct usv_front_loop *loop,
		       struct usv_front_init *init)
{
	struct run r = { .se = se, .loop = loop, .init = init, .ctl = ctl, .hooks = hooks };
	pthread_condattr_t ca;
	int ret;

	atomic_store(&loop->stopping, false);
	r.cap = USV_FRONT_THREADS;
	r.thread = calloc(r.cap, sizeof(*r.thread));
	r.stop_fd = r.thread ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : -1;
	if (r.stop_fd < 0) {
		ret = r.thread ? -errno : -ENOMEM;
		goto out;
	}
	pthread_mutex_init(&r.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r.gone, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_lock(&r.lock);
	start_worker(&r);
	ret = r.nthreads ? 0 : -EAGAIN;
	pthread_mutex_unlock(&r.lock);
	if (!ret) {
		if (ctl && init->seen)
			usv_front_ctl_serving(ctl, true);
		for (;;) {
			ret = wait_stop(&r, ctl);
			stop_workers(&r);
			/* After the stop: no worker marks it serving again. */
			if (ctl)
				usv_front_ctl_serving(ctl, false);
			if (ret != USV_LOOP_HANDOVER) {
				stop_for_good(&r);
				break;
			}
			if (drained(&r, DRAIN_MS) || session_over(&r))
				break;
			refuse_handover(&r);
		}
		/* No worker starts once stop is set: the array is final. */
		for (unsigned i = 0; i < r.nthreads; i++)
			pthread_join(r.thread[i].t, NULL);
		if (r.error)
			ret = -EIO;
		else if (r.ended)
			ret = 0;
	}
	pthread_cond_destroy(&r.gone);
	pthread_mutex_destroy(&r.lock);
	close(r.stop_fd);
out:
	free(r.thread);
	return ret;
}
