/* SPDX-License-Identifier: MIT */
#include "core/inject.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/ioctl_table.h"

void usv_inject_init(struct usv_inject *inj)
{
	memset(inj, 0, sizeof(*inj));
	pthread_mutex_init(&inj->lock, NULL);
}

void usv_inject_destroy(struct usv_inject *inj)
{
	pthread_mutex_destroy(&inj->lock);
}

bool usv_inject_errno_plausible(uint32_t cmd, int err)
{
	return usv_ioctl_errno_plausible(usv_ioctl_lookup(cmd), err);
}

static int fail(char *err, size_t errlen, const char *fmt, const char *what)
	__attribute__((format(printf, 3, 0)));
static int fail(char *err, size_t errlen, const char *fmt, const char *what)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	if (err && errlen)
		snprintf(err, errlen, fmt, what);
#pragma GCC diagnostic pop
	return -EINVAL;
}

/* Decimal or 0x hex, the whole string. */
static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!*s || *s == '-' || isspace((unsigned char)*s))
		return false;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return !errno && !*end;
}

static bool parse_cmd(const char *s, uint32_t *cmd, const char **name)
{
	const struct usv_ioctl_desc *d;
	uint64_t v;

	if (!strncasecmp(s, "VHOST_", 6))
		s += 6;
	d = usv_ioctl_lookup_name(s);
	if (d) {
		*cmd = d->cmd;
		*name = d->name;
		return true;
	}
	if (!strncasecmp(s, "0x", 2) && parse_u64(s, &v) && v <= UINT32_MAX) {
		d = usv_ioctl_lookup((uint32_t)v);
		*cmd = (uint32_t)v;
		*name = d ? d->name : NULL;
		return true;
	}
	return false;
}

int usv_inject_parse(const char *spec, struct usv_inject_rule *rule, char *err,
		     size_t errlen)
{
	char buf[256], *save = NULL, *tok;
	const char *name = NULL, *ename;
	uint64_t v;
	int field = 0;

	memset(rule, 0, sizeof(*rule));
	rule->nth = 1;
	rule->count = 1;
	if (strlen(spec) >= sizeof(buf))
		return fail(err, errlen, "'%s': too long", spec);
	strcpy(buf, spec);
	for (tok = strtok_r(buf, ":", &save); tok; tok = strtok_r(NULL, ":", &save), field++) {
		if (field == 0) {
			if (!parse_cmd(tok, &rule->cmd, &name))
				return fail(err, errlen, "unknown ioctl '%s' (a name such as "
					    "SET_MEM_TABLE, or a number such as 0x4008af03)", tok);
		} else if (field == 1) {
			rule->err = usv_errno_from_name(tok);
			if (!rule->err && parse_u64(tok, &v) && v > 0 && v < 4096)
				rule->err = (int)v;
			if (!rule->err)
				return fail(err, errlen, "unknown errno '%s' (a name such as "
					    "EFAULT, or a positive number)", tok);
		} else if (!strncasecmp(tok, "nth=", 4)) {
			if (!parse_u64(tok + 4, &v) || v == 0)
				return fail(err, errlen, "'%s': nth must be a number >= 1", tok);
			rule->nth = v;
		} else if (!strncasecmp(tok, "count=", 6)) {
			if (!strcasecmp(tok + 6, "inf") || !strcasecmp(tok + 6, "all"))
				v = 0;
			else if (!parse_u64(tok + 6, &v))
				return fail(err, errlen, "'%s': count must be a number "
					    "(0 or inf: every call)", tok);
			rule->count = v;
		} else {
			return fail(err, errlen, "unknown field '%s' (nth=N or count=M)", tok);
		}
	}
	if (field < 2)
		return fail(err, errlen, "'%s': want IOCTL:ERRNO[:nth=N][:count=M]", spec);
	ename = usv_errno_name(rule->err);
	{
		char cmdbuf[16], errbuf[16];

		snprintf(cmdbuf, sizeof(cmdbuf), "0x%08" PRIx32, rule->cmd);
		snprintf(errbuf, sizeof(errbuf), "%d", rule->err);
		snprintf(rule->spec, sizeof(rule->spec), "%s:%s:nth=%" PRIu64 ":count=%" PRIu64,
			 name ? name : cmdbuf, ename ? ename : errbuf, rule->nth, rule->count);
	}
	return 0;
}

int usv_inject_add(struct usv_inject *inj, const char *spec, char *err,
		   size_t errlen, char *warning, size_t warnlen)
{
	struct usv_inject_rule rule;
	int ret = usv_inject_parse(spec, &rule, err, errlen);

	if (warning && warnlen)
		warning[0] = '\0';
	if (ret)
		return ret;
	if (inj->nrules == USV_INJECT_MAX_RULES)
		return fail(err, errlen, "'%s': too many rules", spec);
	if (warning && warnlen && !usv_inject_errno_plausible(rule.cmd, rule.err)) {
		const char *en = usv_errno_name(rule.err);

		snprintf(warning, warnlen, "%s: Linux's vhost-net never answers this "
			 "ioctl with %s; injecting it anyway", rule.spec,
			 en ? en : "that errno");
	}
	inj->rules[inj->nrules++] = rule;
	return 0;
}

static bool would_fire(const struct usv_inject_rule *r)
{
	return r->calls + 1 >= r->nth && (r->count == 0 || r->fired < r->count);
}

int usv_inject_begin(struct usv_inject *inj, uint32_t cmd,
		     struct usv_inject_ticket *t)
{
	bool named = false;

	t->locked = false;
	t->rule = NULL;
	if (!inj)
		return 0;
	/* Rules are fixed once the daemon runs: look without the lock. */
	for (unsigned i = 0; i < inj->nrules && !named; i++)
		named = inj->rules[i].cmd == cmd;
	if (!named)
		return 0;
	pthread_mutex_lock(&inj->lock);
	t->locked = true;
	for (unsigned i = 0; i < inj->nrules; i++) {
		if (inj->rules[i].cmd == cmd && would_fire(&inj->rules[i])) {
			t->rule = &inj->rules[i];
			return t->rule->err;
		}
	}
	return 0;
}

void usv_inject_end(struct usv_inject *inj, uint32_t cmd,
		    struct usv_inject_ticket *t, bool final, bool delivered)
{
	if (!t->locked)
		return;
	if (final) {
		for (unsigned i = 0; i < inj->nrules; i++)
			if (inj->rules[i].cmd == cmd)
				inj->rules[i].calls++;
		if (delivered && t->rule)
			t->rule->fired++;
	}
	pthread_mutex_unlock(&inj->lock);
	t->locked = false;
}
