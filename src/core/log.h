/* SPDX-License-Identifier: MIT */
/* Logging: one place that decides where lines go (stderr or syslog) and which
 * levels pass. The level and sink are part of the daemon's configuration. */
#ifndef USV_CORE_LOG_H
#define USV_CORE_LOG_H

#include <stdbool.h>

#include "core/errno_name.h" /* usv_errname() for log lines */

enum usv_log_level {
	USV_LOG_ERR = 0,
	USV_LOG_WARN,
	USV_LOG_INFO,
	USV_LOG_DEBUG,
};

/* How stderr lines look: plain ("usvhostd[MONOTONIC] LEVEL: text"), or for
 * the journal ("<N>text", sd-daemon(3)'s priority prefix: journald keeps
 * its own timestamp). AUTO: journal when stderr is the journal's stream
 * (JOURNAL_STREAM names its device and inode), else plain. */
enum usv_log_format {
	USV_LOG_FORMAT_AUTO = 0,
	USV_LOG_FORMAT_PLAIN,
	USV_LOG_FORMAT_JOURNAL,
};

void usv_log_setup(enum usv_log_level level, bool use_syslog);
/* After usv_log_setup, before any thread; AUTO is resolved here. */
void usv_log_set_format(enum usv_log_format format);
/* Parses "auto", "plain", "journal"; -EINVAL otherwise. */
int usv_log_parse_format(const char *s, enum usv_log_format *out);
/* Parses "error", "warn", "info", "debug" (or 0..3); -EINVAL otherwise. */
int usv_log_parse_level(const char *s, enum usv_log_level *out);
bool usv_log_enabled(enum usv_log_level level);
/* The level at runtime (the control socket's log-level): any thread. */
void usv_log_set_level(enum usv_log_level level);
enum usv_log_level usv_log_get_level(void);
/* "error", "warn", "info", "debug". */
const char *usv_log_level_name(enum usv_log_level level);
void usv_log(enum usv_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define usv_err(...) usv_log(USV_LOG_ERR, __VA_ARGS__)
#define usv_warn(...) usv_log(USV_LOG_WARN, __VA_ARGS__)
#define usv_info(...) usv_log(USV_LOG_INFO, __VA_ARGS__)
#define usv_dbg(...)                                                           \
	do {                                                                   \
		if (usv_log_enabled(USV_LOG_DEBUG))                            \
			usv_log(USV_LOG_DEBUG, __VA_ARGS__);                   \
	} while (0)

#endif
