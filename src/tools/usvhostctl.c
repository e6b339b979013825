/* SPDX-License-Identifier: MIT */
/*
 * usvhostctl: what a running usvhostd is doing, through its control socket
 * (usvhostd --control=PATH): the devices and their owners, the rings'
 * counters, and runtime switches for the trace and the log level. One
 * connection per request; the protocol is usvhost/control.h.
 */
#include "tools/usvhostctl.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "usvhost/control.h"

/* The longest answer taken, and how long one may take. */
#define ANSWER_MAX (64u << 20)
#define ANSWER_TIMEOUT_MS 10000

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: usvhostctl [--control=PATH] COMMAND [ARGS]\n"
		"Show and steer a running usvhostd through its control socket.\n"
		"\n"
		"  -c, --control=PATH   the daemon's socket (default " USV_CONTROL_DEFAULT ")\n"
		"  -h, --help           print this help and exit\n"
		"  -V, --version        print usvhostctl's version and exit\n"
		"\n"
		"Commands:\n"
		"  list [--json]        every device: owner (pid, comm, guest name), uid,\n"
		"                       taps, features, rings, memory strategy\n"
		"  stats [--json] [--prometheus] [--watch[=SECS]] [--count=N]\n"
		"                       per-ring packets, bytes, kicks, interrupts, drops\n"
		"                       and errors; --watch samples every SECS (default 1)\n"
		"                       and adds rates; --count stops after N samples;\n"
		"                       --prometheus prints the Prometheus text format\n"
		"  trace on FILE        trace every ioctl from now on to FILE (opened here,\n"
		"                       with your rights, and passed to the daemon)\n"
		"  trace off            stop tracing\n"
		"  log-level LEVEL      error, warn, info or debug, at once\n"
		"  version              usvhostctl's and the daemon's versions and protocol\n"
		"\n"
		"Exit status: 0 done, 1 the daemon refused or could not be reached, 2 bad\n"
		"usage.\n");
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usvhostctl: %s: path too long for a unix socket\n", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("usvhostctl: socket");
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	err = errno;
	close(fd);
	if (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR)
		fprintf(stderr, "usvhostctl: no usvhostd listening on %s\n", path);
	else if (err == EACCES || err == EPERM)
		fprintf(stderr, "usvhostctl: %s: permission denied (the control socket is "
			"for root and the daemon's --control-group)\n", path);
	else
		fprintf(stderr, "usvhostctl: %s: %s\n", path, strerror(err));
	return -1;
}

static int send_request(int s, const char *line, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { (void *)line, strlen(line) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *cm;

		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof(cbuf.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	while (iov.iov_len) {
		ssize_t n = sendmsg(s, &mh, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		iov.iov_base = (char *)iov.iov_base + n;
		iov.iov_len -= (size_t)n;
		mh.msg_control = NULL; /* the descriptor went with the first byte */
		mh.msg_controllen = 0;
	}
	return 0;
}

/* One line, bounded in size and time; NULL on failure (said). */
static char *read_line(int s, const char *path)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	while (buf) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		char *nl = memchr(buf, '\n', len);
		ssize_t n;

		if (nl) {
			*nl = '\0';
			return buf;
		}
		if (len == cap) {
			char *g = cap < ANSWER_MAX ? realloc(buf, cap * 2) : NULL;

			if (!g)
				break;
			buf = g;
			cap *= 2;
		}
		if (poll(&p, 1, ANSWER_TIMEOUT_MS) == 0) {
			fprintf(stderr, "usvhostctl: %s: no answer in %d s\n", path,
				ANSWER_TIMEOUT_MS / 1000);
			free(buf);
			return NULL;
		}
		n = read(s, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "usvhostctl: %s: the daemon closed the connection%s%s\n",
				path, n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
			free(buf);
			return NULL;
		}
		len += (size_t)n;
	}
	fprintf(stderr, "usvhostctl: %s: answer too long\n", path);
	free(buf);
	return NULL;
}

/* The answer's result, or NULL after saying why. */
static json_object *unwrap(json_object *ans, const char *path)
{
	json_object *v, *err, *res = NULL;
	int proto = -1;

	if (json_object_object_get_ex(ans, "proto", &v))
		proto = json_object_get_int(v);
	json_object_object_get_ex(ans, "error", &err);
	if (proto != USV_CONTROL_PROTO) {
		fprintf(stderr, "usvhostctl: protocol version mismatch: usvhostctl speaks %d, "
			"the daemon at %s speaks %d\n", USV_CONTROL_PROTO, path, proto);
	} else if (json_object_object_get_ex(ans, "ok", &v) && json_object_get_boolean(v) &&
		   json_object_object_get_ex(ans, "result", &res)) {
		return json_object_get(res);
	} else {
		json_object *code = NULL, *msg = NULL;

		if (err) {
			json_object_object_get_ex(err, "code", &code);
			json_object_object_get_ex(err, "message", &msg);
		}
		if (code && !strcmp(json_object_get_string(code), "EACCES"))
			fprintf(stderr, "usvhostctl: %s: permission denied (the control socket "
				"is for root and the daemon's --control-group)\n", path);
		else if (code && !strcmp(json_object_get_string(code), "EPROTO"))
			fprintf(stderr, "usvhostctl: protocol version mismatch: %s\n",
				msg ? json_object_get_string(msg) : "");
		else
			fprintf(stderr, "usvhostctl: %s (%s)\n",
				msg ? json_object_get_string(msg) : "the daemon refused",
				code ? json_object_get_string(code) : "?");
	}
	return NULL;
}

json_object *ctl_call(const char *path, const char *cmd, json_object *args, int fd)
{
	json_object *req = json_object_new_object(), *ans, *res = NULL;
	char *line = NULL, *out;
	int s = connect_to(path), ret;

	json_object_object_add(req, "proto", json_object_new_int(USV_CONTROL_PROTO));
	json_object_object_add(req, "id", json_object_new_int(1));
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	if (args)
		json_object_object_add(req, "args", args);
	if (fd >= 0)
		json_object_object_add(req, "fds", json_object_new_int(1));
	if (s < 0)
		goto out;
	if (asprintf(&out, "%s\n", json_object_to_json_string_ext(req,
			JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
		goto out;
	ret = send_request(s, out, fd);
	free(out);
	/* A daemon that refuses us says why and closes: read that first. */
	if (ret && ret != -EPIPE && ret != -ECONNRESET) {
		fprintf(stderr, "usvhostctl: %s: %s\n", path, strerror(-ret));
		goto out;
	}
	line = read_line(s, path);
	if (!line)
		goto out;
	ans = json_tokener_parse(line);
	if (!ans || !json_object_is_type(ans, json_type_object))
		fprintf(stderr, "usvhostctl: %s: not a usvhostd answer\n", path);
	else
		res = unwrap(ans, path);
	json_object_put(ans);
out:
	free(line);
	if (s >= 0)
		close(s);
	json_object_put(req);
	return res;
}

static const char *str(json_object *o, const char *k, const char *dflt)
{
	json_object *v;

	if (o && json_object_object_get_ex(o, k, &v) && v)
		return json_object_get_string(v);
	return dflt;
}

static json_object *member(json_object *o, const char *k)
{
	json_object *v = NULL;

	if (o)
		json_object_object_get_ex(o, k, &v);
	return v;
}

static void print_json(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void print_list(json_object *res)
{
	json_object *devs = member(res, "devices"), *tr = member(res, "trace");
	size_t n = devs ? json_object_array_length(devs) : 0;

	printf("%-4s %-8s %-16s %-16s %-6s %-16s %-12s %-8s %s\n", "DEV", "OWNER", "COMM",
	       "GUEST", "UID", "TAPS", "FEATURES", "MEMORY", "RINGS");
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(devs, i), *own = member(d, "owner");
		json_object *taps = member(d, "taps"), *rings = member(d, "rings");
		json_object *feat = member(d, "features");
		char tapbuf[64] = "", ringbuf[128] = "";

		for (size_t k = 0; taps && k < json_object_array_length(taps); k++)
			snprintf(tapbuf + strlen(tapbuf), sizeof(tapbuf) - strlen(tapbuf), "%s%s",
				 k ? "," : "",
				 json_object_get_string(json_object_array_get_idx(taps, k)));
		for (size_t k = 0; rings && k < json_object_array_length(rings); k++) {
			json_object *r = json_object_array_get_idx(rings, k);

			snprintf(ringbuf + strlen(ringbuf), sizeof(ringbuf) - strlen(ringbuf),
				 "%s%s:%s/%s", k ? " " : "", str(r, "dir", "?"),
				 str(r, "num", "0"), str(r, "state", "?"));
		}
		printf("%-4s %-8s %-16s %-16s %-6s %-16s %-12s %-8s %s%s\n", str(d, "handle", "?"),
		       own ? str(own, "pid", "-") : "-", own ? str(own, "comm", "-") : "-",
		       own ? str(own, "guest", "-") : "-", str(d, "uid", "?"),
		       tapbuf[0] ? tapbuf : "-",
		       feat ? json_object_get_string(json_object_array_get_idx(feat, 0)) : "-",
		       str(member(d, "memory"), "strategy", "-"), ringbuf,
		       json_object_get_boolean(member(d, "busy")) ? " (busy)" : "");
	}
	printf("%zu device%s; trace %s%s; log level %s\n", n, n == 1 ? "" : "s",
	       json_object_get_boolean(member(tr, "on")) ? "on: " : "off",
	       json_object_get_boolean(member(tr, "on")) ? str(tr, "name", "") : "",
	       str(res, "log_level", "?"));
}

static int cmd_trace(const char *path, int argc, char **argv)
{
	json_object *args = json_object_new_object(), *res;
	char full[PATH_MAX];
	int fd = -1;

	if (argc == 2 && !strcmp(argv[1], "off")) {
		json_object_object_add(args, "state", json_object_new_string("off"));
	} else if (argc == 3 && !strcmp(argv[1], "on")) {
		/* Opened here, with the caller's rights, never by the daemon. */
		fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			fprintf(stderr, "usvhostctl: trace on: %s: %s\n", argv[2], strerror(errno));
			json_object_put(args);
			return 1;
		}
		if (!realpath(argv[2], full))
			snprintf(full, sizeof(full), "%s", argv[2]);
		json_object_object_add(args, "state", json_object_new_string("on"));
		json_object_object_add(args, "name", json_object_new_string(full));
	} else {
		fprintf(stderr, "usvhostctl: usage: trace on FILE | trace off\n");
		json_object_put(args);
		return 2;
	}
	res = ctl_call(path, "trace", args, fd);
	if (fd >= 0)
		close(fd);
	if (!res)
		return 1;
	if (json_object_get_boolean(member(res, "on")))
		printf("tracing every ioctl to %s\n", str(res, "name", "?"));
	else
		printf("tracing off\n");
	json_object_put(res);
	return 0;
}

static int cmd_simple(const char *path, int argc, char **argv)
{
	const char *cmd = argv[0];
	json_object *args = NULL, *res;
	bool json = false;

	if (!strcmp(cmd, "log-level")) {
		if (argc != 2) {
			fprintf(stderr, "usvhostctl: usage: log-level error|warn|info|debug\n");
			return 2;
		}
		args = json_object_new_object();
		json_object_object_add(args, "level", json_object_new_string(argv[1]));
	} else if (!strcmp(cmd, "list") && argc == 2 && !strcmp(argv[1], "--json")) {
		json = true;
	} else if (argc != 1) {
		fprintf(stderr, "usvhostctl: %s: unexpected argument '%s'\n", cmd, argv[1]);
		return 2;
	}
	res = ctl_call(path, cmd, args, -1);
	if (!res)
		return 1;
	if (json)
		print_json(res);
	else if (!strcmp(cmd, "list"))
		print_list(res);
	else if (!strcmp(cmd, "log-level"))
		printf("log level %s -> %s\n", str(res, "old", "?"), str(res, "level", "?"));
	else
		printf("usvhostctl %s (protocol %d)\n%s %s (protocol %s, pid %s)\n",
		       PACKAGE_VERSION, USV_CONTROL_PROTO, str(res, "daemon", "?"),
		       str(res, "version", "?"), str(res, "proto", "?"), str(res, "pid", "?"));
	json_object_put(res);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = USV_CONTROL_DEFAULT;
	static const char *const simple[] = { "list", "log-level", "version" };
	int c;

	/* Options before the command only: the command's own follow it. */
	while ((c = getopt_long(argc, argv, "+c:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("usvhostctl %s (protocol %d)\n", PACKAGE_VERSION, USV_CONTROL_PROTO);
			return 0;
		default:
			fprintf(stderr, "Try 'usvhostctl --help' for more information.\n");
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	argc -= optind;
	argv += optind;
	if (!strcmp(argv[0], "stats"))
		return ctl_stats(path, argc, argv);
	if (!strcmp(argv[0], "trace"))
		return cmd_trace(path, argc, argv);
	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
		if (!strcmp(argv[0], simple[i]))
			return cmd_simple(path, argc, argv);
	fprintf(stderr, "usvhostctl: unknown command '%s'\n"
		"Try 'usvhostctl --help' for more information.\n", argv[0]);
	return 2;
}
