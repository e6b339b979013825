/* SPDX-License-Identifier: MIT */
/*
 * owner-memory-stop: SIGTERM while devices wait on their owner's memory.
 * A worker waiting in a page fault on a frozen FUSE file mapped as guest
 * RAM cannot be stopped, so those devices cannot be released; the stop
 * must still end within --stop-timeout (hostile.c gives 8 s), with what is
 * seen from outside undone (the mount, the control socket), and the owner's
 * own ioctls answered (with an error) rather than left waiting.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "hostile.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

enum { STOP_DEVICES = 2, STOP_TIMEOUT_S = 8 };
#define STOP_PAGE (SPARE_AREA + 512 * 1024)

/* A ring stop, made once "go" is read; the thread starts before the
 * freeze and ends after "let go" (see hostile_stall.c: no thread of the
 * attacker may map or unmap while the daemon's fault holds its mmap lock). */
struct stop_call {
	int fd, go, leave;
	atomic_uint *started;
	atomic_bool done;
	int ret, err;
};

static void *stop_call_main(void *arg)
{
	struct stop_call *c = arg;
	struct usv_vhost_vring_state st = { .index = VQ_TX };
	uint64_t one;

	c->ret = -1;
	c->err = 0;
	atomic_fetch_add(c->started, 1);
	if (read(c->go, &one, sizeof(one)) == sizeof(one)) {
		c->ret = ioctl(c->fd, USV_VHOST_GET_VRING_BASE, &st);
		c->err = c->ret < 0 ? errno : 0;
	}
	atomic_store(&c->done, true);
	(void)!read(c->leave, &one, sizeof(one));
	return NULL;
}

struct stop_link {
	int up[2], down[2];
	const char *file;
};

static void release(int efd, uint64_t n)
{
	if (efd >= 0 && write(efd, &n, sizeof(n)) != sizeof(n))
		cl_setup_fail("release %llu callers", (unsigned long long)n);
}

/* Says up: 'r' (ready), 'k' (packets posted), the number of ring stops
 * waiting, then, after "let go", the number answered since the daemon
 * ended (each with an error). */
static int stop_attacker_main(void *arg)
{
	static struct hdev x[STOP_DEVICES];
	static char tags[STOP_DEVICES][32];
	static struct stop_call c[STOP_DEVICES];
	struct stop_link *l = arg;
	pthread_t t[STOP_DEVICES];
	unsigned up = 0, nt = 0;
	atomic_uint started = 0;
	int ffd, go, leave;
	uint8_t v = 0, waiting = 0, answered = 0;

	go = eventfd(0, EFD_CLOEXEC | EFD_SEMAPHORE);
	leave = eventfd(0, EFD_CLOEXEC | EFD_SEMAPHORE);
	ffd = open(l->file, O_RDONLY | O_CLOEXEC);
	if (go < 0 || leave < 0 || ffd < 0) {
		cl_setup_fail("eventfds, open %s", l->file);
		goto out;
	}
	for (; up < STOP_DEVICES; up++) {
		snprintf(tags[up], sizeof(tags[up]), "owner %u", up);
		if (!frozen_fs_owner_device(&x[up], tags[up], ffd, up, STOP_PAGE))
			goto out;
	}
	for (; nt < STOP_DEVICES; nt++) {
		c[nt] = (struct stop_call){ .fd = x[nt].d.fd, .go = go, .leave = leave,
					    .started = &started };
		if (pthread_create(&t[nt], NULL, stop_call_main, &c[nt])) {
			cl_setup_fail("a thread for GET_VRING_BASE");
			goto out;
		}
	}
	for (unsigned ms = 0; atomic_load(&started) < nt; ms += 5) {
		if (ms > cl_scaled(10000)) {
			cl_setup_fail("%u caller threads started in 10 s", nt);
			goto out;
		}
		cl_sleep_ms(5);
	}
	if (!hx_link_send(l->up[1], 'r') || !hx_link_recv(l->down[0], &v, 10000) || v != 'f')
		goto out;
	frozen_fs_owner_post(x, STOP_DEVICES, STOP_PAGE);
	if (!hx_link_send(l->up[1], 'k') || !hx_link_recv(l->down[0], &v, 30000) || v != 'b')
		goto out;
	release(go, nt);
	cl_sleep_ms(cl_scaled(300));
	for (unsigned i = 0; i < nt; i++)
		waiting = (uint8_t)(waiting + !atomic_load(&c[i].done));
	if (!hx_link_send(l->up[1], waiting) || !hx_link_recv(l->down[0], &v, 60000) ||
	    v != 'g')
		goto out;
	/* The daemon's end closes its FUSE fd, which ends the calls (the
	 * process ends once its last thread has left its wait). */
	for (unsigned i = 0; i < nt; i++) {
		for (unsigned ms = 0; !atomic_load(&c[i].done) && ms < cl_scaled(10000); ms += 10)
			cl_sleep_ms(10);
		answered = (uint8_t)(answered + (atomic_load(&c[i].done) && c[i].ret < 0));
	}
	hx_link_send(l->up[1], answered);
out:
	release(go, STOP_DEVICES); /* those never let go fail at once */
	release(leave, nt);
	for (unsigned i = 0; i < nt; i++)
		pthread_join(t[i], NULL);
	for (unsigned i = 0; i < up; i++)
		hdev_close(&x[i]);
	cl_close(&ffd);
	cl_close(&go);
	cl_close(&leave);
	return 0;
}

/* How long the daemon takes to end after SIGTERM; UINT64_MAX if it has not
 * within ms. */
static uint64_t daemon_end_ms(unsigned ms)
{
	uint64_t t0 = cl_now_ms(), end = t0 + ms;

	while (hx_daemon_alive()) {
		if (cl_now_ms() > end)
			return UINT64_MAX;
		cl_sleep_ms(20);
	}
	return cl_now_ms() - t0;
}

static bool gone(const char *path)
{
	struct stat st;

	return path && stat(path, &st) < 0 && errno == ENOENT;
}

void scenario_owner_memory_stop(void)
{
	struct stop_link l = { { -1, -1 }, { -1, -1 }, NULL };
	struct frozen_fs fz = { .pid = -1 };
	uint64_t took;
	pid_t apid = -1;
	uint8_t v = 0;

	if (!frozen_fs_start(&fz, STOP_DEVICES * 4096))
		goto out;
	if (pipe2(l.up, O_CLOEXEC) < 0 || pipe2(l.down, O_CLOEXEC) < 0) {
		cl_setup_fail("pipes");
		goto out;
	}
	l.file = fz.file;
	apid = cl_spawn(stop_attacker_main, &l, "the owner");
	if (apid < 0 ||
	    !frozen_fs_freeze_owner(&fz, l.up[0], l.down[1], "the owner", STOP_DEVICES) ||
	    !hx_link_send(l.down[1], 'b'))
		goto out;
	if (!hx_link_recv(l.up[0], &v, 10000) ||
	    !cl_check(v == STOP_DEVICES, "every ring stop waits on its worker (%u of %u)", v,
		      STOP_DEVICES))
		goto out;

	cl_print("    SIGTERM to usvhostd (pid %d), --stop-timeout=%u", (int)hx.daemon_pid,
		 STOP_TIMEOUT_S);
	if (kill(hx.daemon_pid, SIGTERM) < 0) {
		cl_setup_fail("SIGTERM usvhostd");
		goto out;
	}
	took = daemon_end_ms(cl_scaled((STOP_TIMEOUT_S + 10) * 1000));
	if (!cl_check(took != UINT64_MAX, "usvhostd ended within %u s of SIGTERM, devices "
		      "waiting on their owner's memory", STOP_TIMEOUT_S + 10))
		goto out;
	cl_print("    usvhostd ended %llu ms after SIGTERM", (unsigned long long)took);
	cl_check(took >= (STOP_TIMEOUT_S - 1) * 1000u, "it tried to release the devices for "
		 "about --stop-timeout first (%llu ms)", (unsigned long long)took);
	cl_check(hx_log_count("has not finished in 5 s (2 devices: dev ") == 1,
		 "its log named the 2 devices whose request had not finished after 5 s");
	cl_check(hx_log_count("not done after 8 s (--stop-timeout)") == 1,
		 "its log said why it ended the process after 8 s");
	cl_check(gone(hx.dev), "%s is gone (the FUSE file system unmounted)", hx.dev);
	cl_check(gone(hx.control), "the control socket %s is gone", hx.control);
	if (hx_link_send(l.down[1], 'g') && hx_link_recv(l.up[0], &v, 10000))
		cl_check(v == STOP_DEVICES, "the owner's ring stops were answered, with an error, "
			 "once the daemon had ended (%u of %u)", v, STOP_DEVICES);
	else
		cl_check(false, "the owner did not report its ring stops' answers");
out:
	if (fz.pid > 0)
		kill(fz.pid, SIGCONT);
	if (l.down[1] >= 0)
		hx_link_send(l.down[1], 'g');
	if (apid > 0)
		cl_reap(apid, 30000, "the owner");
	for (unsigned i = 0; i < 2; i++) {
		cl_close(&l.up[i]);
		cl_close(&l.down[i]);
	}
	frozen_fs_stop(&fz);
}
