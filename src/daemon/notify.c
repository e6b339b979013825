/* SPDX-License-Identifier: MIT */
/*
 * The notification protocol of sd_notify(3) (systemd.io/NOTIFY): one
 * datagram of newline-separated assignments to the AF_UNIX socket named by
 * NOTIFY_SOCKET, a path, or an abstract name written with a leading '@'.
 * The manager learns the sender from the datagram's credentials, so the
 * message must come from the main process (no fork: usvhostd --foreground).
 * Spoken here rather than through libsystemd: it is a stable documented
 * interface of a few lines, and the socket is opened at start-up, before
 * privileges are dropped, so nothing is created later.
 */
#include "daemon/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

void usv_notify_open(struct usv_notify *n)
{
	const char *e = getenv("NOTIFY_SOCKET");
	size_t len;

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	if (!e || !*e)
		return;
	len = strlen(e);
	if ((e[0] != '/' && e[0] != '@') || len >= sizeof(n->addr.sun_path)) {
		usv_warn("NOTIFY_SOCKET=%s: not a socket path or @abstract name; "
			 "no readiness notification", e);
		return;
	}
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, e, len);
	if (e[0] == '@')
		n->addr.sun_path[0] = '\0';
	/* A path's terminating NUL counts; an abstract name is exactly its bytes. */
	n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
				  (e[0] == '/'));
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (n->fd < 0)
		usv_warn("NOTIFY_SOCKET: cannot create a socket: %s; no readiness "
			 "notification", strerror(errno));
}

int usv_notify_send(const struct usv_notify *n, const char *msg)
{
	ssize_t r;

	if (n->fd < 0)
		return 0;
	r = sendto(n->fd, msg, strlen(msg), MSG_NOSIGNAL,
		   (const struct sockaddr *)&n->addr, n->addr_len);
	if (r < 0) {
		int ret = -errno;

		usv_warn("cannot notify the service manager: %s", strerror(-ret));
		return ret;
	}
	return 0;
}

void usv_notify_ready(const struct usv_notify *n, const char *what)
{
	char msg[640];

	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=serving %s", what);
	if (n->fd >= 0 && !usv_notify_send(n, msg))
		usv_info("told the service manager we are ready");
}

void usv_notify_stopping(const struct usv_notify *n)
{
	usv_notify_send(n, "STOPPING=1\nSTATUS=stopping: releasing every device");
}

void usv_notify_close(struct usv_notify *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}
