/* SPDX-License-Identifier: MIT */
/*
 * The transports. Each turns kernel requests (CUSE, or a FUSE file) into core
 * requests on the shared device list and answers them.
 */
#ifndef USV_FRONT_FRONT_H
#define USV_FRONT_FRONT_H

#include <stdbool.h>
#include <sys/types.h>

#include <json-c/json_object.h>

#include "core/devlist.h"
#include "core/request.h"

/* Hand-over of the live session to another process (usvhostd --takeover).
 * Made by the daemon and given in the config. */
struct usv_front_ctl;
int usv_front_ctl_new(struct usv_front_ctl **out);
void usv_front_ctl_free(struct usv_front_ctl *c);
/* From any thread: stop taking requests; once all in flight are answered the
 * loop thread calls cfg->hooks.handover. -EBUSY if one is already pending,
 * -ENOTCONN when the front is not serving. */
int usv_front_ctl_handover(struct usv_front_ctl *c);

/* What another process needs to serve this front's session (JSON-encoded by
 * front_state.c): the front's identity and the kernel's INIT arguments, from
 * which it builds the INIT its own libfuse session must see first. */
struct usv_front_state {
	bool cuse;              /* else the FUSE file front */
	char name[64];          /* CUSE --name */
	char mount[4096];       /* FUSE --mount */
	mode_t mode;            /* FUSE file */
	gid_t gid;              /* FUSE file */
	unsigned proto_major, proto_minor; /* the kernel's INIT */
	unsigned max_readahead; /* FUSE_INIT's (0 for CUSE) */
	uint64_t init_flags;    /* INIT flags, FUSE's flags2 in the high word */
};
/* Encodes s; -ENOMEM. */
int usv_front_state_to_json(const struct usv_front_state *s, json_object **out);
/* Decodes and checks untrusted j into s: -EINVAL for a missing, mistyped or
 * out-of-range member. */
int usv_front_state_from_json(json_object *j, struct usv_front_state *s);
/* The identity alone (what `version` on the control socket says, so that a
 * new daemon can check its options before a hand-over), as members of o:
 * "transport" "cuse" with "name", or "fuse" with "mount", "mode", "gid".
 * -ENOMEM. */
int usv_front_identity_to_json(const struct usv_front_state *s, json_object *o);
/* Decodes it from untrusted j, checked as the state's: 1, 0 when j says no
 * "transport" (a daemon that does not say), -EINVAL. INIT fields zero. */
int usv_front_identity_from_json(json_object *j, struct usv_front_state *s);

struct usv_front_hooks {
	/* Once the node or mount exists, in the process that serves (after
	 * daemonizing), on the thread that runs the loop, before any serving
	 * thread is started: the daemon drops its privileges and starts its
	 * datapath here. Non-zero stops the front (undoing the node or mount). */
	int (*started)(void *ctx);
	/* Around the FUSE unmount at exit (begin, then end), which needs
	 * CAP_SYS_ADMIN; on the thread that ran started(). */
	void (*unmounting)(void *ctx, bool begin);
	/* On the loop thread, no request in flight and every device's IOTLB
	 * poll handle woken and dropped, after usv_front_ctl_handover. st
	 * describes this front (session_fd is still ours). 0: handed over,
	 * the front returns 0 without unmounting or destroying the node;
	 * -errno: the front serves on, the same session, unchanged. NULL:
	 * every hand-over fails (-ENOTSUP). */
	int (*handover)(void *ctx, int session_fd, const struct usv_front_state *st);
	/* On the loop thread, instead of handover, when a request in progress
	 * did not finish in time (why says which device's): the front serves
	 * on; the hook tells whoever asked. */
	void (*handover_refused)(void *ctx, const char *why);
	/* On the loop thread, once, when the front stops for good (a signal,
	 * the session's end), before it waits for the requests in progress:
	 * the daemon bounds the stop's time from here. session_fd is the
	 * session's /dev/fuse or /dev/cuse fd, open until the front returns:
	 * closing it ends the connection (every caller's request is answered
	 * with an error) when the stop takes too long. */
	void (*stopping)(void *ctx, int session_fd);
	void *ctx;
};

struct usv_front_config {
	struct usv_devlist *devs;
	const char *name;  /* CUSE: device name under /dev */
	const char *mount; /* FUSE file: mount directory */
	mode_t mode;       /* FUSE file: permission bits of the served file */
	gid_t gid;         /* FUSE file: its group */
	bool foreground;
	bool fuse_debug;
	struct usv_front_hooks hooks; /* each may be NULL */
	struct usv_front_ctl *ctl;  /* NULL: no hand-over */
	/* With inherit non-NULL: serve this inherited, initialised session
	 * (no mount, no node creation; the front owns the fd from then on and
	 * closes it on every return); name, mount, mode and gid must be
	 * inherit's. Read only when inherit is set. */
	int session_fd;
	const struct usv_front_state *inherit; /* NULL: a new session */
};

/* The identity of the front cfg describes (INIT fields zero). */
void usv_front_identity(const struct usv_front_config *cfg, bool cuse,
			struct usv_front_state *st);

/* Serve until SIGINT/SIGTERM/SIGHUP; then undo the node or mount (an
 * inherited FUSE mount too). 0 on a clean stop or once handed over, -errno
 * when the front cannot start. */
int usv_front_cuse_run(const struct usv_front_config *cfg);
int usv_front_fusefile_run(const struct usv_front_config *cfg);

/* Shared by both fronts. */
/* A new device for an open by thread tid of user uid (the request's
 * credentials): -EMFILE when uid holds its limit, -ENFILE, -ENOMEM; each
 * refusal is logged. */
int usv_front_open(struct usv_devlist *devs, pid_t tid, uid_t uid, unsigned *handle);
void usv_front_release(struct usv_devlist *devs, unsigned handle);
/* Resolves the caller and serves one ioctl; -USV_ERETRY passes through. */
int usv_front_ioctl(struct usv_devlist *devs, unsigned handle, pid_t tid,
		    uint32_t cmd, uint64_t arg, const struct usv_uaccess *ua,
		    void *ua_ctx);

/* read()/write()/poll() of a device (the IOTLB channel), answered on req:
 * the same for both fronts. */
struct fuse_req;
struct fuse_pollhandle;
struct usv_front_loop;
/* A blocking read gives up with EINTR when the loop stops (a hand-over must
 * not wait for a message that may never come). */
void usv_front_read(struct fuse_req *req, struct usv_devlist *devs, unsigned handle,
		    size_t size, int flags, const struct usv_front_loop *loop);
void usv_front_write(struct fuse_req *req, struct usv_devlist *devs, unsigned handle,
		     const char *buf, size_t size);
void usv_front_poll(struct fuse_req *req, struct usv_devlist *devs, unsigned handle,
		    struct fuse_pollhandle *ph);

#endif
