/* SPDX-License-Identifier: MIT */
/* usvhostctl: the client of usvhostd's control socket (usvhostctl(1)). */
#ifndef USV_TOOLS_USVHOSTCTL_H
#define USV_TOOLS_USVHOSTCTL_H

#include <json-c/json.h>
#include <stdbool.h>

/* Sends {"cmd": cmd, "args": args (taken, may be NULL)} to the daemon at
 * path, with fd (-1: none), and returns the answer's "result" (to put), or
 * NULL after printing why (the exit status is then 1). */
json_object *ctl_call(const char *path, const char *cmd, json_object *args, int fd);

/* usvhostctl stats [--json] [--watch[=SECS]] [--count=N] [--prometheus] */
int ctl_stats(const char *path, int argc, char **argv);

#endif
