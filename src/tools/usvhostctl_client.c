/* SPDX-License-Identifier: MIT */
/*
 * usvhostctl's side of the control protocol (usvhost/control.h): connect,
 * send one request line (with a descriptor when asked), read one answer
 * line, bounded in size and time, and unwrap its result or error.
 */
#include "tools/usvhostctl.h"

#include <errno.h>
#include <fcntl.h>
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
