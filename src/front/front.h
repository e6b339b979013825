/* SPDX-License-Identifier: MIT */
/*
 * The transports. Each turns kernel requests (CUSE, or a FUSE file) into core
 * requests on the shared device list and answers them.
 */
#ifndef USV_FRONT_FRONT_H
#define USV_FRONT_FRONT_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/devlist.h"
#include "core/request.h"

struct usv_front_hooks {
	/* Once the node or mount exists, in the process that serves (after
	 * daemonizing), on the thread that runs the loop, before any serving
	 * thread is started: the daemon drops its privileges and starts its
	 * datapath here. Non-zero stops the front (undoing the node or mount). */
	int (*started)(void *ctx);
	/* Around the FUSE unmount at exit (begin, then end), which needs
	 * CAP_SYS_ADMIN; on the thread that ran started(). */
	void (*unmounting)(void *ctx, bool begin);
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
};

/* Serve until SIGINT/SIGTERM/SIGHUP; then release every device and undo the
 * node or mount. 0 on a clean stop, -errno when the front cannot start. */
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
void usv_front_read(struct fuse_req *req, struct usv_devlist *devs, unsigned handle,
		    size_t size, int flags);
void usv_front_write(struct fuse_req *req, struct usv_devlist *devs, unsigned handle,
		     const char *buf, size_t size);
void usv_front_poll(struct fuse_req *req, struct usv_devlist *devs, unsigned handle,
		    struct fuse_pollhandle *ph);

#endif
