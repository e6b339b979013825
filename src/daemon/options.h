/* SPDX-License-Identifier: MIT */
/* usvhostd's command line: the daemon's configuration. */
#ifndef USV_DAEMON_OPTIONS_H
#define USV_DAEMON_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "core/log.h"
#include "daemon/seccomp.h"

#define USV_OPTIONS_MAX_INJECT 32

enum usv_transport {
	USV_TRANSPORT_AUTO,
	USV_TRANSPORT_CUSE,
	USV_TRANSPORT_FUSE,
};

struct usv_options {
	enum usv_transport transport;
	const char *name;  /* CUSE device name */
	const char *mount; /* FUSE-file mount directory */
	const char *profile;
	const char *stats;  /* counters file, or NULL */
	const char *trace;  /* JSON trace file ("-": stdout), or NULL */
	const char *control; /* control socket; NULL: the default; "none": off */
	gid_t control_gid;  /* --control-group */
	bool control_group_set;
	const char *inject[USV_OPTIONS_MAX_INJECT]; /* --inject rules, as given */
	unsigned ninject;
	unsigned workers;   /* --workers, accepted and ignored; 0: not given */
	unsigned max_devices_per_user; /* 0: no limit */
	unsigned max_mem_regions; /* SET_MEM_TABLE answers E2BIG above it */
	unsigned stop_timeout; /* seconds a stop may take; 0: no bound */
	mode_t mode;        /* of the served file (FUSE) */
	gid_t gid;          /* its group (FUSE) */
	bool mode_set;      /* --mode given */
	bool group_set;     /* --group given */
	bool keep_privileges;
	bool takeover;      /* --takeover: serve the running daemon's devices */
	bool name_set, mount_set, profile_set;
	enum usv_seccomp_mode seccomp; /* default enforce */
	bool foreground;
	bool syslog;
	bool fuse_debug;
	enum usv_log_level log_level;
	enum usv_log_format log_format;
};

#define USV_DEFAULT_NAME "vhost-net"
#define USV_DEFAULT_MOUNT "/run/usvhost"
#define USV_DEFAULT_MAX_DEVICES_PER_USER 256
#define USV_DEFAULT_MODE 0600
/* Well inside systemd's default TimeoutStopSec (90 s). */
#define USV_DEFAULT_STOP_TIMEOUT 10
/* The kernel's vhost module parameter is an unsigned short. */
#define USV_MAX_MEM_REGIONS_LIMIT 65535

/* 0: run; 1: done (help or version printed); -EINVAL: bad usage (reported). */
int usv_options_parse(int argc, char **argv, struct usv_options *o);
void usv_options_usage(FILE *f);
const char *usv_transport_name(enum usv_transport t);

#endif
