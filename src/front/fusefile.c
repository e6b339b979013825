/* SPDX-License-Identifier: MIT */
/*
 * The FUSE-file front: a one-file filesystem, MOUNT/vhost-net, whose opens
 * are vhost-net devices. For kernels without CUSE. FUSE gives regular files
 * only restricted ioctls: the kernel copies _IOC_SIZE(cmd) bytes in and out,
 * and everything else (the memory table's regions, the write-back GETs) goes
 * through /proc/<pid>/mem of the caller.
 */
#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "front/front.h"
#include "front/handover.h"
#include "front/loop.h"
#include "front/uaccess.h"

#define INO_ROOT FUSE_ROOT_ID
#define INO_DEV 2
static const char file_name[] = "vhost-net";

struct ff_ctx {
	const struct usv_front_config *cfg;
	struct usv_front_loop loop;
};

static const struct usv_front_config *cfg_of(fuse_req_t req)
{
	return ((struct ff_ctx *)fuse_req_userdata(req))->cfg;
}

static struct usv_devlist *devs_of(fuse_req_t req)
{
	return cfg_of(req)->devs;
}

/* The file is root's, with --mode and --group; the kernel checks them
 * (default_permissions). */
static void fill_attr(const struct usv_front_config *cfg, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == INO_ROOT) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | (cfg->mode & 0777);
		st->st_gid = cfg->gid;
		st->st_nlink = 1;
	}
}

static void ff_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = { .ino = INO_DEV };

	if (parent != INO_ROOT || strcmp(name, file_name)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_attr(cfg_of(req), INO_DEV, &e.attr);
	fuse_reply_entry(req, &e);
}

static void ff_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (ino != INO_ROOT && ino != INO_DEV) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_attr(cfg_of(req), ino, &st);
	fuse_reply_attr(req, &st, 1.0);
}

static void ff_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	static const char *const names[] = { ".", "..", file_name };
	static const fuse_ino_t inos[] = { INO_ROOT, INO_ROOT, INO_DEV };
	char buf[512];
	size_t used = 0;

	(void)fi;
	if (ino != INO_ROOT) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	for (off_t i = off; i < 3; i++) {
		struct stat st;
		size_t n;

		fill_attr(cfg_of(req), inos[i], &st);
		n = fuse_add_direntry(req, buf + used, sizeof(buf) - used, names[i], &st, i + 1);
		if (used + n > size || used + n > sizeof(buf))
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
}

static void ff_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	unsigned handle;
	int ret;

	if (ino != INO_DEV) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	ret = usv_front_open(devs_of(req), fuse_req_ctx(req)->pid, fuse_req_ctx(req)->uid,
			     &handle);
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	fi->fh = handle;
	fi->direct_io = 1;
	fi->nonseekable = 1;
	if (fuse_reply_open(req, fi))
		usv_front_release(devs_of(req), handle); /* the opener is gone */
}

static void ff_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	usv_front_release(devs_of(req), (unsigned)fi->fh);
	fuse_reply_err(req, 0);
}

static void ff_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		     struct fuse_file_info *fi, unsigned flags, const void *in_buf,
		     size_t in_bufsz, size_t out_bufsz)
{
	struct usv_ua_restricted ua;
	uint8_t out[1 << 14]; /* _IOC_SIZE is at most 16383 */
	pid_t tid = fuse_req_ctx(req)->pid;
	int ret;

	(void)ino;
	(void)flags;
	if (out_bufsz > sizeof(out))
		out_bufsz = sizeof(out);
	usv_ua_restricted_init(&ua, tid, (uint64_t)(uintptr_t)arg, in_buf, in_bufsz,
			       out, out_bufsz);
	ret = usv_front_ioctl(devs_of(req), (unsigned)fi->fh, tid, cmd,
			      (uint64_t)(uintptr_t)arg, &usv_ua_restricted_ops, &ua);
	usv_ua_restricted_done(&ua);
	if (ret == -USV_ERETRY) /* restricted reads never ask for a retry */
		ret = -EIO;
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_ioctl(req, ret, out, ua.out_len);
}

static void ff_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)ino;
	(void)off;
	usv_front_read(req, devs_of(req), (unsigned)fi->fh, size, fi->flags,
		       &((struct ff_ctx *)fuse_req_userdata(req))->loop);
}

static void ff_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		     off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	(void)off;
	usv_front_write(req, devs_of(req), (unsigned)fi->fh, buf, size);
}

static void ff_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		    struct fuse_pollhandle *ph)
{
	(void)ino;
	usv_front_poll(req, devs_of(req), (unsigned)fi->fh, ph);
}

static const struct fuse_lowlevel_ops ff_ops = {
	.lookup = ff_lookup,
	.getattr = ff_getattr,
	.readdir = ff_readdir,
	.open = ff_open,
	.release = ff_release,
	.ioctl = ff_ioctl,
	.read = ff_read,
	.write = ff_write,
	.poll = ff_poll,
};

/* An inherited mount is not the session's to undo (libfuse recorded no
 * mount point): unmount it as libfuse unmounts its own as root, lazily. */
static void unmount_inherited(const struct usv_front_config *cfg)
{
	if (umount2(cfg->mount, MNT_DETACH))
		usv_err("cannot unmount %s: %s", cfg->mount, strerror(errno));
}

/* After a hand-over the mount is the new daemon's, but libfuse keeps our
 * copy of its path until fuse_session_unmount(), which unmounts unless
 * polling the session fd reports the connection severed (POLLERR). For
 * this process it is: the fd's number is pointed at a pipe without a
 * reader, which polls POLLERR, so libfuse closes it, frees the path and
 * leaves the mount alone. If that cannot be arranged the path is left
 * (a few bytes, once), never the mount undone. */
static void forget_mount(struct fuse_session *se)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC)) {
		usv_warn("after the hand-over: %s (the mount path stays allocated)",
			 strerror(errno));
		return;
	}
	close(p[0]);
	if (dup3(p[1], fuse_session_fd(se), O_CLOEXEC) < 0) {
		usv_warn("after the hand-over: %s (the mount path stays allocated)",
			 strerror(errno));
		close(p[1]);
		return;
	}
	close(p[1]);
	fuse_session_unmount(se);
}

/* Mounts a new session, or attaches the inherited one. */
static int attach(struct fuse_session *se, const struct usv_front_config *cfg,
		  struct usv_front_init *init)
{
	if (cfg->inherit) {
		if (cfg->inherit->cuse || strcmp(cfg->inherit->mount, cfg->mount)) {
			usv_err("the inherited session is not the FUSE file front at %s",
				cfg->mount);
			return -EINVAL;
		}
		usv_front_init_from_state(cfg->inherit, init);
		return usv_front_inherit(se, cfg->session_fd, cfg->inherit);
	}
	if (mkdir(cfg->mount, 0755) && errno != EEXIST) {
		int ret = -errno;

		usv_err("cannot create mount directory %s: %s", cfg->mount, strerror(errno));
		return ret;
	}
	if (fuse_session_mount(se, cfg->mount)) {
		usv_err("cannot mount FUSE at %s (is /dev/fuse there, and are we root?)",
			cfg->mount);
		return -EIO;
	}
	return 0;
}

int usv_front_fusefile_run(const struct usv_front_config *cfg)
{
	/* Without allow_other the kernel refuses every request from a user
	 * other than the one that mounted, whatever the file's mode says. */
	bool others = cfg->mode & 077;
	char *argv[] = { "usvhostd", "-o",
			 others ? "fsname=usvhost,subtype=usvhost,default_permissions,allow_other"
				: "fsname=usvhost,subtype=usvhost,default_permissions",
			 cfg->fuse_debug ? "-d" : NULL, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(cfg->fuse_debug ? 4 : 3, argv);
	struct ff_ctx ctx = { .cfg = cfg };
	struct usv_front_init init = { .seen = false };
	bool handed = false, started = false, fd_left = cfg->inherit != NULL;
	struct fuse_session *se;
	int ret = 0;

	se = fuse_session_new(&args, &ff_ops, sizeof(ff_ops), &ctx);
	if (!se) {
		usv_err("cannot create the FUSE session");
		ret = -EIO;
		goto out_fd;
	}
	if (fuse_set_signal_handlers(se)) {
		ret = -EIO;
		goto out_destroy;
	}
	ret = attach(se, cfg, &init);
	/* Once attached, the session closes the inherited fd. */
	fd_left = cfg->inherit && fuse_session_fd(se) != cfg->session_fd;
	if (ret)
		goto out_signals;
	usv_info("serving %s/%s (FUSE file front), mode %04o, group %u", cfg->mount,
		 file_name, (unsigned)cfg->mode, (unsigned)cfg->gid);
	if (!cfg->foreground && fuse_daemonize(0)) {
		ret = -EIO;
		goto out_unmount;
	}
	ret = usv_front_set_nonblock(fuse_session_fd(se));
	if (ret)
		goto out_unmount;
	if (cfg->hooks.started && (ret = cfg->hooks.started(cfg->hooks.ctx)))
		goto out_unmount;
	started = true;
	ret = usv_front_serve(se, cfg, false, &ctx.loop, &init);
	handed = ret == USV_LOOP_HANDOVER;
	if (ret > 0)
		ret = 0;
	if (!handed)
		usv_info("stopping: %u device%s still open", usv_devlist_count(cfg->devs),
			 usv_devlist_count(cfg->devs) == 1 ? "" : "s");
out_unmount:
	/* An inherited session whose hand-over did not complete (started
	 * failed) is still the running daemon's: its mount stays. */
	if (handed)
		forget_mount(se);
	else if (!cfg->inherit || started) {
		if (cfg->hooks.unmounting)
			cfg->hooks.unmounting(cfg->hooks.ctx, true);
		if (cfg->inherit)
			unmount_inherited(cfg);
		else
			fuse_session_unmount(se);
		if (cfg->hooks.unmounting)
			cfg->hooks.unmounting(cfg->hooks.ctx, false);
	}
out_signals:
	fuse_remove_signal_handlers(se);
out_destroy:
	/* Closes the session fd, ours or inherited once attached. */
	fuse_session_destroy(se);
	fuse_opt_free_args(&args);
out_fd:
	if (fd_left)
		close(cfg->session_fd);
	return ret;
}
