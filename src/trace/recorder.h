/* SPDX-License-Identifier: MIT */
/*
 * The trace recorder: an observer (core/observer.h) that writes every
 * answered ioctl and every lifecycle event as one JSON line
 * (usvhost-trace(5)).
 */
#ifndef USV_TRACE_RECORDER_H
#define USV_TRACE_RECORDER_H

#include <stdio.h>

#include "core/inject.h"
#include "core/observer.h"
#include "core/profile.h"

struct usv_trace;

/* What the header records about the daemon that writes the trace. */
struct usv_trace_info {
	const char *producer;  /* "usvhostd 0.1.0" */
	const char *transport; /* "fuse", "cuse", or NULL */
	const char *device;    /* the node or file served, or NULL */
	const struct usv_profile *profile;
	const struct usv_inject *inject; /* rules, or NULL */
};

/* The observer to hand usv_devlist_set_observer(), with the trace as ctx. */
extern const struct usv_observer usv_trace_observer;

/* Opens path ("-": stdout) and writes the header. NULL with -errno in *err. */
struct usv_trace *usv_trace_open(const char *path, const struct usv_trace_info *info,
				 int *err);
/* Same, on an open stream (not closed by usv_trace_close). */
struct usv_trace *usv_trace_open_stream(FILE *f, const struct usv_trace_info *info);
/* Writes the closing record and closes the file. */
void usv_trace_close(struct usv_trace *t);

#endif
