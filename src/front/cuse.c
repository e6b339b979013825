/* SPDX-License-Identifier: MIT */
/*
 * The CUSE front: a character device /dev/NAME (default vhost-net) with a
 * dynamic major, whose opens are vhost-net devices. Its ioctls are
 * unrestricted: the kernel passes no data at first, and each request is
 * replayed with fuse_reply_ioctl_retry() until every range it reads has been
 * fetched and every range it writes has been prepared (front/uaccess.h).
 */
#define FUSE_USE_VERSION 35
#include <cuse_lowlevel.h>
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ioctl_table.h"
#include "core/log.h"
#include "front/front.h"
#include "front/handover.h"
#include "front/loop.h"
#include "front/uaccess.h"

struct cuse_ctx {
	struct usv_devlist *devs;
	const char *name;
	bool created; /* INIT answered: /dev/NAME exists */
	struct usv_front_loop loop;
};

static struct cuse_ctx *ctx_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void cu_init_done(void *userdata)
{
	struct cuse_ctx *c = userdata;

	c->created = true;
	usv_info("serving /dev/%s (CUSE front)", c->name);
}

static void cu_open(fuse_req_t req, struct fuse_file_info *fi)
{
	unsigned handle;
	int ret = usv_front_open(ctx_of(req)->devs, fuse_req_ctx(req)->pid,
				 fuse_req_ctx(req)->uid, &handle);

	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	fi->fh = handle;
	fi->nonseekable = 1;
	if (fuse_reply_open(req, fi))
		usv_front_release(ctx_of(req)->devs, handle);
}

static void cu_release(fuse_req_t req, struct fuse_file_info *fi)
{
	usv_front_release(ctx_of(req)->devs, (unsigned)fi->fh);
	fuse_reply_err(req, 0);
}

static void cu_ioctl(fuse_req_t req, int cmd, void *arg, struct fuse_file_info *fi,
		     unsigned flags, const void *in_buf, size_t in_bufsz,
		     size_t out_bufsz)
{
	const struct usv_ioctl_desc *d = usv_ioctl_lookup((uint32_t)cmd);
	struct iovec in_iov[USV_UA_MAX_IOV], out_iov[USV_UA_MAX_IOV];
	struct usv_ua_retry *ua = malloc(sizeof(*ua));
	uint64_t a = (uint64_t)(uintptr_t)arg;
	int ret;

	(void)flags;
	if (!ua) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	usv_ua_retry_init(ua, a, d ? d->in_size : 0, d ? d->out_size : 0, in_buf,
			  in_bufsz, out_bufsz);
	ret = usv_front_ioctl(ctx_of(req)->devs, (unsigned)fi->fh,
			      fuse_req_ctx(req)->pid, (uint32_t)cmd, a,
			      &usv_ua_retry_ops, ua);
	if (ret == -USV_ERETRY)
		fuse_reply_ioctl_retry(req, in_iov, usv_ua_retry_iov(ua->rd, ua->nrd, in_iov),
				       out_iov, usv_ua_retry_iov(ua->wr, ua->nwr, out_iov));
	else if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_ioctl(req, ret, ua->out, usv_ua_retry_out_len(ua));
	free(ua);
}

static void cu_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)off;
	usv_front_read(req, ctx_of(req)->devs, (unsigned)fi->fh, size, fi->flags,
		       &ctx_of(req)->loop);
}

static void cu_write(fuse_req_t req, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)off;
	usv_front_write(req, ctx_of(req)->devs, (unsigned)fi->fh, buf, size);
}

static void cu_poll(fuse_req_t req, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	usv_front_poll(req, ctx_of(req)->devs, (unsigned)fi->fh, ph);
}

static const struct cuse_lowlevel_ops cu_ops = {
	.init_done = cu_init_done,
	.open = cu_open,
	.release = cu_release,
	.ioctl = cu_ioctl,
	.read = cu_read,
	.write = cu_write,
	.poll = cu_poll,
};

/* The kernel creates /dev/NAME when CUSE's INIT is answered: serve requests
 * on this thread until then, so that the started hook runs once the node
 * exists and before the loop starts any other thread. */
static int serve_until_created(struct fuse_session *se, struct cuse_ctx *c,
			       struct usv_front_init *init)
{
	struct fuse_buf buf = { .mem = NULL };
	int ret = 0;

	while (!c->created && !fuse_session_exited(se)) {
		ret = fuse_session_receive_buf(se, &buf);
		if (ret == -EINTR)
			continue;
		if (ret <= 0)
			break;
		usv_front_init_peek(&buf, init);
		fuse_session_process_buf(se, &buf);
		ret = 0;
	}
	free(buf.mem);
	if (c->created)
		return 0;
	usv_err("/dev/%s was not created: %s", c->name,
		ret < 0 ? strerror(-ret) : "the CUSE session ended");
	return ret < 0 ? ret : -EIO;
}

/* A new session: /dev/cuse opened and the node created (INIT answered). */
static struct fuse_session *cuse_new(const struct usv_front_config *cfg, struct cuse_info *ci,
				     struct cuse_ctx *c, struct usv_front_init *init, int *ret)
{
	char *argv[4] = { "usvhostd" };
	int argc = 1, multithreaded = 0;
	struct fuse_session *se;
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "/dev/%s", cfg->name);
	if (stat(path, &st) == 0) {
		usv_err("%s already exists (the kernel's vhost_net module, or a static "
			"node from kmod/udev?): unload it, remove the node, or pick "
			"another name with --name and pass vhostfd= to QEMU", path);
		*ret = -EEXIST;
		return NULL;
	}
	if (access("/dev/cuse", R_OK | W_OK)) {
		usv_err("/dev/cuse: %s (modprobe cuse)", strerror(errno));
		*ret = -ENODEV;
		return NULL;
	}
	if (cfg->foreground)
		argv[argc++] = "-f";
	if (cfg->fuse_debug)
		argv[argc++] = "-d";
	se = cuse_lowlevel_setup(argc, argv, ci, &cu_ops, &multithreaded, c);
	if (!se) {
		usv_err("cannot set up CUSE device %s", path);
		*ret = -EIO;
		return NULL;
	}
	*ret = serve_until_created(se, c, init);
	if (*ret) {
		cuse_lowlevel_teardown(se);
		return NULL;
	}
	return se;
}

/* The inherited session: a session with the same device info (its INIT
 * answer, which names the node, goes nowhere) on the inherited fd. */
static struct fuse_session *cuse_inherit(const struct usv_front_config *cfg,
					 struct cuse_info *ci, struct cuse_ctx *c,
					 struct usv_front_init *init, int *ret)
{
	char *argv[3] = { "usvhostd" };
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	struct fuse_session *se = NULL;

	*ret = -EINVAL;
	if (!cfg->inherit->cuse || strcmp(cfg->inherit->name, cfg->name)) {
		usv_err("the inherited session is not the CUSE front /dev/%s", cfg->name);
		goto out;
	}
	if (cfg->fuse_debug)
		argv[args.argc++] = "-d";
	*ret = -EIO;
	se = cuse_lowlevel_new(&args, ci, &cu_ops, c);
	if (!se) {
		usv_err("cannot create the CUSE session");
		goto out;
	}
	*ret = usv_front_inherit(se, cfg->session_fd, cfg->inherit);
	if (!*ret && !c->created)
		*ret = -EPROTO;
	if (!*ret && fuse_set_signal_handlers(se))
		*ret = -EIO;
	/* As cuse_lowlevel_setup() does for a new session (a no-op but for
	 * chdir("/") in the foreground). */
	if (!*ret && fuse_daemonize(cfg->foreground)) {
		fuse_remove_signal_handlers(se);
		*ret = -EIO;
	}
	usv_front_init_from_state(cfg->inherit, init);
out:
	if (*ret && se) {
		/* The session closes the fd once it holds it. */
		if (fuse_session_fd(se) != cfg->session_fd)
			close(cfg->session_fd);
		fuse_session_destroy(se);
		se = NULL;
	} else if (*ret) {
		close(cfg->session_fd);
	}
	fuse_opt_free_args(&args);
	return se;
}

int usv_front_cuse_run(const struct usv_front_config *cfg)
{
	struct cuse_ctx c = { .devs = cfg->devs, .name = cfg->name };
	struct usv_front_init init = { .seen = false };
	char devname[128];
	const char *dev_info[] = { devname };
	struct cuse_info ci = {
		.dev_info_argc = 1,
		.dev_info_argv = dev_info,
		.flags = CUSE_UNRESTRICTED_IOCTL,
	};
	struct fuse_session *se;
	int ret = 0;

	if (strchr(cfg->name, '/') || !cfg->name[0]) {
		usv_err("invalid device name '%s'", cfg->name);
		if (cfg->inherit)
			close(cfg->session_fd);
		return -EINVAL;
	}
	snprintf(devname, sizeof(devname), "DEVNAME=%s", cfg->name);
	se = cfg->inherit ? cuse_inherit(cfg, &ci, &c, &init, &ret)
			  : cuse_new(cfg, &ci, &c, &init, &ret);
	if (!se)
		return ret;
	ret = usv_front_set_nonblock(fuse_session_fd(se));
	if (ret)
		goto out;
	if (cfg->hooks.started && (ret = cfg->hooks.started(cfg->hooks.ctx)))
		goto out;
	ret = usv_front_serve(se, cfg, true, &c.loop, &init);
	if (ret == USV_LOOP_HANDOVER)
		ret = 0;
	else
		usv_info("stopping: %u device%s still open", usv_devlist_count(cfg->devs),
			 usv_devlist_count(cfg->devs) == 1 ? "" : "s");
out:
	/* Closing our fd ends the node only when no other process holds the
	 * session (after a hand-over, the next one does). */
	cuse_lowlevel_teardown(se);
	return ret;
}
