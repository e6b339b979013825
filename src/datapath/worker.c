/* SPDX-License-Identifier: MIT */
/*
 * The generic worker, as vhost.c's vhost_worker: one thread and one io_uring
 * per device, polling its kick eventfds and tap (multishot), applying the
 * control plane's messages between two goes at the rings, and calling each
 * queued ring's handler in turn. It knows nothing of the net device. An idle
 * worker sleeps in poll(2) on its io_uring: an idle device costs no CPU.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "datapath/dp_internal.h"

static uint64_t tag(const void *p, unsigned t)
{
	return (uint64_t)(uintptr_t)p | t;
}

struct io_uring_sqe *usv_dp_get_sqe(struct usv_worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->uring);

	if (!sqe) { /* full: hand what we have to the kernel and retry */
		io_uring_submit(&w->uring);
		sqe = io_uring_get_sqe(&w->uring);
	}
	return sqe;
}

void usv_dp_sqe_op(struct io_uring_sqe *sqe, struct usv_dp_op *op)
{
	io_uring_sqe_set_data64(sqe, tag(op, USV_TAG_OP));
}

static void cancel(struct usv_worker *w, uint64_t user_data)
{
	struct io_uring_sqe *sqe = usv_dp_get_sqe(w);

	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, user_data, 0);
	io_uring_sqe_set_data64(sqe, tag(w, USV_TAG_CANCEL));
}

void usv_dp_cancel_op(struct usv_worker *w, struct usv_dp_op *op)
{
	cancel(w, tag(op, USV_TAG_OP));
}

void usv_dp_poll_arm(struct usv_dp_ring *r, unsigned t)
{
	int fd = t == USV_TAG_KICK ? r->kick_fd : r->backend_fd;
	struct io_uring_sqe *sqe = usv_dp_get_sqe(r->w);

	if (!sqe) {
		usv_err("dev %u: vq %u: io_uring full, cannot poll fd %d",
			r->devno, r->idx, fd);
		return;
	}
	if (t == USV_TAG_KICK)
		io_uring_prep_poll_multishot(sqe, fd, POLLIN);
	else
		io_uring_prep_poll_add(sqe, fd, POLLIN);
	io_uring_sqe_set_data64(sqe, tag(r, t));
	if (t == USV_TAG_KICK)
		r->kick_tag = tag(r, t);
	else
		r->tap_tag = tag(r, t);
	r->polls |= 1u << t;
}

void usv_dp_tap_wait(struct usv_dp_ring *r)
{
	if (!(r->polls & (1u << USV_TAG_TAP)) && r->running && !r->broken)
		usv_dp_poll_arm(r, USV_TAG_TAP);
}

void usv_dp_poll_cancel(struct usv_dp_ring *r, unsigned t)
{
	uint64_t ud = t == USV_TAG_KICK ? r->kick_tag : r->tap_tag;

	if (ud && (r->polls & (1u << t))) {
		r->cancelling |= 1u << t;
		cancel(r->w, ud);
	}
}

void usv_dp_queue(struct usv_dp_ring *r)
{
	struct usv_worker *w = r->w;

	if (r->queued || !r->running || r->broken)
		return;
	r->queued = true;
	r->next_work = NULL;
	*w->work_tail = r;
	w->work_tail = &r->next_work;
}

void usv_dp_unqueue(struct usv_dp_ring *r)
{
	struct usv_worker *w = r->w;
	struct usv_dp_ring **p;

	if (!r->queued)
		return;
	for (p = &w->work_head; *p; p = &(*p)->next_work) {
		if (*p == r) {
			*p = r->next_work;
			break;
		}
	}
	w->work_tail = &w->work_head;
	while (*w->work_tail)
		w->work_tail = &(*w->work_tail)->next_work;
	r->queued = false;
}

static void route_poll(struct usv_dp_ring *r, unsigned t, const struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		r->polls &= ~(1u << t);
		/* A multishot poll may end on its own (overflow): re-arm,
		 * unless a cancel is on its way (re-arming then would leave
		 * a poll on the old fd that nobody cancels, and the drain
		 * waiting for it forever). One that failed on its fd is
		 * reported, not retried. A one-shot tap poll ends here by
		 * design: RX arms it again once it has drained the tap. */
		if (r->cancelling & (1u << t)) {
			r->cancelling &= ~(1u << t);
			return;
		}
		if (cqe->res < 0 && cqe->res != -ECANCELED)
			usv_warn("dev %u: vq %u: %s poll failed: %s", r->devno,
				 r->idx, t == USV_TAG_KICK ? "kick" : "tap",
				 strerror(-cqe->res));
		else if (cqe->res >= 0 && r->running && !r->broken && t == USV_TAG_KICK)
			usv_dp_poll_arm(r, t);
	}
	/* A tap that says only POLLERR (deleted under us: every read fails
	 * and every poll says so at once) does not queue RX: that would spin.
	 * Its read error is counted and logged; a kick retries. */
	if (cqe->res > 0 && r->running && (t == USV_TAG_KICK || (cqe->res & POLLIN))) {
		if (t == USV_TAG_KICK)
			usv_dp_count(&r->st.kicks, 1);
		usv_dp_queue(r);
	}
}

/* Routes one completion: polls queue work, ops go back to their owner,
 * messages get applied later. */
static void route(struct usv_worker *w, const struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	unsigned t = ud & USV_TAG_MASK;
	void *p = (void *)(uintptr_t)(ud & ~(uint64_t)USV_TAG_MASK);

	switch (t) {
	case USV_TAG_KICK:
	case USV_TAG_TAP:
		route_poll(p, t, cqe);
		break;
	case USV_TAG_OP: {
		struct usv_dp_op *op = p;

		op->done(op, cqe);
		break;
	}
	case USV_TAG_CTL: {
		uint64_t v;

		if (read(w->ctl_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			usv_err("dev %u: worker control eventfd: %s", w->handle,
				strerror(errno));
		if (!(cqe->flags & IORING_CQE_F_MORE)) {
			struct io_uring_sqe *sqe = usv_dp_get_sqe(w);

			if (sqe) {
				io_uring_prep_poll_multishot(sqe, w->ctl_fd, POLLIN);
				io_uring_sqe_set_data64(sqe, tag(w, USV_TAG_CTL));
			}
		}
		/* Applied between two goes at the rings, never inside one. */
		w->msgs = true;
		break;
	}
	default: /* cancel results */
		break;
	}
}

static void route_all(struct usv_worker *w)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(&w->uring, &cqe) == 0) {
		struct io_uring_cqe copy = *cqe;

		io_uring_cqe_seen(&w->uring, cqe);
		route(w, &copy);
	}
}

void usv_dp_reap(struct usv_worker *w)
{
	io_uring_submit(&w->uring);
	route_all(w);
}

int usv_dp_wait(struct usv_worker *w, int timeout_ms)
{
	struct io_uring_cqe *cqe;
	int ret = io_uring_submit(&w->uring);

	if (ret < 0 && ret != -EINTR && ret != -EBUSY)
		return ret;
	/* Sleep in poll(2) on the ring rather than in io_uring_enter(): the
	 * same wake-ups, and tools that serialise threads (valgrind) know
	 * poll blocks. */
	if (io_uring_peek_cqe(&w->uring, &cqe) != 0) {
		struct pollfd pfd = { .fd = w->uring.ring_fd, .events = POLLIN };

		ret = poll(&pfd, 1, timeout_ms);
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (ret == 0)
			return -ETIME;
	}
	route_all(w);
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void usv_dp_wait_until(struct usv_worker *w, bool (*done)(void *), void *arg,
		       int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;

	while (!done(arg)) {
		int64_t left = end - now_ms();

		if (left <= 0 || usv_dp_wait(w, (int)left) == -ETIME)
			break;
	}
}

void usv_dp_poll_drain(struct usv_dp_ring *r, unsigned tag_bits)
{
	/* A poll's cancellation always completes: no timeout needed, but a
	 * failing io_uring must not spin here forever. */
	while (r->polls & tag_bits)
		if (usv_dp_wait(r->w, -1) < 0)
			break;
}

bool usv_dp_worker_has_work(struct usv_worker *w)
{
	return io_uring_cq_ready(&w->uring) || w->msgs ||
	       __atomic_load_n(&w->mhead, __ATOMIC_RELAXED);
}

static void apply_messages(struct usv_worker *w)
{
	for (;;) {
		struct usv_dp_msg *m;

		pthread_mutex_lock(&w->mlock);
		m = w->mhead;
		if (m) {
			w->mhead = m->next;
			if (!w->mhead)
				w->mtail = &w->mhead;
		}
		pthread_mutex_unlock(&w->mlock);
		if (!m)
			return;
		m->fn(m->arg);
		pthread_mutex_lock(&w->mlock);
		m->done = true;
		pthread_cond_broadcast(&w->mcond);
		pthread_mutex_unlock(&w->mlock);
	}
}

/* The last resort against a worker stuck in a system call that waits on
 * something the caller controls (an eventfd it made blocking between our
 * check and our write, a tap read on a kernel without RWF_NOWAIT): when the
 * control plane has waited this long, the worker gets a signal whose
 * handler does nothing, so that the call returns EINTR. */
#define STUCK_MS 5000
#define KICK_SIGNAL (SIGRTMIN + 1)

static void kick_handler(int sig)
{
	(void)sig;
}

int usv_dp_kick_setup(void)
{
	struct sigaction sa = { .sa_handler = kick_handler }; /* no SA_RESTART */

	sigemptyset(&sa.sa_mask);
	return sigaction(KICK_SIGNAL, &sa, NULL) ? -errno : 0;
}

void usv_dp_send(struct usv_worker *w, void (*fn)(void *arg), void *arg)
{
	struct usv_dp_msg m = { .fn = fn, .arg = arg };
	uint64_t one = 1;
	bool warned = false;

	pthread_mutex_lock(&w->mlock);
	*w->mtail = &m;
	w->mtail = &m.next;
	pthread_mutex_unlock(&w->mlock);
	if (write(w->ctl_fd, &one, sizeof(one)) != sizeof(one))
		usv_err("dev %u: cannot wake the worker: %s", w->handle, strerror(errno));
	pthread_mutex_lock(&w->mlock);
	while (!m.done) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += STUCK_MS / 1000;
		if (pthread_cond_timedwait(&w->mcond, &w->mlock, &ts) != ETIMEDOUT || m.done)
			continue;
		if (!warned)
			usv_warn("dev %u: the worker has not answered for %d s: interrupting "
				 "its system call", w->handle, STUCK_MS / 1000);
		warned = true;
		pthread_kill(w->thread, KICK_SIGNAL);
	}
	pthread_mutex_unlock(&w->mlock);
}

static void *worker_main(void *arg)
{
	struct usv_worker *w = arg;
	char name[16];

	/* As the kernel names its vhost-PID threads. */
	snprintf(name, sizeof(name), "usv-dev%u", w->handle);
	pthread_setname_np(pthread_self(), name);
	while (!w->quit) {
		struct usv_dp_ring *r;

		if (w->msgs) {
			w->msgs = false;
			apply_messages(w);
			continue;
		}
		r = w->work_head;
		if (!r) {
			int ret = usv_dp_wait(w, -1);

			if (ret < 0 && ret != -ETIME)
				usv_err("dev %u: io_uring wait failed: %s", w->handle,
					strerror(-ret));
			continue;
		}
		/* Pick up new completions without sleeping, then one go at the
		 * first ring; a ring with work left goes to the back. */
		usv_dp_reap(w);
		if (w->msgs || w->work_head != r)
			continue;
		w->work_head = r->next_work;
		if (!w->work_head)
			w->work_tail = &w->work_head;
		r->queued = false;
		if (!r->running || r->broken)
			continue;
		if (r->handle(r))
			usv_dp_queue(r);
	}
	return NULL;
}

/* Runs the worker on the CPUs of its node (the node of the guest's memory).
 * Only a matter of speed: a worker that cannot be pinned runs anywhere. */
static void pin_to_node(struct usv_worker *w)
{
	cpu_set_t set;
	int ret;

	if (w->node < 0)
		return;
	ret = usv_dp_node_cpus(w->node, &set);
	if (!ret)
		ret = -pthread_setaffinity_np(w->thread, sizeof(set), &set);
	if (ret)
		usv_warn("dev %u: worker not pinned to the CPUs of node %d: %s", w->handle,
			 w->node, strerror(-ret));
}

int usv_dp_worker_start(struct usv_worker *w, unsigned handle, int node)
{
	struct io_uring_sqe *sqe;
	unsigned iowq[2] = { USV_DP_IOWQ_MAX, USV_DP_IOWQ_MAX };
	pthread_condattr_t ca;
	int ret;

	w->handle = handle;
	w->node = node;
	w->mtail = &w->mhead;
	w->work_tail = &w->work_head;
	w->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->ctl_fd < 0)
		return -errno;
	ret = io_uring_queue_init(USV_DP_URING_ENTRIES, &w->uring, 0);
	if (ret)
		goto err_ctl;
	/* Blocked eventfd or tap writes wait in io-wq threads: a few at most
	 * (bounded and unbounded work alike). */
	ret = io_uring_register_iowq_max_workers(&w->uring, iowq);
	if (ret && ret != -EINVAL)
		usv_warn("dev %u: cannot bound io-wq threads: %s", handle, strerror(-ret));
	sqe = io_uring_get_sqe(&w->uring);
	io_uring_prep_poll_multishot(sqe, w->ctl_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, tag(w, USV_TAG_CTL));
	io_uring_submit(&w->uring);
	pthread_mutex_init(&w->mlock, NULL);
	ret = -pthread_condattr_init(&ca);
	if (ret)
		goto err_mutex;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	ret = -pthread_cond_init(&w->mcond, &ca);
	pthread_condattr_destroy(&ca);
	if (ret)
		goto err_mutex;
	ret = pthread_create(&w->thread, NULL, worker_main, w);
	if (ret) {
		/* The kernel's answer when it cannot make a vhost worker. */
		usv_err("dev %u: cannot create its worker thread: %s", handle, strerror(ret));
		ret = -ENOMEM;
		goto err_sync;
	}
	pin_to_node(w);
	w->thread_started = true;
	return 0;
err_sync:
	pthread_cond_destroy(&w->mcond);
err_mutex:
	pthread_mutex_destroy(&w->mlock);
	io_uring_queue_exit(&w->uring);
err_ctl:
	close(w->ctl_fd);
	w->ctl_fd = -1;
	return ret;
}

static void quit(void *arg)
{
	((struct usv_worker *)arg)->quit = true;
}

void usv_dp_worker_stop(struct usv_worker *w)
{
	if (!w->thread_started)
		return;
	usv_dp_send(w, quit, w);
	pthread_join(w->thread, NULL);
	/* Cancels what is left (pending eventfd writes) and waits for it. */
	io_uring_queue_exit(&w->uring);
	close(w->ctl_fd);
	pthread_cond_destroy(&w->mcond);
	pthread_mutex_destroy(&w->mlock);
	w->thread_started = false;
	w->ctl_fd = -1;
}
