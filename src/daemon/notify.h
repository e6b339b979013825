/* SPDX-License-Identifier: MIT */
/* Service-manager notification: sd_notify(3)'s datagram protocol, spoken
 * natively. Only when NOTIFY_SOCKET is set (systemd's Type=notify); else
 * every call does nothing. */
#ifndef USV_DAEMON_NOTIFY_H
#define USV_DAEMON_NOTIFY_H

#include <sys/socket.h>
#include <sys/un.h>

struct usv_notify {
	int fd; /* -1: no service manager listening */
	struct sockaddr_un addr;
	socklen_t addr_len;
};

/* Reads NOTIFY_SOCKET and opens the datagram socket now, before privileges
 * are dropped and while the daemon has one thread. An unusable value is
 * logged and leaves notification off; never fails the daemon. */
void usv_notify_open(struct usv_notify *n);
/* Sends one message (lines "KEY=value", '\n'-separated); -errno. */
int usv_notify_send(const struct usv_notify *n, const char *msg);
/* READY=1 with a STATUS= line naming what is served. */
void usv_notify_ready(const struct usv_notify *n, const char *what);
/* STOPPING=1 with a STATUS= line. */
void usv_notify_stopping(const struct usv_notify *n);
void usv_notify_close(struct usv_notify *n);

#endif
