/* SPDX-License-Identifier: MIT */
#include "daemon/control.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "daemon/control_cmd.h"
#include "daemon/trace_switch.h"
#include "usvhost/control.h"

struct client {
	int fd;        /* -1: free slot */
	uid_t uid;
	pid_t pid;
	char in[USV_CONTROL_REQ_MAX];
	size_t inlen;
	char *out;     /* the answer being sent, NULL: none */
	size_t outlen, outoff;
	int fds[USV_CONTROL_FDS_MAX]; /* received, not yet taken by a request */
	unsigned nfds;
	uint64_t last_ms; /* last progress */
	bool closing;  /* close once out is sent */
	bool eof;      /* the client shut its side: answer what came, then close */
};

struct usv_control {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;     /* the socket file we bound, so that only it is removed */
	ino_t ino;
	int lfd, stop_fd;
	bool group_set;
	gid_t gid;
	pthread_t thread;
	bool running;
	struct usv_trace_switch trace;
	struct usv_control_ctx ctx;
	int (*takeover)(void *arg, int fd, const char *answer, size_t len);
	void *takeover_arg;
	struct client cl[USV_CONTROL_MAX_CLIENTS];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the socket file ---------------------------------------------------- */

/* An existing socket at path: another daemon's (-EADDRINUSE) or stale
 * (removed). Anything else there is left alone (-EEXIST). */
static int clear_stale(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, ret = 0;

	if (lstat(sa->sun_path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		ret = -EADDRINUSE;
	else if (errno == ECONNREFUSED && unlink(sa->sun_path))
		ret = -errno;
	close(fd);
	return ret;
}

static int make_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];

	snprintf(dir, sizeof(dir), "%s", path);
	if (mkdir(dirname(dir), 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static int bind_socket(struct usv_control *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int ret;

	if (strlen(c->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	if ((ret = make_dir(c->path)) || (ret = clear_stale(&sa)))
		return ret;
	c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->lfd < 0)
		return -errno;
	/* The umask makes the file 0600 from the start: no moment in which it
	 * is wider (start-up has one thread, so the umask is ours to set). */
	old = umask(0177);
	ret = bind(c->lfd, (const struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old);
	if (ret)
		return ret;
	if (c->group_set && (chown(c->path, (uid_t)-1, c->gid) || chmod(c->path, 0660)))
		ret = -errno;
	else if (stat(c->path, &st))
		ret = -errno;
	if (ret) {
		unlink(c->path);
		return ret;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	return listen(c->lfd, USV_CONTROL_MAX_CLIENTS) ? -errno : 0;
}

/* The old daemon's listening socket, already bound at c->path: its file
 * is ours to remove at exit from now on. Taken even on failure. */
static int adopt_socket(struct usv_control *c, int fd)
{
	struct stat st;
	int flags;

	c->lfd = fd;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) || stat(c->path, &st))
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	return 0;
}

/* Removes the socket file if it is still the one we bound. */
static void remove_socket(struct usv_control *c)
{
	struct stat st;

	if (c->ino && !lstat(c->path, &st) && st.st_dev == c->dev && st.st_ino == c->ino &&
	    unlink(c->path))
		usv_warn("control: cannot remove %s: %s", c->path, strerror(errno));
	c->ino = 0;
}

/* ---- who may connect ------------------------------------------------------ */

/* Does the peer hold gid among its supplementary groups (at connect time)? */
static bool peer_in_group(int fd, gid_t gid)
{
	gid_t small[64], *g = small;
	socklen_t len = sizeof(small);
	bool in = false;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len)) {
		if (errno != ERANGE || !(g = malloc(len)))
			return false;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len))
			len = 0;
	}
	for (size_t i = 0; i < len / sizeof(*g); i++)
		in |= g[i] == gid;
	if (g != small)
		free(g);
	return in;
}

/* root, our own uid, or (--control-group) that group as primary or
 * supplementary group. The file's mode says the same; this holds even for
 * a socket reached some other way (an fd passed on, a wider mode set by
 * hand). */
static bool peer_allowed(const struct usv_control *c, int fd, const struct ucred *cr)
{
	if (cr->uid == 0 || cr->uid == geteuid())
		return true;
	return c->group_set && (cr->gid == c->gid || peer_in_group(fd, c->gid));
}

/* ---- clients ------------------------------------------------------------- */

static void drop_fds(struct client *cl)
{
	for (unsigned i = 0; i < cl->nfds; i++)
		if (cl->fds[i] >= 0)
			close(cl->fds[i]);
	cl->nfds = 0;
}

static void client_close(struct client *cl)
{
	drop_fds(cl);
	free(cl->out);
	close(cl->fd);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
}

/* One line to a socket we are about to close; never waits. */
static void say_and_close(int fd, const char *code, const char *msg)
{
	size_t len;
	char *line = usv_control_error_line(code, msg, &len);

	if (line && send(fd, line, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		usv_dbg("control: %s", strerror(errno));
	free(line);
	close(fd);
}

static void accept_one(struct usv_control *c, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	struct client *cl = NULL;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len)) {
		close(fd);
		return;
	}
	if (!peer_allowed(c, fd, &cr)) {
		usv_info("control: refused uid %u (pid %d): not root%s", (unsigned)cr.uid,
			 (int)cr.pid, c->group_set ? " nor in the control group" : "");
		say_and_close(fd, "EACCES", "permission denied");
		return;
	}
	for (unsigned i = 0; i < USV_CONTROL_MAX_CLIENTS && !cl; i++)
		if (c->cl[i].fd < 0)
			cl = &c->cl[i];
	if (!cl) {
		say_and_close(fd, "EBUSY", "too many control clients");
		return;
	}
	cl->fd = fd;
	cl->uid = cr.uid;
	cl->pid = cr.pid;
	cl->last_ms = now_ms();
}

static void accept_all(struct usv_control *c)
{
	for (;;) {
		int fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				usv_warn("control: accept: %s", strerror(errno));
			return;
		}
		accept_one(c, fd);
	}
}

/* An accepted takeover: the connection and its answer go to the daemon,
 * which speaks first on it. true: gone from here. false: refused, and the
 * client's answer is now the refusal. */
static bool hand_to_takeover(struct usv_control *c, struct client *cl)
{
	int flags = fcntl(cl->fd, F_GETFL);
	int ret = flags < 0 || fcntl(cl->fd, F_SETFL, flags & ~O_NONBLOCK) ? -errno : 0;
	char msg[128];

	if (!ret)
		ret = c->takeover(c->takeover_arg, cl->fd, cl->out, cl->outlen);
	if (!ret) {
		free(cl->out);
		memset(cl, 0, sizeof(*cl));
		cl->fd = -1;
		return true;
	}
	if (flags >= 0)
		fcntl(cl->fd, F_SETFL, flags);
	snprintf(msg, sizeof(msg), "takeover: cannot hand over now: %s", strerror(-ret));
	free(cl->out);
	cl->out = usv_control_error_line(ret == -EBUSY ? "EBUSY" : "EAGAIN", msg, &cl->outlen);
	cl->closing = true;
	if (!cl->out)
		cl->outlen = 0;
	return false;
}

/* Answers the first complete line in the buffer, if any and if no answer is
 * in flight. */
static void serve_line(struct usv_control *c, struct client *cl)
{
	char *nl = memchr(cl->in, '\n', cl->inlen);
	struct usv_control_ctx ctx = c->ctx;
	bool detach = false;
	size_t len;

	if (cl->out || cl->closing)
		return;
	if (!nl && cl->eof) {
		cl->inlen = 0; /* a last line without its newline: not a request */
		return;
	}
	if (!nl) {
		if (cl->inlen == sizeof(cl->in)) {
			cl->out = usv_control_error_line("E2BIG", "request line too long",
							 &cl->outlen);
			cl->closing = true;
			cl->inlen = 0;
		}
		return;
	}
	len = (size_t)(nl - cl->in);
	ctx.uid = cl->uid;
	ctx.pid = cl->pid;
	ctx.takeover = c->takeover ? &detach : NULL;
	cl->out = usv_control_answer(&ctx, cl->in, len, cl->fds, cl->nfds, &cl->outlen);
	/* Descriptors go with the request that arrived with them. */
	drop_fds(cl);
	if (detach && cl->out && hand_to_takeover(c, cl))
		return;
	memmove(cl->in, nl + 1, cl->inlen - len - 1);
	cl->inlen -= len + 1;
	cl->outoff = 0;
	if (!cl->out)
		cl->closing = true;
}

static void take_fds(struct client *cl, struct msghdr *mh)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;
		int *p;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		p = (int *)CMSG_DATA(cm);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, p + i, sizeof(fd));
			if (cl->nfds < USV_CONTROL_FDS_MAX)
				cl->fds[cl->nfds++] = fd;
			else
				close(fd);
		}
	}
}

/* Returns false when the client is to be closed now (an end of input is
 * noted in cl->eof: the requests before it are still answered). */
static bool client_read(struct client *cl)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * USV_CONTROL_FDS_MAX)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { cl->in + cl->inlen, sizeof(cl->in) - cl->inlen };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf) };
	ssize_t n;

	if (!iov.iov_len)
		return true; /* serve_line() refuses a full buffer first */
	n = recvmsg(cl->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	take_fds(cl, &mh);
	cl->eof = n == 0;
	cl->inlen += (size_t)n;
	return true;
}

static bool client_write(struct client *cl)
{
	ssize_t n = send(cl->fd, cl->out + cl->outoff, cl->outlen - cl->outoff,
			 MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	cl->outoff += (size_t)n;
	if (cl->outoff < cl->outlen)
		return true;
	free(cl->out);
	cl->out = NULL;
	return !cl->closing;
}

static void client_io(struct usv_control *c, struct client *cl, short revents)
{
	bool keep = true;

	if (revents & POLLOUT)
		keep = client_write(cl);
	else if (revents & POLLIN)
		keep = client_read(cl);
	else if (revents & (POLLERR | POLLHUP | POLLNVAL))
		keep = false;
	if (!keep) {
		client_close(cl);
		return;
	}
	cl->last_ms = now_ms();
	serve_line(c, cl);
	/* Nothing more will come, or nothing more will be answered. */
	if (!cl->out && (cl->eof || cl->closing))
		client_close(cl);
}

static void *control_main(void *arg)
{
	struct usv_control *c = arg;
	struct pollfd pfd[2 + USV_CONTROL_MAX_CLIENTS];
	struct client *who[2 + USV_CONTROL_MAX_CLIENTS];

	pthread_setname_np(pthread_self(), "usv-control");
	for (;;) {
		unsigned n = 2;
		uint64_t now = now_ms();

		pfd[0] = (struct pollfd){ .fd = c->stop_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = c->lfd, .events = POLLIN };
		for (unsigned i = 0; i < USV_CONTROL_MAX_CLIENTS; i++) {
			struct client *cl = &c->cl[i];

			if (cl->fd < 0)
				continue;
			if (now - cl->last_ms > USV_CONTROL_IDLE_MS) {
				client_close(cl);
				continue;
			}
			who[n] = cl;
			pfd[n++] = (struct pollfd){ .fd = cl->fd,
						    .events = cl->out ? POLLOUT : POLLIN };
		}
		/* The idle sweep needs a tick only while someone is connected. */
		if (poll(pfd, n, n > 2 ? 1000 : -1) < 0) {
			if (errno == EINTR)
				continue;
			usv_err("control: poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents)
			break;
		for (unsigned i = 2; i < n; i++)
			if (pfd[i].revents)
				client_io(c, who[i], pfd[i].revents);
		if (pfd[1].revents & POLLIN)
			accept_all(c);
	}
	return NULL;
}

int usv_control_path(const char *opt, bool cuse, const char *name, const char *mount,
		     char *buf, size_t len)
{
	char dir[PATH_MAX];
	int n;

	buf[0] = '\0';
	if (opt && !strcmp(opt, "none"))
		return 0;
	if (opt)
		n = snprintf(buf, len, "%s", opt);
	else if (!cuse)
		return 0;
	else if (!strcmp(name, "vhost-net"))
		n = snprintf(buf, len, "%s", USV_CONTROL_DEFAULT);
	else
		n = snprintf(buf, len, "%s/control-%s", USV_CONTROL_DIR, name);
	if (n < 0 || (size_t)n >= len) {
		usv_err("--control: path longer than %zu bytes", len - 1);
		return -ENAMETOOLONG;
	}
	snprintf(dir, sizeof(dir), "%s", buf);
	if (!cuse && !strcmp(dirname(dir), mount)) {
		usv_err("--control=%s: inside the FUSE mount %s, which hides it", buf, mount);
		return -EINVAL;
	}
	return 0;
}

/* ---- life ------------------------------------------------------------------ */

int usv_control_open(const struct usv_control_config *cfg, struct usv_control **out)
{
	struct usv_control *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return -ENOMEM;
	c->lfd = c->stop_fd = -1;
	for (unsigned i = 0; i < USV_CONTROL_MAX_CLIENTS; i++)
		c->cl[i].fd = -1;
	snprintf(c->path, sizeof(c->path), "%s", cfg->path);
	c->group_set = cfg->group_set;
	c->gid = cfg->gid;
	c->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->stop_fd < 0)
		ret = -errno;
	else if (cfg->inherit)
		ret = adopt_socket(c, cfg->inherit_fd);
	else
		ret = bind_socket(c);
	/* Last, so that on failure the trace is still the caller's. */
	if (!ret)
		ret = usv_trace_switch_init(&c->trace, cfg->trace_info, cfg->trace,
					    cfg->trace_name);
	if (ret) {
		usv_log(cfg->optional ? USV_LOG_WARN : USV_LOG_ERR,
			"control: cannot listen on %s: %s%s%s", cfg->path, strerror(-ret),
			ret == -EADDRINUSE ? " (another usvhostd listens there)" : "",
			cfg->optional ? "; going on without a control socket "
					"(--control=PATH or none)" : "");
		usv_control_stop(c);
		free(c);
		return ret;
	}
	c->ctx.devs = cfg->devs;
	c->ctx.trace = &c->trace;
	c->takeover = cfg->takeover;
	c->takeover_arg = cfg->takeover_arg;
	c->ctx.front = cfg->front;
	c->ctx.profile = cfg->profile;
	usv_devlist_set_observer(cfg->devs, &usv_trace_switch_observer, &c->trace);
	usv_info("control socket %s (mode %s)", c->path, c->group_set ? "0660" : "0600");
	*out = c;
	return 0;
}

int usv_control_start(struct usv_control *c, struct usv_dp *dp)
{
	sigset_t block, old;
	int ret;

	c->ctx.dp = dp;
	/* Stop signals go to the front's threads, never to this one. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	ret = -pthread_create(&c->thread, NULL, control_main, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		usv_err("control: cannot start its thread: %s", strerror(-ret));
	c->running = !ret;
	return ret;
}

void usv_control_stop(struct usv_control *c)
{
	uint64_t one = 1;

	if (!c)
		return;
	if (c->running) {
		if (write(c->stop_fd, &one, sizeof(one)) < 0)
			usv_warn("control: cannot stop its thread: %s", strerror(errno));
		pthread_join(c->thread, NULL);
		c->running = false;
	}
	for (unsigned i = 0; i < USV_CONTROL_MAX_CLIENTS; i++)
		if (c->cl[i].fd >= 0)
			client_close(&c->cl[i]);
	remove_socket(c);
	if (c->lfd >= 0)
		close(c->lfd);
	if (c->stop_fd >= 0)
		close(c->stop_fd);
	c->lfd = c->stop_fd = -1;
}

int usv_control_listen_fd(const struct usv_control *c)
{
	return c ? c->lfd : -1;
}

void usv_control_stop_handed_over(struct usv_control *c)
{
	if (!c)
		return;
	c->ino = 0; /* the file is the new daemon's now */
	usv_control_stop(c);
}

void usv_control_remove_socket(struct usv_control *c)
{
	if (c)
		remove_socket(c);
}

void usv_control_free(struct usv_control *c)
{
	if (!c)
		return;
	usv_trace_switch_destroy(&c->trace);
	free(c);
}
