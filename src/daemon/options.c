/* SPDX-License-Identifier: MIT */
#include "daemon/options.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/inject.h"
#include "core/profile.h"
#include "usvhost/control.h"

void usv_options_usage(FILE *f)
{
	fprintf(f,
		"Usage: usvhostd [OPTION]...\n"
		"Serve /dev/vhost-net from userspace, for QEMU's -netdev tap,vhost=on.\n"
		"\n"
		"  -t, --transport=auto|cuse|fuse  front to serve (default auto: cuse when\n"
		"                                  /dev/cuse exists, else fuse)\n"
		"  -n, --name=NAME                 CUSE device name, /dev/NAME\n"
		"                                  (default " USV_DEFAULT_NAME ")\n"
		"  -m, --mount=DIR                 FUSE-file front: serve DIR/vhost-net\n"
		"                                  (default " USV_DEFAULT_MOUNT ")\n"
		"      --mode=OCTAL                FUSE-file front: permission bits of\n"
		"                                  DIR/vhost-net (default 0600); group or\n"
		"                                  other bits let other users open it\n"
		"      --group=NAME|GID            FUSE-file front: group of DIR/vhost-net\n"
		"                                  (default root)\n"
		"      --max-devices-per-user=N    devices one uid may hold open; more opens\n"
		"                                  fail with EMFILE (default 256; 0: no limit)\n"
		"      --max-mem-regions=N         memory regions a SET_MEM_TABLE may carry;\n"
		"                                  more fail with E2BIG, as above the vhost\n"
		"                                  module's max_mem_regions (default 64, 1\n"
		"                                  to 65535). QEMU reads the kernel's limit\n"
		"                                  from /sys/module/vhost/parameters/\n"
		"                                  max_mem_regions (64 when it is absent)\n"
		"      --takeover                  live upgrade: take every device, the\n"
		"                                  device node or mount, and the control\n"
		"                                  socket over from the usvhostd listening\n"
		"                                  on --control (default " USV_CONTROL_DEFAULT ");\n"
		"                                  front and profile are the running one's\n"
		"      --stop-timeout=SECONDS      a stop (SIGINT, SIGTERM) that has not\n"
		"                                  released every device by then ends the\n"
		"                                  process after removing the node or mount\n"
		"                                  and the control socket (exit status 1;\n"
		"                                  default 10; 0: wait for ever)\n"
		"      --keep-privileges           do not drop capabilities nor set\n"
		"                                  no_new_privs after start-up (debugging)\n"
		"      --seccomp=enforce|log|kill|off\n"
		"                                  system call allow-list: a call off it fails\n"
		"                                  with EPERM and is logged (enforce, the\n"
		"                                  default), is allowed and logged by the\n"
		"                                  kernel (log), kills the daemon (kill); or\n"
		"                                  no filter (off)\n"
		"  -p, --profile=NAME              answer as profile NAME (default usvhost;\n"
		"                                  'list' shows them all)\n"
		"  -w, --workers=N                 ignored, with a warning: each device has\n"
		"                                  its own worker thread, as in the kernel\n"
		"  -s, --stats=FILE                rewrite per-ring counters to FILE every\n"
		"                                  second, on SIGUSR1 and at exit\n"
		"      --trace=FILE                write every ioctl and lifecycle event as\n"
		"                                  JSON lines to FILE ('-': stdout); read it\n"
		"                                  with usvhost-trace(1)\n"
		"      --control=PATH|none         control socket for usvhostctl(1) (default\n"
		"                                  " USV_CONTROL_DEFAULT " for the CUSE front,\n"
		"                                  control-NAME there for --name=NAME; the\n"
		"                                  FUSE-file front has none unless given)\n"
		"      --control-group=NAME|GID    let that group use the control socket\n"
		"                                  (mode 0660; default: root only, 0600)\n"
		"      --inject=IOCTL:ERRNO[:nth=N][:count=M]\n"
		"                                  make the Nth call of IOCTL (and M-1 more)\n"
		"                                  fail with ERRNO; repeatable\n"
		"  -f, --foreground                stay in the foreground, log to stderr\n"
		"      --syslog                    log to syslog even in the foreground\n"
		"  -l, --log-level=LEVEL           error, warn, info (default) or debug;\n"
		"                                  debug logs every ioctl and its answer\n"
		"      --log-format=auto|plain|journal\n"
		"                                  stderr lines: plain (with the daemon's\n"
		"                                  clock) or \"<N>text\" for journald; auto\n"
		"                                  (default): journal when stderr is the\n"
		"                                  journal (JOURNAL_STREAM)\n"
		"      --fuse-debug                print libfuse's own request trace\n"
		"  -h, --help                      print this help and exit\n"
		"  -V, --version                   print the version and exit\n"
		"\n"
		"SIGINT or SIGTERM stops the daemon: every device is released, every\n"
		"imported fd closed, and the device node or mount removed, within\n"
		"--stop-timeout. After a takeover the old daemon exits 0 and leaves\n"
		"them to the new one.\n");
}

static void list_profiles(FILE *f)
{
	const struct usv_profile *p;
	unsigned n;

	p = usv_profile_list(&n);
	fprintf(f, "Profiles (usvhostd --profile=NAME; docs/profiles.md):\n");
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "  %-12s features 0x%llx%s, backend features 0x%llx  %s\n",
			p[i].name, (unsigned long long)p[i].features[0],
			p[i].features[1] ? "+" : "",
			(unsigned long long)p[i].backend_features, p[i].description);
}

const char *usv_transport_name(enum usv_transport t)
{
	switch (t) {
	case USV_TRANSPORT_CUSE:
		return "cuse";
	case USV_TRANSPORT_FUSE:
		return "fuse";
	case USV_TRANSPORT_AUTO:
		break;
	}
	return "auto";
}

/* A group name, or a number, for option opt. */
static int parse_group(const char *opt, const char *arg, gid_t *gid)
{
	struct group *g;
	char *end;
	unsigned long n;

	if (!*arg) {
		fprintf(stderr, "usvhostd: %s needs a group name or number\n", opt);
		return -EINVAL;
	}
	n = strtoul(arg, &end, 10);
	if (!*end && arg[0] != '-' && n < (gid_t)-1) {
		*gid = (gid_t)n;
		return 0;
	}
	g = getgrnam(arg);
	if (!g) {
		fprintf(stderr, "usvhostd: %s: no group '%s'\n", opt, arg);
		return -EINVAL;
	}
	*gid = g->gr_gid;
	return 0;
}

int usv_options_parse(int argc, char **argv, struct usv_options *o)
{
	enum { OPT_SYSLOG = 256, OPT_FUSE_DEBUG, OPT_TRACE, OPT_INJECT, OPT_MODE,
	       OPT_GROUP, OPT_MAX_PER_USER, OPT_KEEP_PRIVS, OPT_LOG_FORMAT, OPT_CONTROL,
	       OPT_CONTROL_GROUP, OPT_SECCOMP, OPT_MAX_MEM_REGIONS, OPT_TAKEOVER,
	       OPT_STOP_TIMEOUT };
	static const struct option longopts[] = {
		{ "transport", required_argument, NULL, 't' },
		{ "name", required_argument, NULL, 'n' },
		{ "mount", required_argument, NULL, 'm' },
		{ "profile", required_argument, NULL, 'p' },
		{ "workers", required_argument, NULL, 'w' },
		{ "stats", required_argument, NULL, 's' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "syslog", no_argument, NULL, OPT_SYSLOG },
		{ "log-level", required_argument, NULL, 'l' },
		{ "fuse-debug", no_argument, NULL, OPT_FUSE_DEBUG },
		{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
		{ "trace", required_argument, NULL, OPT_TRACE },
		{ "inject", required_argument, NULL, OPT_INJECT },
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "max-devices-per-user", required_argument, NULL, OPT_MAX_PER_USER },
		{ "max-mem-regions", required_argument, NULL, OPT_MAX_MEM_REGIONS },
		{ "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT },
		{ "keep-privileges", no_argument, NULL, OPT_KEEP_PRIVS },
		{ "takeover", no_argument, NULL, OPT_TAKEOVER },
		{ "control", required_argument, NULL, OPT_CONTROL },
		{ "control-group", required_argument, NULL, OPT_CONTROL_GROUP },
		{ "seccomp", required_argument, NULL, OPT_SECCOMP },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->transport = USV_TRANSPORT_AUTO;
	o->name = USV_DEFAULT_NAME;
	o->mount = USV_DEFAULT_MOUNT;
	o->profile = "usvhost";
	o->log_level = USV_LOG_INFO;
	o->mode = USV_DEFAULT_MODE;
	o->max_devices_per_user = USV_DEFAULT_MAX_DEVICES_PER_USER;
	o->max_mem_regions = USV_MAX_MEM_REGIONS;
	o->stop_timeout = USV_DEFAULT_STOP_TIMEOUT;
	optind = 1;
	while ((c = getopt_long(argc, argv, "t:n:m:p:w:s:fl:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (!strcmp(optarg, "auto"))
				o->transport = USV_TRANSPORT_AUTO;
			else if (!strcmp(optarg, "cuse"))
				o->transport = USV_TRANSPORT_CUSE;
			else if (!strcmp(optarg, "fuse"))
				o->transport = USV_TRANSPORT_FUSE;
			else {
				fprintf(stderr, "usvhostd: unknown transport '%s' "
					"(auto, cuse or fuse)\n", optarg);
				return -EINVAL;
			}
			break;
		case 'n':
			o->name = optarg;
			o->name_set = true;
			break;
		case 'm':
			o->mount = optarg;
			o->mount_set = true;
			break;
		case 'p':
			if (!strcmp(optarg, "list")) {
				list_profiles(stdout);
				return 1;
			}
			if (!usv_profile_find(optarg)) {
				fprintf(stderr, "usvhostd: unknown profile '%s'\n", optarg);
				list_profiles(stderr);
				return -EINVAL;
			}
			o->profile = optarg;
			o->profile_set = true;
			break;
		case 'w': {
			char *end;
			unsigned long n = strtoul(optarg, &end, 10);

			if (*end || n < 1 || n > 256) {
				fprintf(stderr, "usvhostd: --workers takes a number from 1 to 256\n");
				return -EINVAL;
			}
			o->workers = (unsigned)n;
			break;
		}
		case 's':
			o->stats = optarg;
			break;
		case 'f':
			o->foreground = true;
			break;
		case OPT_SYSLOG:
			o->syslog = true;
			break;
		case 'l':
			if (usv_log_parse_level(optarg, &o->log_level)) {
				fprintf(stderr, "usvhostd: unknown log level '%s' "
					"(error, warn, info or debug)\n", optarg);
				return -EINVAL;
			}
			break;
		case OPT_LOG_FORMAT:
			if (usv_log_parse_format(optarg, &o->log_format)) {
				fprintf(stderr, "usvhostd: unknown log format '%s' "
					"(auto, plain or journal)\n", optarg);
				return -EINVAL;
			}
			break;
		case OPT_FUSE_DEBUG:
			o->fuse_debug = true;
			break;
		case OPT_TRACE:
			if (!*optarg) {
				fprintf(stderr, "usvhostd: --trace needs a file name ('-': stdout)\n");
				return -EINVAL;
			}
			o->trace = optarg;
			break;
		case OPT_INJECT: {
			struct usv_inject_rule rule;
			char err[256];

			if (usv_inject_parse(optarg, &rule, err, sizeof(err))) {
				fprintf(stderr, "usvhostd: --inject: %s\n", err);
				return -EINVAL;
			}
			if (o->ninject == USV_OPTIONS_MAX_INJECT) {
				fprintf(stderr, "usvhostd: at most %d --inject rules\n",
					USV_OPTIONS_MAX_INJECT);
				return -EINVAL;
			}
			o->inject[o->ninject++] = optarg;
			break;
		}
		case OPT_MODE: {
			char *end;
			unsigned long m = strtoul(optarg, &end, 8);

			if (!*optarg || *end || m > 0777) {
				fprintf(stderr, "usvhostd: --mode takes octal permission bits "
					"from 0 to 0777 (e.g. 0660)\n");
				return -EINVAL;
			}
			o->mode = (mode_t)m;
			o->mode_set = true;
			break;
		}
		case OPT_GROUP:
			if (parse_group("--group", optarg, &o->gid))
				return -EINVAL;
			o->group_set = true;
			break;
		case OPT_MAX_PER_USER: {
			char *end;
			unsigned long n = strtoul(optarg, &end, 10);

			if (!*optarg || *end || optarg[0] == '-' || n > UINT_MAX) {
				fprintf(stderr, "usvhostd: --max-devices-per-user takes a "
					"number (0: no limit)\n");
				return -EINVAL;
			}
			o->max_devices_per_user = (unsigned)n;
			break;
		}
		case OPT_MAX_MEM_REGIONS: {
			char *end;
			unsigned long n = strtoul(optarg, &end, 10);

			if (!*optarg || *end || optarg[0] == '-' || n < 1 ||
			    n > USV_MAX_MEM_REGIONS_LIMIT) {
				fprintf(stderr, "usvhostd: --max-mem-regions takes a number "
					"from 1 to %d (the kernel's max_mem_regions is an "
					"unsigned short)\n", USV_MAX_MEM_REGIONS_LIMIT);
				return -EINVAL;
			}
			o->max_mem_regions = (unsigned)n;
			break;
		}
		case OPT_STOP_TIMEOUT: {
			char *end;
			unsigned long n = strtoul(optarg, &end, 10);

			if (!*optarg || *end || optarg[0] == '-' || n > 86400) {
				fprintf(stderr, "usvhostd: --stop-timeout takes seconds, 0 "
					"to 86400 (0: no bound)\n");
				return -EINVAL;
			}
			o->stop_timeout = (unsigned)n;
			break;
		}
		case OPT_CONTROL:
			if (!*optarg || (optarg[0] != '/' && strcmp(optarg, "none"))) {
				fprintf(stderr, "usvhostd: --control takes an absolute path "
					"or 'none'\n");
				return -EINVAL;
			}
			o->control = optarg;
			break;
		case OPT_CONTROL_GROUP:
			if (parse_group("--control-group", optarg, &o->control_gid))
				return -EINVAL;
			o->control_group_set = true;
			break;
		case OPT_KEEP_PRIVS:
			o->keep_privileges = true;
			break;
		case OPT_TAKEOVER:
			o->takeover = true;
			break;
		case OPT_SECCOMP:
			if (usv_seccomp_parse_mode(optarg, &o->seccomp)) {
				fprintf(stderr, "usvhostd: --seccomp takes enforce, log, kill "
					"or off\n");
				return -EINVAL;
			}
			break;
		case 'h':
			usv_options_usage(stdout);
			return 1;
		case 'V':
			printf("usvhostd " PACKAGE_VERSION "\n");
			return 1;
		default:
			fprintf(stderr, "Try 'usvhostd --help' for more information.\n");
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "usvhostd: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}
