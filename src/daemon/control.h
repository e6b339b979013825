/* SPDX-License-Identifier: MIT */
/*
 * usvhostd's control socket (--control=PATH): a unix stream socket served by
 * one thread of its own with poll(), one JSON request and one JSON answer
 * per line (usvhost/control.h, docs/control.md). What it answers:
 * control_cmd.c. Who may connect: root, the daemon's own uid, and with
 * --control-group the members of that group (SO_PEERCRED, SO_PEERGROUPS).
 *
 * Nothing a client does blocks the daemon: sockets are non-blocking, a
 * client has one request buffer (USV_CONTROL_REQ_MAX) and one answer in
 * flight (no request is read while its answer waits), at most
 * USV_CONTROL_MAX_CLIENTS are served, and one silent for
 * USV_CONTROL_IDLE_MS is dropped. Device state is copied under the device
 * list's rules (core/devsummary.h); no lock is held across socket I/O.
 */
#ifndef USV_DAEMON_CONTROL_H
#define USV_DAEMON_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/devlist.h"
#include "trace/recorder.h"

#define USV_CONTROL_MAX_CLIENTS 16
#define USV_CONTROL_IDLE_MS 30000

struct usv_dp;
struct usv_control;
struct usv_front_state;

struct usv_control_config {
	const char *path;
	bool optional;   /* the default path: a failure is only a warning */
	bool group_set;  /* --control-group: mode 0660 and that group */
	gid_t gid;
	struct usv_devlist *devs;
	/* The --trace recorder (taken; NULL: none yet) and what headers say:
	 * the device list gets a switchable observer (trace_switch.h). */
	struct usv_trace *trace;
	const char *trace_name;
	const struct usv_trace_info *trace_info;
	/* usvhostd --takeover: listen on this socket, the old daemon's, bound
	 * at path already (taken; closed on failure). */
	bool inherit;
	int inherit_fd;
	/* NULL: the takeover command is refused. Else called on the control
	 * thread for an accepted one with the client's connection (blocking
	 * now) and the answer to send first: 0 takes both (the connection is
	 * the callee's to close), -errno refuses (the client is told). */
	int (*takeover)(void *arg, int fd, const char *answer, size_t len);
	void *takeover_arg;
	/* What `version` says of the front and profile; NULL: not said. */
	const struct usv_front_state *front;
	const char *profile;
};

/* The socket's path for --control=opt (NULL: not given) into buf; "" when
 * there is none. Default: USV_CONTROL_DEFAULT for the CUSE front's
 * vhost-net, USV_CONTROL_DIR/control-NAME for another --name; none for the
 * FUSE-file front, whose default mount is USV_CONTROL_DIR itself. A path in
 * the FUSE mount directory would be hidden by the mount: -EINVAL. */
int usv_control_path(const char *opt, bool cuse, const char *name, const char *mount,
		     char *buf, size_t len);
/* Creates and binds the socket (before privileges are dropped: it may need
 * to create its directory or chown to the group) and installs the trace
 * switch, which takes cfg->trace. On failure, cfg->trace is still the
 * caller's. */
int usv_control_open(const struct usv_control_config *cfg, struct usv_control **out);
/* Starts serving (the datapath's counters come from dp, NULL: none). */
int usv_control_start(struct usv_control *c, struct usv_dp *dp);
/* Stops serving, closes every client and removes the socket. */
void usv_control_stop(struct usv_control *c);
/* The listening socket, to hand to a new daemon. */
int usv_control_listen_fd(const struct usv_control *c);
/* After a hand-over: stops serving and closes every client but leaves the
 * socket file, which the new daemon now serves. */
void usv_control_stop_handed_over(struct usv_control *c);
/* Removes the socket file if it is still the one bound, nothing else: for
 * a daemon that ends without stopping (the stop took too long). */
void usv_control_remove_socket(struct usv_control *c);
/* Closes the trace and frees c; once no device can report any more. */
void usv_control_free(struct usv_control *c);

#endif
