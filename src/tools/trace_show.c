/* SPDX-License-Identifier: MIT */
/* usvhost-trace show: a readable, aligned listing, like strace. */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tools/tool.h"

int cmd_show(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "ioctl", required_argument, NULL, 'i' },
		{ "errors", no_argument, NULL, 'e' },
		{ "no-events", no_argument, NULL, 'E' },
		{ "absolute", no_argument, NULL, 'a' },
		{ "follow", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct show_opts o = { .events = true };
	bool follow = false;
	struct trace t;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:i:eEafh", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (o.ndevs == SHOW_MAX_DEVS)
				break;
			o.devs[o.ndevs++] = strtoll(optarg, NULL, 0);
			break;
		case 'i':
			if (strlen(o.ioctls) + strlen(optarg) + 2 < sizeof(o.ioctls)) {
				if (o.ioctls[0])
					strcat(o.ioctls, ",");
				strcat(o.ioctls, optarg);
			}
			break;
		case 'e':
			o.errors = true;
			break;
		case 'E':
			o.events = false;
			break;
		case 'a':
			o.absolute = true;
			break;
		case 'f':
			follow = true;
			break;
		case 'h':
			printf("Usage: usvhost-trace show [--dev N]... [--ioctl NAME[,NAME]]... "
			       "[--errors] [--no-events] [--absolute] [--follow] FILE\n");
			return 0;
		default:
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usvhost-trace show: one trace file expected (see --help)\n");
		return 2;
	}
	if (follow)
		return show_follow(&o, argv[optind]);
	if (trace_load(argv[optind], &t))
		return 2;
	show_header(&o, t.path, t.header, trace_profile_name(&t),
		    t.ended ? "" : " (no end record: cut short?)");
	for (size_t i = 0; i < t.n; i++)
		show_rec(&o, t.t0, &t.recs[i]);
	trace_free(&t);
	return 0;
}
