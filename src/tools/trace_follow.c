/* SPDX-License-Identifier: MIT */
/*
 * usvhost-trace show --follow: like tail -f, the records of a trace as the
 * daemon appends them. A line is shown once its newline is there (the daemon
 * may be half-way through writing it). Stops at the end record, at the end of
 * a pipe, or at SIGINT/SIGTERM: those are blocked and waited for in the
 * pauses between reads, so no handler and no flag are needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools/tool.h"

/* A line longer than this is not a trace record. */
#define MAX_LINE (1u << 20)
/* How long to wait before looking at the file again. */
#define PAUSE_NS 100000000L

struct follower {
	const struct show_opts *o;
	const char *path;
	json_object *header;
	int64_t t0;
	unsigned lineno;
	bool ended;
};

/* One whole line (no newline). 0, 1 at the end record, or -1. */
static int follow_line(struct follower *f, char *line)
{
	enum json_tokener_error jerr;
	json_object *obj;
	char err[256];
	struct rec r;
	char *p = line;

	f->lineno++;
	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	if (!*p)
		return 0;
	obj = json_tokener_parse_verbose(p, &jerr);
	if (!obj || !json_object_is_type(obj, json_type_object)) {
		fprintf(stderr, "usvhost-trace: %s: line %u: not a JSON object (%s)\n", f->path,
			f->lineno, obj ? "another JSON value" : json_tokener_error_desc(jerr));
		json_object_put(obj);
		return -1;
	}
	if (!f->header) {
		if (usv_trace_check_header(obj, err, sizeof(err))) {
			fprintf(stderr, "usvhost-trace: %s: %s\n", f->path, err);
			json_object_put(obj);
			return -1;
		}
		f->header = obj;
		if (!usv_tj_i64(obj, "time_ns", &f->t0))
			f->t0 = 0;
		show_header(f->o, f->path, obj,
			    usv_tj_str(usv_tj_obj(obj, "profile"), "name") ?
			    usv_tj_str(usv_tj_obj(obj, "profile"), "name") : "?", "");
		return 0;
	}
	memset(&r, 0, sizeof(r));
	r.o = obj;
	rec_fill(&r);
	show_rec(f->o, f->t0, &r);
	f->ended = !strcmp(r.type, "end");
	json_object_put(obj);
	return f->ended ? 1 : 0;
}

/* Consumes a pending SIGINT or SIGTERM, waiting up to ns for one. */
static bool stop_signal(const sigset_t *stop, long ns)
{
	struct timespec ts = { .tv_nsec = ns };

	return sigtimedwait(stop, NULL, &ts) > 0;
}

/* For a pipe: waits up to the pause for data; -1 when told to stop. */
static int wait_readable(int fd, const sigset_t *stop)
{
	struct timespec ts = { .tv_nsec = PAUSE_NS };
	int ready = ppoll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, &ts, NULL);

	if (stop_signal(stop, 0) || (ready < 0 && errno != EINTR))
		return -1;
	return ready > 0;
}

int show_follow(const struct show_opts *o, const char *path)
{
	struct follower f = { .o = o, .path = path };
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	size_t cap = 65536, used = 0;
	char *buf = NULL;
	sigset_t stop, old;
	struct stat st;
	bool regular;
	int rc = 2;

	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop, &old);
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "usvhost-trace: %s: %s\n", path, strerror(errno));
		goto out;
	}
	regular = S_ISREG(st.st_mode);
	buf = malloc(cap);
	if (!buf) {
		fprintf(stderr, "usvhost-trace: out of memory\n");
		goto out;
	}
	for (;;) {
		ssize_t n;
		char *nl;

		if (used == cap) {
			char *nb = cap < MAX_LINE ? realloc(buf, cap * 2) : NULL;

			if (!nb) {
				fprintf(stderr, "usvhost-trace: %s: line %u too long\n", path,
					f.lineno + 1);
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		if (!regular) {
			int ready = wait_readable(fd, &stop);

			if (ready < 0)
				break;
			if (!ready)
				continue;
		} else if (stop_signal(&stop, 0)) {
			break;
		}
		n = read(fd, buf + used, cap - used);
		if (n < 0 && errno != EINTR && errno != EAGAIN) {
			fprintf(stderr, "usvhost-trace: %s: %s\n", path, strerror(errno));
			goto out;
		}
		if (n > 0) {
			size_t start = 0;

			used += (size_t)n;
			while ((nl = memchr(buf + start, '\n', used - start))) {
				int r;

				*nl = '\0';
				r = follow_line(&f, buf + start);
				start = (size_t)(nl - buf) + 1;
				fflush(stdout);
				if (r < 0)
					goto out;
				if (r > 0) {
					rc = 0;
					goto out;
				}
			}
			memmove(buf, buf + start, used - start);
			used -= start;
			continue;
		}
		if (n == 0 && !regular)
			break; /* the writer closed the pipe */
		if (regular && stop_signal(&stop, PAUSE_NS))
			break;
	}
	/* Stopped before the end record: what was shown is all there was. */
	rc = 0;
out:
	fflush(stdout);
	free(buf);
	json_object_put(f.header);
	if (fd > STDIN_FILENO)
		close(fd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}
