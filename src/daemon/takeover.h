/* SPDX-License-Identifier: MIT */
/*
 * Live upgrade: one usvhostd hands its devices, its kernel session and its
 * control socket to another (usvhostd --takeover), without the guests or
 * QEMU noticing. docs/operations.md describes the exchange and the state
 * format; the device state itself is devstate_json.h's.
 *
 * The exchange, on the old daemon's control socket, after the new one's
 * {"cmd":"takeover","args":{"versions":[1]}} line was accepted:
 *   old -> new  the ok answer line (the control protocol's);
 *   old -> new  8 bytes, the length L of the state (little endian), then L
 *               bytes of JSON: version, producer, profile, front, devices,
 *               stats, and nfds; or an error object;
 *   old -> new  nfds descriptors, SCM_RIGHTS, at most USV_TAKEOVER_FD_CHUNK
 *               per one-byte message; the state names them by index;
 *   new -> old  {"ready":true} once every device is rebuilt (not running),
 *               or {"ready":false,"error":"..."};
 *   old -> new  {"go":true}: the old daemon has stopped for good.
 * Until the old daemon reads "ready" it can go back to serving, untouched;
 * once it has, it never does. The new daemon starts the rings on "go" or
 * when the old one's end closes after "ready".
 */
#ifndef USV_DAEMON_TAKEOVER_H
#define USV_DAEMON_TAKEOVER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/devlist.h"
#include "front/front.h"

#define USV_TAKEOVER_VERSION 1
#define USV_TAKEOVER_FD_CHUNK 200
/* How long the old daemon waits for "ready", and the new one for "go". */
#define USV_TAKEOVER_READY_MS 60000
#define USV_TAKEOVER_GO_MS 90000

struct usv_dp;

/* ---- the old daemon ---- */

/* What the old daemon hands over besides its devices. */
struct usv_takeover_src {
	struct usv_devlist *devs;
	struct usv_dp *dp;         /* its counters go along; NULL: none */
	const char *profile;       /* the profile its devices answer as */
	int control_fd;            /* its listening control socket */
};

/* Sends the state on sock (the new daemon's connection, blocking), answer
 * being the ok line to send first. Every device's rings are stopped for
 * it. 0: the new daemon is ready and has been told to go: this daemon must
 * not touch any device again. -errno: the hand-over failed and every ring
 * runs again (logged). */
int usv_takeover_send(int sock, const char *answer, size_t answer_len,
		      const struct usv_takeover_src *src, int session_fd,
		      const struct usv_front_state *front);

/* ---- the new daemon ---- */

struct usv_takeover_in {
	int sock;                   /* the connection to the old daemon */
	json_object *state;         /* its state */
	int *fds;                   /* received; -1 once taken */
	unsigned nfds;
	struct usv_front_state front;
	int session_fd, control_fd; /* taken out of fds */
	char profile[64];
	pid_t old_pid;
};

/* Asks the daemon at path who it is (`version`), before anything stops:
 * its front's identity (cuse, name or mount, mode, gid; nothing of INIT)
 * into *front, its profile and pid. 1: said; 0: a daemon that does not say
 * (check against the state once it has come); -errno with a message in err
 * (no daemon listens there, or its answer makes no sense). */
int usv_takeover_ask_front(const char *path, struct usv_front_state *front, char *profile,
			   size_t profile_len, pid_t *pid, char *err, size_t errlen);
/* Connects to the old daemon's control socket at path, asks for its
 * devices and reads them (nothing is rebuilt yet). -errno with a message
 * in err on failure (nothing then changed in the old daemon). */
int usv_takeover_fetch(const char *path, struct usv_takeover_in *in, char *err,
		       size_t errlen);
/* Rebuilds every device into devs (whose datapath is set) with rings
 * stopped, seeds their counters into dp, and says ready; then waits for the
 * old daemon to stop and starts every ring. -errno (told to the old daemon,
 * which serves on) if a device cannot be rebuilt. */
int usv_takeover_resume(struct usv_takeover_in *in, struct usv_devlist *devs,
			struct usv_dp *dp);
/* Closes what was not taken. */
void usv_takeover_in_free(struct usv_takeover_in *in);

#endif
