/* SPDX-License-Identifier: MIT */
/*
 * A transport-free ioctl request: the command, the caller's argument pointer,
 * who called, and a way to reach the caller's memory at that pointer.
 *
 * Handlers read and write the caller's memory only through usv_req_read() and
 * usv_req_write(), in the order the kernel's copy_from_user()/copy_to_user()
 * calls happen, so error precedence matches the kernel. A front that cannot
 * reach the memory synchronously (CUSE) answers USV_ERETRY after recording
 * the range; the front then asks the kernel to fetch it and runs the request
 * again from the start. Handlers therefore do every read before changing
 * state, and ioctls that change state write nothing back.
 */
#ifndef USV_CORE_REQUEST_H
#define USV_CORE_REQUEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Not an errno: "ask the transport for this memory and run me again". */
#define USV_ERETRY 100000

struct usv_uaccess {
	int (*read)(void *ctx, uint64_t addr, void *buf, size_t len);
	int (*write)(void *ctx, uint64_t addr, const void *buf, size_t len);
};

struct usv_caller {
	pid_t tid;  /* the calling thread, as the transport reports it */
	pid_t tgid; /* its process, resolved from /proc */
};

/* Bytes read from / written to the caller at arg, kept for logs and traces.
 * 8 + 64 regions * 32 bytes is the largest payload worth decoding. */
#define USV_REQ_CAPTURE 2304

struct usv_capture {
	uint8_t buf[USV_REQ_CAPTURE];
	size_t len; /* contiguous bytes from arg */
};

struct usv_req {
	uint32_t cmd;
	uint64_t arg;
	struct usv_caller caller;
	const struct usv_uaccess *ua;
	void *ua_ctx;
	struct usv_capture in;
	struct usv_capture out;
	char note[96]; /* what a handler learnt (the fd kinds it imported) */
};

void usv_req_init(struct usv_req *req, uint32_t cmd, uint64_t arg,
		  const struct usv_caller *caller, const struct usv_uaccess *ua,
		  void *ua_ctx);
/* 0, -EFAULT, or -USV_ERETRY. */
int usv_req_read(struct usv_req *req, uint64_t addr, void *buf, size_t len);
int usv_req_write(struct usv_req *req, uint64_t addr, const void *buf,
		  size_t len);
/* Zero-fill len bytes at addr (clear_user), in bounded chunks. */
int usv_req_clear(struct usv_req *req, uint64_t addr, uint64_t len);

#endif
