/* SPDX-License-Identifier: MIT */
/*
 * A FUSE file system of one regular file of zeros ("ram"), served by a
 * child process that the scenario stops (SIGSTOP): pages of the file that
 * nobody has read yet can then never be read. What an owner can do to the
 * daemon by mapping such a file over part of its guest RAM.
 */
#define FUSE_USE_VERSION 35
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "hostile.h"

#include <errno.h>
#include <fuse_lowlevel.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FILE_INO 2
#define FILE_NAME "ram"

static off_t file_size;

static void file_attr(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == FILE_INO) {
		st->st_mode = S_IFREG | 0644;
		st->st_nlink = 1;
		st->st_size = file_size;
	} else {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	}
}

static void fz_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = { .ino = FILE_INO, .attr_timeout = 3600,
				      .entry_timeout = 3600 };

	if (parent != FUSE_ROOT_ID || strcmp(name, FILE_NAME)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	file_attr(FILE_INO, &e.attr);
	fuse_reply_entry(req, &e);
}

static void fz_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	file_attr(ino, &st);
	fuse_reply_attr(req, &st, 3600);
}

static void fz_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != FILE_INO)
		fuse_reply_err(req, EISDIR);
	else
		fuse_reply_open(req, fi);
}

static void fz_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	static char zeros[128 * 1024];

	(void)ino, (void)fi;
	if (off >= file_size)
		size = 0;
	else if ((off_t)size > file_size - off)
		size = (size_t)(file_size - off);
	fuse_reply_buf(req, zeros, size < sizeof(zeros) ? size : sizeof(zeros));
}

static const struct fuse_lowlevel_ops fz_ops = {
	.lookup = fz_lookup,
	.getattr = fz_getattr,
	.open = fz_open,
	.read = fz_read,
};

struct fz_args {
	const char *mnt;
};

static int frozen_main(void *arg)
{
	struct fz_args *a = arg;
	char *argv[] = { "frozen", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	struct fuse_session *se = fuse_session_new(&args, &fz_ops, sizeof(fz_ops), NULL);
	int ret = 1;

	/* SIGTERM ends the loop, which then exits 0. */
	if (se && !fuse_set_signal_handlers(se) && !fuse_session_mount(se, a->mnt)) {
		ret = fuse_session_loop(se) < 0 ? 1 : 0;
		fuse_session_unmount(se);
	}
	if (se)
		fuse_remove_signal_handlers(se);
	if (se)
		fuse_session_destroy(se);
	return ret;
}

bool frozen_fs_start(struct frozen_fs *fz, size_t size)
{
	static struct fz_args a;
	uint64_t end;

	file_size = (off_t)size;
	fz->pid = -1;
	snprintf(fz->mnt, sizeof(fz->mnt), "%s/frozen-%d", hx.files, (int)getpid());
	snprintf(fz->file, sizeof(fz->file), "%s/" FILE_NAME, fz->mnt);
	if (mkdir(fz->mnt, 0755) < 0 && errno != EEXIST) {
		cl_setup_fail("mkdir %s", fz->mnt);
		return false;
	}
	a.mnt = fz->mnt;
	fz->pid = cl_spawn(frozen_main, &a, "the frozen file system");
	if (fz->pid < 0)
		return false;
	for (end = cl_now_ms() + cl_scaled(5000); cl_now_ms() < end; cl_sleep_ms(20)) {
		struct stat st;

		if (stat(fz->file, &st) == 0 && st.st_size == (off_t)size)
			return true;
	}
	cl_setup_fail("the frozen file system did not mount %s", fz->mnt);
	return false;
}

void frozen_fs_stop(struct frozen_fs *fz)
{
	if (fz->pid > 0) {
		kill(fz->pid, SIGCONT);
		umount2(fz->mnt, MNT_DETACH);
		kill(fz->pid, SIGTERM);
		cl_reap(fz->pid, cl_scaled(5000), "the frozen file system (ends on SIGTERM)");
	}
	fz->pid = -1;
	rmdir(fz->mnt);
}

bool frozen_fs_freeze_owner(struct frozen_fs *fz, int up, int down, const char *who,
			    unsigned n)
{
	unsigned waiting = 0;
	uint8_t v = 0;
	int st = 0;

	if (!hx_link_recv(up, &v, 30000) || v != 'r')
		return cl_check(false, "%s did not set its devices up", who);
	/* Stopped for sure (kill() only asks) before the workers go there. */
	if (kill(fz->pid, SIGSTOP) < 0 || waitpid(fz->pid, &st, WUNTRACED) != fz->pid ||
	    !WIFSTOPPED(st) || !hx_link_send(down, 'f')) {
		cl_setup_fail("SIGSTOP the frozen file system");
		return false;
	}
	if (!hx_link_recv(up, &v, 10000) || v != 'k')
		return cl_check(false, "%s did not post its packets", who);
	for (uint64_t end = cl_now_ms() + cl_scaled(10000);
	     (waiting = hx_daemon_threads_waiting()) < n && cl_now_ms() < end;)
		cl_sleep_ms(20);
	cl_print("    %u threads of the daemon wait on their owner's memory", waiting);
	return cl_check(waiting >= n, "every device's worker waits on its owner's memory (%u "
			"daemon threads in an uninterruptible wait, want %u)", waiting, n);
}

bool frozen_fs_owner_device(struct hdev *x, const char *tag, int ffd, unsigned i, size_t off)
{
	uint8_t *page;

	if (!hdev_up(x, tag, CL_RAM_ANON_PRIV, MTU))
		return false;
	/* A page of guest RAM becomes a page of the file, never read. */
	page = hdev_ram(x, off);
	if (mmap(page, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, ffd,
		 (off_t)i * 4096) == page)
		return true;
	cl_setup_fail("%s: a page of the frozen file over its RAM", tag);
	hdev_close(x);
	return false;
}

void frozen_fs_owner_post(struct hdev *x, unsigned n, size_t off)
{
	for (unsigned i = 0; i < n; i++) {
		uint16_t head = (uint16_t)(x[i].tx_desc++ % ODD_HEAD);

		cl_put_desc(hdev_desc(&x[i], VQ_TX), head, hdev_gpa(&x[i], off), 100, 0, 0);
		hdev_post(&x[i], VQ_TX, head);
		hdev_kick(&x[i], VQ_TX);
	}
}
