/* SPDX-License-Identifier: MIT */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* Daemon configuration: the sink is written once at start-up, before any
 * thread runs; the level may change at runtime (usv_log_set_level), so it is
 * read and written atomically. */
static enum usv_log_level log_level = USV_LOG_INFO;
static bool log_syslog;
static bool log_journal; /* stderr lines as "<N>text" */

void usv_log_setup(enum usv_log_level level, bool use_syslog)
{
	usv_log_set_level(level);
	log_syslog = use_syslog;
	if (use_syslog)
		openlog("usvhostd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

/* systemd sets JOURNAL_STREAM=DEV:INODE for a service whose stderr (or
 * stdout) is connected to journald; stderr is that stream only if its
 * device and inode match, not merely because the variable was inherited. */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int used = 0;

	if (!e || sscanf(e, "%llu:%llu%n", &dev, &ino, &used) != 2 || e[used])
		return false;
	if (fstat(STDERR_FILENO, &st))
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void usv_log_set_format(enum usv_log_format format)
{
	log_journal = format == USV_LOG_FORMAT_JOURNAL ||
		      (format == USV_LOG_FORMAT_AUTO && stderr_is_journal());
}

int usv_log_parse_format(const char *s, enum usv_log_format *out)
{
	static const char *const names[] = { "auto", "plain", "journal" };

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum usv_log_format)i;
			return 0;
		}
	}
	return -22; /* -EINVAL, as usv_log_parse_level */
}

int usv_log_parse_level(const char *s, enum usv_log_level *out)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcasecmp(s, names[i]) ||
		    (s[0] == (char)('0' + i) && s[1] == '\0')) {
			*out = (enum usv_log_level)i;
			return 0;
		}
	}
	if (!strcasecmp(s, "err") || !strcasecmp(s, "warning")) {
		*out = s[0] == 'e' || s[0] == 'E' ? USV_LOG_ERR : USV_LOG_WARN;
		return 0;
	}
	return -22; /* -EINVAL, without pulling errno.h into every user */
}

void usv_log_set_level(enum usv_log_level level)
{
	__atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

enum usv_log_level usv_log_get_level(void)
{
	return __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

const char *usv_log_level_name(enum usv_log_level level)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	return (unsigned)level < sizeof(names) / sizeof(names[0]) ? names[level] : "?";
}

bool usv_log_enabled(enum usv_log_level level)
{
	return level <= usv_log_get_level();
}

void usv_log(enum usv_log_level level, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	static const char *const tag[] = { "error", "warn", "info", "debug" };
	char line[1024];
	va_list ap;

	if (!usv_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_syslog) {
		syslog(prio[level], "%s", line);
	} else if (log_journal) {
		fprintf(stderr, "<%d>%s\n", prio[level], line);
	} else {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		/* One fprintf per line keeps lines from threads whole. */
		fprintf(stderr, "usvhostd[%ld.%06ld] %s: %s\n", (long)ts.tv_sec,
			ts.tv_nsec / 1000, tag[level], line);
	}
}
