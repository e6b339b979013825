/* SPDX-License-Identifier: MIT */
/*
 * The fronts' hand-over, without the daemon: this program plays both
 * serving processes and the user. Process A serves MOUNT/vhost-net with the
 * FUSE file front; process B waits for A's session. The user (this
 * process) opens the file, keeps it open and:
 *
 *  1. asks A for a hand-over whose hook fails (-EIO): a second request while
 *     it is pending is -EBUSY; the next ioctl is answered while B has not
 *     received anything, so by A, serving on;
 *  2. with ioctls issued back to back from another thread and a poll() on
 *     the file waiting, asks A again: A's hook sends the front state (JSON)
 *     and the session fd to B (SCM_RIGHTS), B answers "ready", A says "go"
 *     and exits 0; B inherits the session. Every ioctl is answered without
 *     error, one at least while the hand-over was under way (it waited);
 *     after A has exited, the same open file's next ioctl is answered (by
 *     B); a poll() waiting through it polls again at the hand-over (B
 *     holds its poll handle at exit);
 *  3. stops B (SIGTERM): B exits 0 and the mount, which B inherited, is
 *     gone; the end of the session wakes the poll().
 *
 * It also feeds usv_front_state_from_json() broken states, and asks a
 * control no front serves with for a hand-over (ENOTCONN). Run as root in a
 * private mount namespace (handover.sh). Exit 0 pass, 1 fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/devlist.h"
#include "core/profile.h"
#include "front/front.h"

#define HOOK_DELAY_MS 300 /* keeps the hand-over under way this long */

static int failures;

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);    \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
			failures++;                                             \
		}                                                               \
	} while (0)

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int send_fd(int sock, const void *buf, size_t len, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (fd >= 0) {
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, 0) == (ssize_t)len ? 0 : -1;
}

static ssize_t recv_fd(int sock, void *buf, size_t len, int *fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);

	*fd = -1;
	for (c = CMSG_FIRSTHDR(&mh); n >= 0 && c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	return n;
}

/* ---- process A: serves, then hands over to B ---- */

struct side_a {
	struct usv_front_ctl *ctl;
	int user;  /* from the user: 'H' asks for a hand-over */
	int to_b;
	int hooks; /* hook calls so far: the first one fails */
};

static int a_handover(void *ctx, int session_fd, const struct usv_front_state *st)
{
	struct side_a *a = ctx;
	json_object *j = NULL;
	const char *text;
	char answer = 0;
	int ret;

	if (a->hooks++ == 0)
		return -EIO;
	usleep(HOOK_DELAY_MS * 1000);
	ret = usv_front_state_to_json(st, &j);
	if (ret)
		return ret;
	text = json_object_to_json_string(j);
	ret = send_fd(a->to_b, text, strlen(text) + 1, session_fd) ? -EPIPE : 0;
	json_object_put(j);
	if (!ret && (read(a->to_b, &answer, 1) != 1 || answer != 'R'))
		ret = -EPIPE;
	if (!ret && write(a->to_b, "G", 1) != 1)
		ret = -EPIPE;
	return ret;
}

/* Asks for a hand-over on each 'H' from the user, and answers with the
 * results of asking (0) and of asking again at once (-EBUSY). */
static void *a_control(void *arg)
{
	struct side_a *a = arg;
	char c;

	while (read(a->user, &c, 1) == 1) {
		int r[2];

		r[0] = usv_front_ctl_handover(a->ctl);
		r[1] = usv_front_ctl_handover(a->ctl);
		if (write(a->user, r, sizeof(r)) != sizeof(r))
			break;
	}
	return NULL;
}

static int run_a(const char *mount, int user, int to_b)
{
	struct side_a a = { .user = user, .to_b = to_b };
	struct usv_front_config cfg = {
		.mount = mount, .mode = 0600, .foreground = true,
		.hooks = { .handover = a_handover, .ctx = &a },
	};
	struct usv_devlist devs;
	pthread_t t;
	int ret;

	if (usv_devlist_init(&devs, usv_profile_default(), NULL, NULL) ||
	    usv_front_ctl_new(&a.ctl))
		return 2;
	cfg.devs = &devs;
	cfg.ctl = a.ctl;
	pthread_create(&t, NULL, a_control, &a);
	pthread_detach(t);
	ret = usv_front_fusefile_run(&cfg);
	usv_devlist_destroy(&devs);
	return ret ? 3 : 0;
}

/* ---- process B: inherits A's session ---- */

static int run_b(int from_a)
{
	struct usv_front_config cfg = { .foreground = true };
	struct usv_front_state st;
	struct usv_devlist devs;
	char text[8192] = { 0 };
	json_object *j;
	unsigned handle;
	char go = 0;
	int fd, ret;

	if (recv_fd(from_a, text, sizeof(text) - 1, &fd) <= 0 || fd < 0)
		return 4;
	j = json_tokener_parse(text);
	ret = usv_front_state_from_json(j, &st);
	json_object_put(j);
	if (ret)
		return 5;
	/* The device the user opened from A (devstate restores it in the
	 * daemon): the same handle, the lowest free one. */
	if (usv_devlist_init(&devs, usv_profile_default(), NULL, NULL) ||
	    usv_devlist_add(&devs, &handle))
		return 6;
	if (write(from_a, "R", 1) != 1 || read(from_a, &go, 1) != 1 || go != 'G')
		return 7;
	cfg.devs = &devs;
	cfg.mount = st.mount;
	cfg.mode = st.mode;
	cfg.gid = st.gid;
	cfg.inherit = &st;
	cfg.session_fd = fd;
	ret = usv_front_fusefile_run(&cfg);
	/* A's poll handle was woken at the hand-over: the kernel polled
	 * again, and B keeps the new handle. */
	if (!ret) {
		struct usv_dev *d = usv_devlist_get(&devs, handle);

		if (!d || !d->msgq.poll_handle)
			ret = 9;
	}
	usv_devlist_destroy(&devs);
	return ret ? (ret == 9 ? 9 : 8) : 0;
}

/* ---- the user ---- */

struct hammer {
	int fd;
	atomic_bool stop;
	unsigned count, errors;
	double slowest_ms;
	uint64_t features;
};

static void *hammer(void *arg)
{
	struct hammer *h = arg;

	while (!atomic_load(&h->stop)) {
		double t0 = now_ms(), dt;
		uint64_t f = 0;

		if (ioctl(h->fd, VHOST_GET_FEATURES, &f) || f != h->features)
			h->errors++;
		dt = now_ms() - t0;
		if (dt > h->slowest_ms)
			h->slowest_ms = dt;
		h->count++;
	}
	return NULL;
}

struct poller {
	int fd, ret;
	double ms;
};

static void *poller(void *arg)
{
	struct poller *p = arg;
	struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
	double t0 = now_ms();

	p->ret = poll(&pfd, 1, 20000);
	p->ms = now_ms() - t0;
	return NULL;
}

static bool mounted(const char *mount)
{
	char line[8192], needle[4200];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	snprintf(needle, sizeof(needle), " %s ", mount);
	while (f && fgets(line, sizeof(line), f))
		found |= strstr(line, needle) != NULL;
	if (f)
		fclose(f);
	return found;
}

static int wait_exit(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void check_state_json(void)
{
	struct usv_front_state s = { .mode = 0660, .gid = 5, .proto_major = 7,
				     .proto_minor = 38, .max_readahead = 131072,
				     .init_flags = 0xfedcba9876543210ull }, t;
	static const char *const bad[] = {
		"[]",
		"{\"cuse\":false}",
		/* each member broken in turn, from a good FUSE state */
		"{\"cuse\":1,\"name\":\"\",\"mount\":\"/m\",\"mode\":0,\"gid\":0,\"proto_major\":7,\"proto_minor\":1,\"max_readahead\":0,\"init_flags\":\"0x0\"}",
		"{\"cuse\":false,\"name\":\"x\",\"mount\":\"/m\",\"mode\":0,\"gid\":0,\"proto_major\":7,\"proto_minor\":1,\"max_readahead\":0,\"init_flags\":\"0x0\"}",
		"{\"cuse\":false,\"name\":\"\",\"mount\":\"m\",\"mode\":0,\"gid\":0,\"proto_major\":7,\"proto_minor\":1,\"max_readahead\":0,\"init_flags\":\"0x0\"}",
		"{\"cuse\":false,\"name\":\"\",\"mount\":\"/m\",\"mode\":4096,\"gid\":0,\"proto_major\":7,\"proto_minor\":1,\"max_readahead\":0,\"init_flags\":\"0x0\"}",
		"{\"cuse\":false,\"name\":\"\",\"mount\":\"/m\",\"mode\":0,\"gid\":-1,\"proto_major\":7,\"proto_minor\":1,\"max_readahead\":0,\"init_flags\":\"0x0\"}",
		"{\"cuse\":false,\"name\":\"\",\"mount\":\"/m\",\"mode\":0,\"gid\":0,\"proto_major\":8,\"proto_minor\":1,\"max_readahead\":0,\"init_flags\":\"0x0\"}",
		"{\"cuse\":false,\"name\":\"\",\"mount\":\"/m\",\"mode\":0,\"gid\":0,\"proto_major\":7,\"proto_minor\":4294967296,\"max_readahead\":0,\"init_flags\":\"0x0\"}",
		"{\"cuse\":false,\"name\":\"\",\"mount\":\"/m\",\"mode\":0,\"gid\":0,\"proto_major\":7,\"proto_minor\":1,\"max_readahead\":\"0\",\"init_flags\":\"0x0\"}",
		"{\"cuse\":false,\"name\":\"\",\"mount\":\"/m\",\"mode\":0,\"gid\":0,\"proto_major\":7,\"proto_minor\":1,\"max_readahead\":0,\"init_flags\":\"0x10000000000000000\"}",
		"{\"cuse\":false,\"name\":\"\",\"mount\":\"/m\",\"mode\":0,\"gid\":0,\"proto_major\":7,\"proto_minor\":1,\"max_readahead\":0,\"init_flags\":\"12\"}",
		"{\"cuse\":false,\"name\":\"\",\"mount\":\"/m\",\"mode\":0,\"gid\":0,\"proto_major\":7,\"proto_minor\":1,\"max_readahead\":0,\"init_flags\":\"0x0\",\"extra\":1}",
		"{\"cuse\":true,\"name\":\"a/b\",\"mount\":\"\",\"mode\":0,\"gid\":0,\"proto_major\":7,\"proto_minor\":1,\"max_readahead\":0,\"init_flags\":\"0x0\"}",
		"{\"cuse\":true,\"name\":\"vhost-net\",\"mount\":\"\",\"mode\":0,\"gid\":0,\"proto_major\":7,\"proto_minor\":1,\"max_readahead\":1,\"init_flags\":\"0x0\"}",
	};
	static const char good[] =
		"{\"cuse\":true,\"name\":\"vhost-net\",\"mount\":\"\",\"mode\":0,\"gid\":0,\"proto_major\":7,\"proto_minor\":1,\"max_readahead\":0,\"init_flags\":\"0xffffffffffffffff\"}";
	json_object *j = NULL;

	strcpy(s.mount, "/run/usvhost");
	CHECK(usv_front_state_to_json(&s, &j) == 0, "state to JSON");
	CHECK(usv_front_state_from_json(j, &t) == 0 && !memcmp(&s, &t, sizeof(s)),
	      "state JSON round trip: %s", json_object_to_json_string(j));
	json_object_put(j);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = json_tokener_parse(bad[i]);
		CHECK(j && usv_front_state_from_json(j, &t) == -EINVAL,
		      "broken state taken: %s", bad[i]);
		json_object_put(j);
	}
	j = json_tokener_parse(good);
	CHECK(usv_front_state_from_json(j, &t) == 0 && t.cuse &&
	      t.init_flags == UINT64_MAX && !strcmp(t.name, "vhost-net"),
	      "a good CUSE state refused");
	json_object_put(j);
}

int main(int argc, char **argv)
{
	struct hammer h = { .fd = -1 };
	struct poller p = { .ret = -2 };
	int user_a[2], a_b[2], fd = -1, r[2];
	char path[4200];
	pthread_t th, tp;
	pid_t a, b;
	uint64_t f = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s MOUNT-DIR\n", argv[0]);
		return 2;
	}
	check_state_json();
	{
		struct usv_front_ctl *c = NULL;

		CHECK(usv_front_ctl_new(&c) == 0 && usv_front_ctl_handover(c) == -ENOTCONN,
		      "a hand-over with no front serving is not ENOTCONN");
		usv_front_ctl_free(c);
	}
	snprintf(path, sizeof(path), "%s/vhost-net", argv[1]);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, user_a) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, a_b))
		return 2;
	a = fork();
	if (a == 0) {
		close(user_a[0]);
		close(a_b[1]);
		_exit(run_a(argv[1], user_a[1], a_b[0]));
	}
	b = fork();
	if (b == 0) {
		close(user_a[0]);
		close(user_a[1]);
		close(a_b[0]);
		_exit(run_b(a_b[1]));
	}
	close(user_a[1]);
	close(a_b[0]);
	close(a_b[1]);
	alarm(30); /* a lost request would hang an ioctl: fail, not wait */
	for (int i = 0; i < 500 && (fd = open(path, O_RDWR)) < 0; i++)
		usleep(10000);
	CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
	if (fd < 0)
		goto out;
	CHECK(ioctl(fd, VHOST_GET_FEATURES, &f) == 0 && f, "GET_FEATURES from A");

	/* 1. A failed hand-over: A serves on. */
	CHECK(write(user_a[0], "H", 1) == 1 && read(user_a[0], r, sizeof(r)) == sizeof(r),
	      "talking to A");
	CHECK(r[0] == 0 && r[1] == -EBUSY, "hand-over asked: %d, asked again: %d (want 0, %d)",
	      r[0], r[1], -EBUSY);
	h.features = 0;
	CHECK(ioctl(fd, VHOST_GET_FEATURES, &h.features) == 0 && h.features == f,
	      "GET_FEATURES after a failed hand-over (B has nothing yet: A answers)");
	CHECK(waitpid(a, NULL, WNOHANG) == 0, "A still runs after a failed hand-over");

	/* 2. The hand-over, with requests under way. */
	h.fd = p.fd = fd;
	pthread_create(&th, NULL, hammer, &h);
	pthread_create(&tp, NULL, poller, &p);
	usleep(100000);
	CHECK(write(user_a[0], "H", 1) == 1 && read(user_a[0], r, sizeof(r)) == sizeof(r),
	      "talking to A");
	CHECK(r[0] == 0 && r[1] == -EBUSY, "hand-over asked: %d, asked again: %d", r[0], r[1]);
	CHECK(wait_exit(a) == 0, "A exits 0 once handed over");
	a = -1;
	f = 0;
	CHECK(ioctl(fd, VHOST_GET_FEATURES, &f) == 0 && f == h.features,
	      "GET_FEATURES on the same open file after A exited (B answers)");
	usleep(200000);
	atomic_store(&h.stop, true);
	pthread_join(th, NULL);
	printf("ioctls during the hand-over: %u, slowest %.0f ms\n", h.count, h.slowest_ms);
	CHECK(h.errors == 0, "%u of %u ioctls failed or answered wrong", h.errors, h.count);
	CHECK(h.slowest_ms >= HOOK_DELAY_MS * 0.8,
	      "no ioctl waited for the hand-over (slowest %.0f ms)", h.slowest_ms);

	/* 3. B's exit unmounts what it inherited (the user's file still
	 * open: B checks the device it holds for it). */
	CHECK(mounted(argv[1]), "%s mounted while B serves", argv[1]);
	kill(b, SIGTERM);
	r[0] = wait_exit(b);
	CHECK(r[0] == 0, "B exits %d at SIGTERM (9: no poll handle: the poller "
	      "was not woken at the hand-over)", r[0]);
	b = -1;
	CHECK(!mounted(argv[1]), "%s still mounted after B's exit", argv[1]);
	/* The session's end wakes the poller (POLLERR), long before its
	 * timeout. */
	pthread_join(tp, NULL);
	printf("poll: %d after %.0f ms\n", p.ret, p.ms);
	CHECK(p.ret == 1 && p.ms < 15000, "poll() across the hand-over: %d after %.0f ms",
	      p.ret, p.ms);
out:
	if (fd >= 0)
		close(fd);
	if (a > 0) {
		kill(a, SIGTERM);
		wait_exit(a);
	}
	if (b > 0) {
		kill(b, SIGTERM);
		wait_exit(b);
	}
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	else
		printf("PASS\n");
	return failures ? 1 : 0;
}
