/* SPDX-License-Identifier: MIT */
#include "daemon/takeover.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/devstate.h"
#include "core/devsummary.h"
#include "core/log.h"
#include "daemon/devstate_json.h"
#include "datapath/uring_dp.h"
#include "trace/format.h"
#include "usvhost/control.h"

/* Largest state accepted: 64 MiB is thousands of devices. */
#define STATE_MAX (64u << 20)
/* Descriptors accepted: every device holds fewer than 16, plus two. */
#define FDS_MAX 65536u
#define LINE_MAX_LEN 4096

/* ---- blocking I/O with a deadline ---------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events before deadline: 0, -ETIMEDOUT or
 * -errno. */
static int wait_io(int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		uint64_t now = now_ms();
		int n;

		if (now >= deadline)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)(deadline - now > INT_MAX ? INT_MAX : deadline - now));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int wait_in(int fd, uint64_t deadline)
{
	return wait_io(fd, POLLIN, deadline);
}

/* Never waits on a stalled peer for ever: the front is stopped meanwhile
 * and every guest waits with it. -ETIMEDOUT after USV_TAKEOVER_READY_MS
 * without progress. */
static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		int ret;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if ((ret = wait_io(fd, POLLOUT, now_ms() + USV_TAKEOVER_READY_MS)))
				return ret;
			continue;
		}
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Exactly len bytes, never more: what follows may carry descriptors. */
static int read_exact(int fd, void *buf, size_t len, uint64_t deadline)
{
	char *p = buf;

	while (len) {
		ssize_t n;
		int ret = wait_in(fd, deadline);

		if (ret)
			return ret;
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One line, read a byte at a time (the lines here are short, and what
 * follows them may carry descriptors). The newline is dropped. */
static int read_line(int fd, char *buf, size_t cap, uint64_t deadline)
{
	size_t used = 0;

	for (;;) {
		char ch;
		int ret = read_exact(fd, &ch, 1, deadline);

		if (ret)
			return ret;
		if (ch == '\n')
			break;
		if (used + 1 >= cap)
			return -E2BIG;
		buf[used++] = ch;
	}
	buf[used] = '\0';
	return 0;
}

static json_object *parse(const char *s, size_t len)
{
	json_tokener *tok = json_tokener_new();
	json_object *o = NULL;

	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, s, (int)len);
	if (o && (json_tokener_get_error(tok) != json_tokener_success ||
		  (size_t)tok->char_offset != len || !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

static int write_json_line(int fd, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	size_t n = strlen(s);
	int ret = write_all(fd, s, n);

	return ret ? ret : write_all(fd, "\n", 1);
}

/* ---- descriptors ----------------------------------------------------------- */

static int send_fds(int sock, const int *fds, unsigned n)
{
	for (unsigned off = 0; off < n; off += USV_TAKEOVER_FD_CHUNK) {
		unsigned k = n - off < USV_TAKEOVER_FD_CHUNK ? n - off : USV_TAKEOVER_FD_CHUNK;
		union {
			char buf[CMSG_SPACE(sizeof(int) * USV_TAKEOVER_FD_CHUNK)];
			struct cmsghdr align;
		} cb;
		char byte = 'F';
		struct iovec iov = { &byte, 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.buf,
				     .msg_controllen = CMSG_SPACE(sizeof(int) * k) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		ssize_t r;

		memset(cb.buf, 0, sizeof(cb.buf));
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * k);
		memcpy(CMSG_DATA(cm), fds + off, sizeof(int) * k);
		for (;;) {
			int ret;

			r = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (r >= 0 || (errno != EINTR && errno != EAGAIN))
				break;
			if (errno == EAGAIN &&
			    (ret = wait_io(sock, POLLOUT, now_ms() + USV_TAKEOVER_READY_MS)))
				return ret;
		}
		if (r < 0)
			return -errno;
	}
	return 0;
}

/* n descriptors into fds[], each chunk a one-byte message. */
static int recv_fds(int sock, int *fds, unsigned n, uint64_t deadline)
{
	unsigned got = 0;

	while (got < n) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * USV_TAKEOVER_FD_CHUNK)];
			struct cmsghdr align;
		} cb;
		char byte;
		struct iovec iov = { &byte, 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.buf,
				     .msg_controllen = sizeof(cb.buf) };
		int ret = wait_in(sock, deadline);
		ssize_t r;

		if (ret)
			return ret;
		r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ECONNRESET;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			size_t k;

			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
				if (got < n)
					fds[got++] = fd;
				else
					close(fd);
			}
		}
		if (mh.msg_flags & MSG_CTRUNC)
			return -EMFILE; /* the kernel dropped some: out of fds */
	}
	return 0;
}

/* ---- the old daemon -------------------------------------------------------- */

static json_object *stats_json(struct usv_dp *dp)
{
	json_object *arr = json_object_new_array();
	struct usv_dp_ring_stats *r = NULL;
	unsigned n = 0;

	if (!dp || usv_dp_stats_collect(dp, &r, &n))
		return arr;
	for (unsigned i = 0; i < n; i++) {
		json_object *o;

		if (r[i].handle == UINT_MAX)
			continue; /* released devices' totals stay with this daemon */
		o = json_object_new_object();
		json_object_object_add(o, "handle", json_object_new_int64(r[i].handle));
		json_object_object_add(o, "idx", json_object_new_int64(r[i].idx));
		json_object_object_add(o, "packets", json_object_new_uint64(r[i].packets));
		json_object_object_add(o, "bytes", json_object_new_uint64(r[i].bytes));
		json_object_object_add(o, "kicks", json_object_new_uint64(r[i].kicks));
		json_object_object_add(o, "interrupts", json_object_new_uint64(r[i].interrupts));
		json_object_object_add(o, "drops", json_object_new_uint64(r[i].drops));
		json_object_object_add(o, "errors", json_object_new_uint64(r[i].errors));
		json_object_array_add(arr, o);
	}
	free(r);
	return arr;
}

/* Stops and describes every device; *saved says how many were stopped. */
static int save_devices(const struct usv_takeover_src *src, json_object *arr,
			struct usv_fdvec *fds, unsigned **handles, unsigned *saved)
{
	struct usv_dev_summary *sum = NULL;
	unsigned n = 0;
	int ret = usv_devlist_summarize(src->devs, &sum, &n);

	*saved = 0;
	*handles = NULL;
	if (!ret && n && !(*handles = calloc(n, sizeof(**handles))))
		ret = -ENOMEM;
	for (unsigned i = 0; !ret && i < n; i++) {
		json_object *d = NULL;

		ret = usv_devstate_save(src->devs, sum[i].handle, &d, fds);
		if (ret == -ENOENT) { /* released meanwhile: nothing to hand over */
			ret = 0;
			continue;
		}
		if (ret) {
			usv_err("takeover: dev %u: cannot save its state: %s", sum[i].handle,
				strerror(-ret));
			break;
		}
		(*handles)[(*saved)++] = sum[i].handle;
		json_object_array_add(arr, d);
	}
	free(sum);
	return ret;
}

static int send_state(int sock, json_object *st)
{
	const char *s = json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN);
	uint64_t len = strlen(s);
	uint8_t le[8];
	int ret;

	for (unsigned i = 0; i < 8; i++)
		le[i] = (uint8_t)(len >> (8 * i));
	ret = write_all(sock, le, sizeof(le));
	return ret ? ret : write_all(sock, s, (size_t)len);
}

/* The new daemon's "ready": 0, or -errno (its own refusal is -ECANCELED). */
static int await_ready(int sock)
{
	char line[LINE_MAX_LEN];
	json_object *o;
	int ret = read_line(sock, line, sizeof(line), now_ms() + USV_TAKEOVER_READY_MS);
	json_object *ready;

	if (ret)
		return ret;
	o = parse(line, strlen(line));
	ready = o ? json_object_object_get(o, "ready") : NULL;
	if (ready && json_object_get_boolean(ready)) {
		json_object_put(o);
		return 0;
	}
	usv_err("takeover: the new daemon gave up: %s",
		o && usv_tj_str(o, "error") ? usv_tj_str(o, "error") : line);
	json_object_put(o);
	return -ECANCELED;
}

int usv_takeover_send(int sock, const char *answer, size_t answer_len,
		      const struct usv_takeover_src *src, int session_fd,
		      const struct usv_front_state *front)
{
	json_object *st = json_object_new_object(), *devs = json_object_new_array();
	json_object *fj = NULL, *go;
	struct usv_fdvec fds = { 0 };
	unsigned *handles = NULL, saved = 0;
	int ret, sfd = -1, cfd = -1;

	ret = write_all(sock, answer, answer_len);
	if (!ret)
		ret = usv_front_state_to_json(front, &fj);
	if (!ret && (sfd = usv_fdvec_push(&fds, session_fd)) < 0)
		ret = sfd;
	if (!ret && src->control_fd >= 0 && (cfd = usv_fdvec_push(&fds, src->control_fd)) < 0)
		ret = cfd;
	if (!ret)
		ret = save_devices(src, devs, &fds, &handles, &saved);
	if (ret) {
		/* Say why, if the new daemon still listens; it then exits. */
		json_object *e = json_object_new_object();
		char msg[160];

		snprintf(msg, sizeof(msg), "the running daemon could not save its state: %s",
			 strerror(-ret));
		json_object_object_add(e, "error", json_object_new_string(msg));
		send_state(sock, e);
		json_object_put(e);
		goto out;
	}
	json_object_object_add(st, "version", json_object_new_int(USV_TAKEOVER_VERSION));
	json_object_object_add(st, "producer", json_object_new_string("usvhostd " PACKAGE_VERSION));
	json_object_object_add(st, "pid", json_object_new_int64(getpid()));
	json_object_object_add(st, "profile", json_object_new_string(src->profile));
	json_object_object_add(st, "front", fj);
	fj = NULL;
	json_object_object_add(st, "session_fd", json_object_new_int(sfd));
	json_object_object_add(st, "control_fd", json_object_new_int(cfd));
	json_object_object_add(st, "devices", json_object_get(devs));
	json_object_object_add(st, "stats", stats_json(src->dp));
	json_object_object_add(st, "nfds", json_object_new_int64(fds.n));
	ret = send_state(sock, st);
	if (!ret)
		ret = send_fds(sock, fds.fd, fds.n);
	if (!ret)
		ret = await_ready(sock);
	if (ret)
		goto out;
	/* From here on this daemon never serves again, whatever happens. */
	go = json_object_new_object();
	json_object_object_add(go, "go", json_object_new_boolean(true));
	if (write_json_line(sock, go))
		usv_warn("takeover: could not say go (the new daemon goes on when it "
			 "sees this end close)");
	json_object_put(go);
	usv_info("takeover: %u device%s handed over with %u descriptors", saved,
		 saved == 1 ? "" : "s", fds.n);
out:
	if (ret) {
		/* The new daemon may be waiting for go: it must not start. */
		go = json_object_new_object();
		json_object_object_add(go, "go", json_object_new_boolean(false));
		write_json_line(sock, go);
		json_object_put(go);
		usv_err("takeover: hand-over failed (%s): serving on", strerror(-ret));
		for (unsigned i = 0; i < saved; i++) {
			int r = usv_devstate_resume(src->devs, handles[i]);

			if (r)
				usv_err("takeover: dev %u: cannot restart its rings: %s",
					handles[i], strerror(-r));
		}
	}
	free(handles);
	usv_fdvec_free(&fds, false);
	json_object_put(fj);
	json_object_put(devs);
	json_object_put(st);
	return ret;
}

/* ---- the new daemon -------------------------------------------------------- */

static int connect_to(const char *path, int *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa))) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	*out = fd;
	return 0;
}

/* Index i of the received fds, taken (-1 left behind); -1 for i == -1. */
static int take_fd(struct usv_takeover_in *in, int64_t i, int *fd)
{
	if (i == -1) {
		*fd = -1;
		return 0;
	}
	if (i < 0 || i >= (int64_t)in->nfds || in->fds[i] < 0)
		return -EINVAL;
	*fd = in->fds[i];
	in->fds[i] = -1;
	return 0;
}

static int read_state(struct usv_takeover_in *in, char *err, size_t errlen)
{
	uint64_t deadline = now_ms() + USV_TAKEOVER_READY_MS, len = 0;
	int64_t version = 0, nfds = -1, sfd = -2, cfd = -2, pid = 0;
	json_object *front;
	uint8_t le[8];
	char *buf = NULL;
	const char *s;
	int ret;

	ret = read_exact(in->sock, le, sizeof(le), deadline);
	for (unsigned i = 0; !ret && i < 8; i++)
		len |= (uint64_t)le[i] << (8 * i);
	if (!ret && (len == 0 || len > STATE_MAX)) {
		snprintf(err, errlen, "the running daemon's state is %llu bytes",
			 (unsigned long long)len);
		return -EPROTO;
	}
	if (!ret && !(buf = malloc(len)))
		ret = -ENOMEM;
	if (!ret)
		ret = read_exact(in->sock, buf, len, deadline);
	if (ret) {
		snprintf(err, errlen, "reading the running daemon's state: %s", strerror(-ret));
		free(buf);
		return ret;
	}
	in->state = parse(buf, len);
	free(buf);
	if (!in->state) {
		snprintf(err, errlen, "the running daemon's state is not one JSON object");
		return -EPROTO;
	}
	if ((s = usv_tj_str(in->state, "error"))) {
		snprintf(err, errlen, "%s", s);
		return -ECANCELED;
	}
	usv_tj_i64(in->state, "version", &version);
	if (version != USV_TAKEOVER_VERSION) {
		snprintf(err, errlen, "state version %lld not understood (this daemon reads %d)",
			 (long long)version, USV_TAKEOVER_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (!usv_tj_i64(in->state, "nfds", &nfds) || nfds < 0 || nfds > FDS_MAX ||
	    !usv_tj_i64(in->state, "session_fd", &sfd) ||
	    !usv_tj_i64(in->state, "control_fd", &cfd) || !usv_tj_i64(in->state, "pid", &pid) ||
	    !(s = usv_tj_str(in->state, "profile")) || !usv_tj_arr(in->state, "devices") ||
	    !(front = usv_tj_obj(in->state, "front"))) {
		snprintf(err, errlen, "the running daemon's state lacks a field");
		return -EPROTO;
	}
	snprintf(in->profile, sizeof(in->profile), "%s", s);
	in->old_pid = (pid_t)pid;
	if (nfds && !(in->fds = malloc(sizeof(int) * (size_t)nfds)))
		return -ENOMEM;
	for (int64_t i = 0; i < nfds; i++)
		in->fds[i] = -1;
	in->nfds = (unsigned)nfds;
	ret = recv_fds(in->sock, in->fds, in->nfds, deadline);
	if (ret) {
		snprintf(err, errlen, "receiving the running daemon's descriptors: %s",
			 strerror(-ret));
		return ret;
	}
	if ((ret = usv_front_state_from_json(front, &in->front))) {
		snprintf(err, errlen, "the running daemon's front is not understood");
		return ret;
	}
	if (take_fd(in, sfd, &in->session_fd) || in->session_fd < 0 ||
	    take_fd(in, cfd, &in->control_fd)) {
		snprintf(err, errlen, "the running daemon's state names a missing descriptor");
		return -EPROTO;
	}
	return 0;
}

/* The identity members of a `version` result, trusted in nothing: 1, 0
 * when it says none, -EPROTO. */
static int front_of_version(json_object *r, struct usv_front_state *f, char *profile,
			    size_t profile_len, pid_t *pid)
{
	int ret = usv_front_identity_from_json(r, f);
	const char *s = usv_tj_str(r, "profile");
	int64_t p = 0;

	if (ret <= 0)
		return ret ? -EPROTO : 0;
	if (!s || strlen(s) >= profile_len || !usv_tj_i64(r, "pid", &p) || p <= 0 ||
	    p > INT32_MAX)
		return -EPROTO;
	memcpy(profile, s, strlen(s) + 1);
	*pid = (pid_t)p;
	return 1;
}

int usv_takeover_ask_front(const char *path, struct usv_front_state *front, char *profile,
			   size_t profile_len, pid_t *pid, char *err, size_t errlen)
{
	static const char ask[] = "{\"proto\":1,\"cmd\":\"version\"}\n";
	char line[LINE_MAX_LEN];
	json_object *a = NULL, *r;
	int sock = -1, ret;

	ret = connect_to(path, &sock);
	if (ret) {
		snprintf(err, errlen, "no usvhostd listens on %s: %s", path, strerror(-ret));
		goto out;
	}
	ret = write_all(sock, ask, sizeof(ask) - 1);
	if (!ret)
		ret = read_line(sock, line, sizeof(line), now_ms() + USV_TAKEOVER_READY_MS);
	if (ret) {
		snprintf(err, errlen, "asking %s: %s", path, strerror(-ret));
		goto out;
	}
	a = parse(line, strlen(line));
	r = a && json_object_get_boolean(json_object_object_get(a, "ok")) ?
		    usv_tj_obj(a, "result") : NULL;
	ret = r ? front_of_version(r, front, profile, profile_len, pid) : -EPROTO;
	if (ret < 0)
		snprintf(err, errlen, "%s answers `version` with what no usvhostd says: %.200s",
			 path, line);
out:
	json_object_put(a);
	if (sock >= 0)
		close(sock);
	return ret;
}

int usv_takeover_fetch(const char *path, struct usv_takeover_in *in, char *err,
		       size_t errlen)
{
	static const char ask[] =
		"{\"proto\":1,\"cmd\":\"takeover\",\"args\":{\"versions\":[1]}}\n";
	char line[LINE_MAX_LEN];
	json_object *a = NULL;
	int ret;

	memset(in, 0, sizeof(*in));
	in->sock = in->session_fd = in->control_fd = -1;
	ret = connect_to(path, &in->sock);
	if (ret) {
		snprintf(err, errlen, "no usvhostd listens on %s: %s", path, strerror(-ret));
		return ret;
	}
	ret = write_all(in->sock, ask, sizeof(ask) - 1);
	/* The running daemon answers once its front has stopped. */
	if (!ret)
		ret = read_line(in->sock, line, sizeof(line), now_ms() + USV_TAKEOVER_READY_MS);
	if (ret) {
		snprintf(err, errlen, "asking %s: %s", path, strerror(-ret));
		return ret;
	}
	a = parse(line, strlen(line));
	if (!a || !json_object_get_boolean(json_object_object_get(a, "ok"))) {
		json_object *e = a ? usv_tj_obj(a, "error") : NULL;

		snprintf(err, errlen, "the running daemon refused: %s",
			 e && usv_tj_str(e, "message") ? usv_tj_str(e, "message") : line);
		json_object_put(a);
		return -ECANCELED;
	}
	json_object_put(a);
	return read_state(in, err, errlen);
}

static void say(int sock, bool ready, const char *error)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ready", json_object_new_boolean(ready));
	if (error)
		json_object_object_add(o, "error", json_object_new_string(error));
	if (write_json_line(sock, o))
		usv_warn("takeover: cannot answer the running daemon: %s", strerror(errno));
	json_object_put(o);
}

static void seed_stats(struct usv_takeover_in *in, struct usv_devlist *devs,
		       struct usv_dp *dp)
{
	json_object *arr = usv_tj_arr(in->state, "stats");
	size_t n = arr ? json_object_array_length(arr) : 0;

	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		struct usv_dp_ring_stats st = { 0 };
		struct usv_dev *dev;
		int64_t h, idx;

		if (!json_object_is_type(o, json_type_object) || !usv_tj_i64(o, "handle", &h) ||
		    !usv_tj_i64(o, "idx", &idx) || h < 0 || h >= UINT_MAX || idx < 0 ||
		    idx >= USV_NET_NVQS)
			continue;
		usv_tj_u64(o, "packets", &st.packets);
		usv_tj_u64(o, "bytes", &st.bytes);
		usv_tj_u64(o, "kicks", &st.kicks);
		usv_tj_u64(o, "interrupts", &st.interrupts);
		usv_tj_u64(o, "drops", &st.drops);
		usv_tj_u64(o, "errors", &st.errors);
		dev = usv_devlist_get(devs, (unsigned)h);
		if (!dev)
			continue; /* not handed over: nothing to go on from */
		if (usv_dp_stats_seed(dp, dev, (unsigned)idx, &st))
			usv_warn("takeover: dev %lld ring %lld: its counters start again",
				 (long long)h, (long long)idx);
	}
}

/* {"go":true}, or the old end closing without a word after "ready" (it
 * died): either way it has stopped for good. {"go":false} is its refusal. */
static int await_go(int sock)
{
	char line[LINE_MAX_LEN];
	int ret = read_line(sock, line, sizeof(line), now_ms() + USV_TAKEOVER_GO_MS);
	json_object *o;

	if (ret == -ECONNRESET)
		return 0;
	if (ret)
		return ret;
	o = parse(line, strlen(line));
	ret = o && json_object_get_boolean(json_object_object_get(o, "go")) ? 0 : -ECANCELED;
	json_object_put(o);
	return ret;
}

int usv_takeover_resume(struct usv_takeover_in *in, struct usv_devlist *devs,
			struct usv_dp *dp)
{
	json_object *arr = usv_tj_arr(in->state, "devices");
	size_t n = arr ? json_object_array_length(arr) : 0, built = 0;
	unsigned *handles = calloc(n ? n : 1, sizeof(*handles));
	char why[160] = "";
	int ret = handles ? 0 : -ENOMEM;

	for (size_t i = 0; !ret && i < n; i++) {
		json_object *d = json_object_array_get_idx(arr, i);
		int64_t h = -1;

		if (!d || !usv_tj_i64(d, "handle", &h) || h < 0 || h >= UINT_MAX) {
			ret = -EINVAL;
			snprintf(why, sizeof(why), "device %zu has no handle", i);
			break;
		}
		ret = usv_devstate_restore(devs, d, in->fds, in->nfds);
		if (ret)
			snprintf(why, sizeof(why), "dev %lld cannot be rebuilt: %s", (long long)h,
				 strerror(-ret));
		else
			handles[built++] = (unsigned)h;
	}
	if (ret) {
		usv_err("takeover: %s", why);
		say(in->sock, false, why);
		for (size_t i = 0; i < built; i++)
			usv_devlist_remove(devs, handles[i]);
		goto out;
	}
	seed_stats(in, devs, dp);
	say(in->sock, true, NULL);
	ret = await_go(in->sock);
	if (ret) {
		/* The old daemon has not stopped: it must be the one to serve. */
		usv_err("takeover: no go from the running daemon (%s): giving up",
			strerror(-ret));
		for (size_t i = 0; i < built; i++)
			usv_devlist_remove(devs, handles[i]);
		goto out;
	}
	for (size_t i = 0; i < built; i++) {
		int r = usv_devstate_resume(devs, handles[i]);

		if (r)
			usv_err("takeover: dev %u: cannot start its rings: %s", handles[i],
				strerror(-r));
	}
	usv_info("takeover: serving %zu device%s taken over from pid %d", built,
		 built == 1 ? "" : "s", (int)in->old_pid);
out:
	free(handles);
	return ret;
}

void usv_takeover_in_free(struct usv_takeover_in *in)
{
	for (unsigned i = 0; i < in->nfds; i++)
		if (in->fds[i] >= 0)
			close(in->fds[i]);
	free(in->fds);
	in->fds = NULL;
	in->nfds = 0;
	if (in->sock >= 0)
		close(in->sock);
	if (in->session_fd >= 0)
		close(in->session_fd);
	if (in->control_fd >= 0)
		close(in->control_fd);
	in->sock = in->session_fd = in->control_fd = -1;
	json_object_put(in->state);
	in->state = NULL;
}
