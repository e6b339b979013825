/* SPDX-License-Identifier: MIT */
/*
 * usvhostctl: what a running usvhostd is doing, through its control socket
 * (usvhostd --control=PATH): the devices and their owners, the rings'
 * counters, and runtime switches for the trace and the log level. One
 * connection per request; the protocol is usvhost/control.h.
 */
#include "tools/usvhostctl.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "usvhost/control.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: usvhostctl [--control=PATH] COMMAND [ARGS]\n"
		"Show and steer a running usvhostd through its control socket.\n"
		"\n"
		"  -c, --control=PATH   the daemon's socket (default " USV_CONTROL_DEFAULT ")\n"
		"  -h, --help           print this help and exit\n"
		"  -V, --version        print usvhostctl's version and exit\n"
		"\n"
		"Commands:\n"
		"  list [--json]        every device: owner (pid, comm, guest name), uid,\n"
		"                       taps, features, rings, memory strategy\n"
		"  stats [--json] [--prometheus] [--watch[=SECS]] [--count=N]\n"
		"                       per-ring packets, bytes, kicks, interrupts, drops\n"
		"                       and errors; --watch samples every SECS (default 1)\n"
		"                       and adds rates; --count stops after N samples;\n"
		"                       --prometheus prints the Prometheus text format\n"
		"  trace on FILE        trace every ioctl from now on to FILE (opened here,\n"
		"                       with your rights, and passed to the daemon)\n"
		"  trace off            stop tracing\n"
		"  log-level LEVEL      error, warn, info or debug, at once\n"
		"  version              usvhostctl's and the daemon's versions and protocol\n"
		"\n"
		"Exit status: 0 done, 1 the daemon refused or could not be reached, 2 bad\n"
		"usage.\n");
}

static const char *str(json_object *o, const char *k, const char *dflt)
{
	json_object *v;

	if (o && json_object_object_get_ex(o, k, &v) && v)
		return json_object_get_string(v);
	return dflt;
}

static json_object *member(json_object *o, const char *k)
{
	json_object *v = NULL;

	if (o)
		json_object_object_get_ex(o, k, &v);
	return v;
}

static void print_json(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void print_list(json_object *res)
{
	json_object *devs = member(res, "devices"), *tr = member(res, "trace");
	size_t n = devs ? json_object_array_length(devs) : 0;

	printf("%-4s %-8s %-16s %-16s %-6s %-16s %-12s %-8s %s\n", "DEV", "OWNER", "COMM",
	       "GUEST", "UID", "TAPS", "FEATURES", "MEMORY", "RINGS");
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(devs, i), *own = member(d, "owner");
		json_object *taps = member(d, "taps"), *rings = member(d, "rings");
		json_object *feat = member(d, "features");
		char tapbuf[64] = "", ringbuf[128] = "";

		for (size_t k = 0; taps && k < json_object_array_length(taps); k++)
			snprintf(tapbuf + strlen(tapbuf), sizeof(tapbuf) - strlen(tapbuf), "%s%s",
				 k ? "," : "",
				 json_object_get_string(json_object_array_get_idx(taps, k)));
		for (size_t k = 0; rings && k < json_object_array_length(rings); k++) {
			json_object *r = json_object_array_get_idx(rings, k);

			snprintf(ringbuf + strlen(ringbuf), sizeof(ringbuf) - strlen(ringbuf),
				 "%s%s:%s/%s", k ? " " : "", str(r, "dir", "?"),
				 str(r, "num", "0"), str(r, "state", "?"));
		}
		printf("%-4s %-8s %-16s %-16s %-6s %-16s %-12s %-8s %s%s\n", str(d, "handle", "?"),
		       own ? str(own, "pid", "-") : "-", own ? str(own, "comm", "-") : "-",
		       own ? str(own, "guest", "-") : "-", str(d, "uid", "?"),
		       tapbuf[0] ? tapbuf : "-",
		       feat ? json_object_get_string(json_object_array_get_idx(feat, 0)) : "-",
		       str(member(d, "memory"), "strategy", "-"), ringbuf,
		       json_object_get_boolean(member(d, "busy")) ? " (busy)" : "");
	}
	printf("%zu device%s; trace %s%s; log level %s\n", n, n == 1 ? "" : "s",
	       json_object_get_boolean(member(tr, "on")) ? "on: " : "off",
	       json_object_get_boolean(member(tr, "on")) ? str(tr, "name", "") : "",
	       str(res, "log_level", "?"));
}

static int cmd_trace(const char *path, int argc, char **argv)
{
	json_object *args = json_object_new_object(), *res;
	char full[PATH_MAX];
	int fd = -1;

	if (argc == 2 && !strcmp(argv[1], "off")) {
		json_object_object_add(args, "state", json_object_new_string("off"));
	} else if (argc == 3 && !strcmp(argv[1], "on")) {
		/* Opened here, with the caller's rights, never by the daemon. */
		fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			fprintf(stderr, "usvhostctl: trace on: %s: %s\n", argv[2], strerror(errno));
			json_object_put(args);
			return 1;
		}
		if (!realpath(argv[2], full))
			snprintf(full, sizeof(full), "%s", argv[2]);
		json_object_object_add(args, "state", json_object_new_string("on"));
		json_object_object_add(args, "name", json_object_new_string(full));
	} else {
		fprintf(stderr, "usvhostctl: usage: trace on FILE | trace off\n");
		json_object_put(args);
		return 2;
	}
	res = ctl_call(path, "trace", args, fd);
	if (fd >= 0)
		close(fd);
	if (!res)
		return 1;
	if (json_object_get_boolean(member(res, "on")))
		printf("tracing every ioctl to %s\n", str(res, "name", "?"));
	else
		printf("tracing off\n");
	json_object_put(res);
	return 0;
}

static int cmd_simple(const char *path, int argc, char **argv)
{
	const char *cmd = argv[0];
	json_object *args = NULL, *res;
	bool json = false;

	if (!strcmp(cmd, "log-level")) {
		if (argc != 2) {
			fprintf(stderr, "usvhostctl: usage: log-level error|warn|info|debug\n");
			return 2;
		}
		args = json_object_new_object();
		json_object_object_add(args, "level", json_object_new_string(argv[1]));
	} else if (!strcmp(cmd, "list") && argc == 2 && !strcmp(argv[1], "--json")) {
		json = true;
	} else if (argc != 1) {
		fprintf(stderr, "usvhostctl: %s: unexpected argument '%s'\n", cmd, argv[1]);
		return 2;
	}
	res = ctl_call(path, cmd, args, -1);
	if (!res)
		return 1;
	if (json)
		print_json(res);
	else if (!strcmp(cmd, "list"))
		print_list(res);
	else if (!strcmp(cmd, "log-level"))
		printf("log level %s -> %s\n", str(res, "old", "?"), str(res, "level", "?"));
	else
		printf("usvhostctl %s (protocol %d)\n%s %s (protocol %s, pid %s)\n",
		       PACKAGE_VERSION, USV_CONTROL_PROTO, str(res, "daemon", "?"),
		       str(res, "version", "?"), str(res, "proto", "?"), str(res, "pid", "?"));
	json_object_put(res);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = USV_CONTROL_DEFAULT;
	static const char *const simple[] = { "list", "log-level", "version" };
	int c;

	/* Options before the command only: the command's own follow it. */
	while ((c = getopt_long(argc, argv, "+c:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("usvhostctl %s (protocol %d)\n", PACKAGE_VERSION, USV_CONTROL_PROTO);
			return 0;
		default:
			fprintf(stderr, "Try 'usvhostctl --help' for more information.\n");
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	argc -= optind;
	argv += optind;
	if (!strcmp(argv[0], "stats"))
		return ctl_stats(path, argc, argv);
	if (!strcmp(argv[0], "trace"))
		return cmd_trace(path, argc, argv);
	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
		if (!strcmp(argv[0], simple[i]))
			return cmd_simple(path, argc, argv);
	fprintf(stderr, "usvhostctl: unknown command '%s'\n"
		"Try 'usvhostctl --help' for more information.\n", argv[0]);
	return 2;
}
