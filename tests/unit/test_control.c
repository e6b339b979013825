/* SPDX-License-Identifier: MIT */
/* The control socket's requests (src/daemon/control_cmd.c): the envelope
 * (version, id, JSON errors, descriptors), each command's answer, the trace
 * switched on and off, and a device whose lock is held listed as busy
 * without waiting for it. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "daemon/control_cmd.h"
#include "daemon/trace_switch.h"
#include "front/front.h"
#include "unit.h"
#include "usvhost/control.h"

struct fix {
	struct usv_devlist list;
	struct usv_trace_switch sw;
	struct usv_control_ctx ctx;
	int fds_at_start;
};

static int fix_setup(void **state)
{
	struct usv_trace_info ti = { .producer = "test_control" };
	struct fix *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	unit_log_setup();
	f->fds_at_start = count_open_fds();
	if (usv_devlist_init(&f->list, usv_profile_default(), NULL, NULL) ||
	    usv_trace_switch_init(&f->sw, &ti, NULL, NULL)) {
		free(f);
		return -1;
	}
	usv_devlist_set_observer(&f->list, &usv_trace_switch_observer, &f->sw);
	f->ctx = (struct usv_control_ctx){ .devs = &f->list, .trace = &f->sw };
	*state = f;
	return 0;
}

static int fix_teardown(void **state)
{
	struct fix *f = *state;
	int ret = 0;

	usv_devlist_destroy(&f->list);
	usv_trace_switch_destroy(&f->sw);
	if (count_open_fds() != f->fds_at_start) {
		print_error("fd leak: %d before, %d after\n", f->fds_at_start, count_open_fds());
		ret = -1;
	}
	free(f);
	return ret;
}

/* The answer to line (with fds), parsed; checks it is one line. */
static json_object *ask_fds(struct fix *f, const char *line, int *fds, unsigned nfds)
{
	size_t len = 0;
	char *out = usv_control_answer(&f->ctx, line, strlen(line), fds, nfds, &len);
	json_object *o;

	assert_non_null(out);
	assert_true(len > 1 && out[len - 1] == '\n');
	assert_null(memchr(out, '\n', len - 1));
	o = json_tokener_parse(out);
	free(out);
	assert_non_null(o);
	return o;
}

static json_object *ask(struct fix *f, const char *line)
{
	return ask_fds(f, line, NULL, 0);
}

static json_object *get(json_object *o, const char *k)
{
	json_object *v = NULL;

	json_object_object_get_ex(o, k, &v);
	return v;
}

/* The error code of a refused request ("" when it succeeded). */
static const char *code(json_object *a)
{
	json_object *e = get(a, "error");

	assert_int_equal(json_object_get_int(get(a, "proto")), USV_CONTROL_PROTO);
	if (json_object_get_boolean(get(a, "ok")))
		return "";
	assert_non_null(e);
	return json_object_get_string(get(e, "code"));
}

static void version_answers_the_protocol_and_echoes_the_id(void **state)
{
	json_object *a = ask(*state, "{\"proto\":1,\"id\":42,\"cmd\":\"version\"}");

	assert_string_equal(code(a), "");
	assert_int_equal(json_object_get_int(get(a, "id")), 42);
	assert_int_equal(json_object_get_int(get(get(a, "result"), "proto")), USV_CONTROL_PROTO);
	assert_string_equal(json_object_get_string(get(get(a, "result"), "version")),
			    PACKAGE_VERSION);
	json_object_put(a);
}

/* A new daemon checks its options against these before asking for a
 * hand-over; a daemon that was not told its front says none of them. */
static void version_says_the_front_and_profile(void **state)
{
	struct fix *f = *state;
	struct usv_front_state fuse = { .mount = "/run/usvhost", .mode = 0660, .gid = 42 };
	struct usv_front_state cuse = { .cuse = true, .name = "vhost-net" };
	json_object *a = ask(f, "{\"proto\":1,\"cmd\":\"version\"}"), *r;

	assert_null(get(get(a, "result"), "transport"));
	assert_null(get(get(a, "result"), "profile"));
	json_object_put(a);

	f->ctx.front = &fuse;
	f->ctx.profile = "linux-6.1";
	a = ask(f, "{\"proto\":1,\"cmd\":\"version\"}");
	r = get(a, "result");
	assert_string_equal(json_object_get_string(get(r, "transport")), "fuse");
	assert_string_equal(json_object_get_string(get(r, "mount")), "/run/usvhost");
	assert_int_equal(json_object_get_int(get(r, "mode")), 0660);
	assert_int_equal(json_object_get_int(get(r, "gid")), 42);
	assert_null(get(r, "name"));
	assert_string_equal(json_object_get_string(get(r, "profile")), "linux-6.1");
	json_object_put(a);

	f->ctx.front = &cuse;
	a = ask(f, "{\"proto\":1,\"cmd\":\"version\"}");
	r = get(a, "result");
	assert_string_equal(json_object_get_string(get(r, "transport")), "cuse");
	assert_string_equal(json_object_get_string(get(r, "name")), "vhost-net");
	assert_null(get(r, "mount"));
	json_object_put(a);
}

/* What usvhostd --takeover reads back from `version`: the same identity,
 * and nothing it would not take from a hand-over's state. */
static void the_front_identity_reads_back_and_refuses_what_no_front_is(void **state)
{
	struct fix *f = *state;
	struct usv_front_state fuse = { .mount = "/run/usvhost", .mode = 0660, .gid = 42 }, got;
	static const char *const bad[] = {
		"{\"transport\":\"tcp\",\"mount\":\"/m\",\"mode\":0,\"gid\":0}",
		"{\"transport\":\"fuse\",\"mount\":\"rel\",\"mode\":0,\"gid\":0}",
		"{\"transport\":\"fuse\",\"mount\":\"/m\",\"mode\":4096,\"gid\":0}",
		"{\"transport\":\"fuse\",\"mount\":\"/m\",\"mode\":0}",
		"{\"transport\":\"cuse\",\"name\":\"a/b\"}",
		"{\"transport\":\"cuse\",\"name\":\"\"}",
		"{\"transport\":7}",
	};
	json_object *a, *j;

	f->ctx.front = &fuse;
	a = ask(f, "{\"proto\":1,\"cmd\":\"version\"}");
	assert_int_equal(usv_front_identity_from_json(get(a, "result"), &got), 1);
	assert_false(got.cuse);
	assert_string_equal(got.mount, "/run/usvhost");
	assert_int_equal(got.mode, 0660);
	assert_int_equal(got.gid, 42);
	json_object_put(a);
	j = json_tokener_parse("{\"daemon\":\"usvhostd\"}");
	assert_int_equal(usv_front_identity_from_json(j, &got), 0);
	json_object_put(j);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = json_tokener_parse(bad[i]);
		assert_non_null(j);
		assert_int_equal(usv_front_identity_from_json(j, &got), -EINVAL);
		json_object_put(j);
	}
}

static void another_protocol_version_is_eproto(void **state)
{
	json_object *a = ask(*state, "{\"proto\":2,\"id\":1,\"cmd\":\"version\"}");

	assert_string_equal(code(a), "EPROTO");
	assert_non_null(strstr(json_object_get_string(get(get(a, "error"), "message")),
			       "protocol version mismatch"));
	json_object_put(a);
	a = ask(*state, "{\"cmd\":\"version\"}");
	assert_string_equal(code(a), "EPROTO");
	json_object_put(a);
}

static void anything_but_one_json_object_is_einval(void **state)
{
	static const char *const bad[] = { "", "x", "[1]", "{\"proto\":1}x", "{\"proto\":1",
					   "{} {}", "\"list\"", "{\"proto\":1,\"cmd\":7}" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object *a = ask(*state, bad[i]);

		assert_string_equal(code(a), "EINVAL");
		json_object_put(a);
	}
}

static void an_unknown_command_is_einval(void **state)
{
	json_object *a = ask(*state, "{\"proto\":1,\"cmd\":\"fly\"}");

	assert_string_equal(code(a), "EINVAL");
	assert_non_null(strstr(json_object_get_string(get(get(a, "error"), "message")),
			       "unknown command 'fly'"));
	json_object_put(a);
}

static void descriptors_announced_but_missing_are_ebadf(void **state)
{
	json_object *a = ask(*state, "{\"proto\":1,\"cmd\":\"version\",\"fds\":1}");

	assert_string_equal(code(a), "EBADF");
	json_object_put(a);
}

static void log_level_changes_the_level_and_refuses_unknown_names(void **state)
{
	enum usv_log_level was = usv_log_get_level();
	json_object *a;

	usv_log_set_level(USV_LOG_INFO);
	a = ask(*state, "{\"proto\":1,\"cmd\":\"log-level\",\"args\":{\"level\":\"debug\"}}");
	assert_string_equal(code(a), "");
	assert_string_equal(json_object_get_string(get(get(a, "result"), "old")), "info");
	assert_int_equal(usv_log_get_level(), USV_LOG_DEBUG);
	json_object_put(a);
	a = ask(*state, "{\"proto\":1,\"cmd\":\"log-level\",\"args\":{\"level\":\"loud\"}}");
	assert_string_equal(code(a), "EINVAL");
	assert_int_equal(usv_log_get_level(), USV_LOG_DEBUG);
	json_object_put(a);
	usv_log_set_level(was);
}

static void list_shows_every_device_and_a_locked_one_as_busy(void **state)
{
	struct fix *f = *state;
	unsigned h0, h1;
	json_object *a, *devs;

	assert_int_equal(usv_devlist_add_uid(&f->list, 1000, &h0), 0);
	assert_int_equal(usv_devlist_add(&f->list, &h1), 0);
	/* A device in the middle of a request: its lock is held (here, by
	 * this very thread: waiting for it would never end). */
	pthread_mutex_lock(&usv_devlist_get(&f->list, h1)->lock);
	a = ask(f, "{\"proto\":1,\"cmd\":\"list\"}");
	pthread_mutex_unlock(&usv_devlist_get(&f->list, h1)->lock);
	assert_string_equal(code(a), "");
	devs = get(get(a, "result"), "devices");
	assert_int_equal(json_object_array_length(devs), 2);
	assert_int_equal(json_object_get_int(get(json_object_array_get_idx(devs, 0), "uid")), 1000);
	assert_false(json_object_get_boolean(get(json_object_array_get_idx(devs, 0), "busy")));
	assert_null(get(json_object_array_get_idx(devs, 0), "owner"));
	assert_true(json_object_get_boolean(get(json_object_array_get_idx(devs, 1), "busy")));
	assert_false(json_object_get_boolean(get(get(get(a, "result"), "trace"), "on")));
	json_object_put(a);
}

static void stats_before_the_datapath_runs_is_eagain(void **state)
{
	json_object *a = ask(*state, "{\"proto\":1,\"cmd\":\"stats\"}");

	assert_string_equal(code(a), "EAGAIN");
	json_object_put(a);
}

static void trace_on_takes_a_regular_file_and_off_ends_it(void **state)
{
	struct fix *f = *state;
	char path[] = "/tmp/test_control.XXXXXX", buf[4096];
	int p[2], fd = mkstemp(path);
	unsigned h;
	json_object *a;
	ssize_t n;

	assert_true(fd >= 0);
	assert_int_equal(pipe(p), 0);
	/* A pipe is refused (a full one would stall the devices), and stays
	 * the caller's to close. */
	a = ask_fds(f, "{\"proto\":1,\"cmd\":\"trace\",\"args\":{\"state\":\"on\"},\"fds\":1}",
		    &p[1], 1);
	assert_string_equal(code(a), "EINVAL");
	assert_true(p[1] >= 0);
	json_object_put(a);
	close(p[0]);
	close(p[1]);
	a = ask(f, "{\"proto\":1,\"cmd\":\"trace\",\"args\":{\"state\":\"on\"}}");
	assert_string_equal(code(a), "EINVAL");
	json_object_put(a);
	a = ask_fds(f, "{\"proto\":1,\"cmd\":\"trace\",\"args\":{\"state\":\"on\",\"name\":\"t\"},"
		    "\"fds\":1}", &fd, 1);
	assert_string_equal(code(a), "");
	assert_int_equal(fd, -1); /* taken */
	assert_true(json_object_get_boolean(get(get(a, "result"), "on")));
	json_object_put(a);
	assert_int_equal(usv_devlist_add(&f->list, &h), 0);
	assert_int_equal(usv_devlist_remove(&f->list, h), 0);
	a = ask(f, "{\"proto\":1,\"cmd\":\"trace\",\"args\":{\"state\":\"off\"}}");
	assert_string_equal(code(a), "");
	assert_false(json_object_get_boolean(get(get(a, "result"), "on")));
	json_object_put(a);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	unlink(path);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "\"type\":\"header\""));
	assert_non_null(strstr(buf, "\"type\":\"release\""));
	assert_non_null(strstr(buf, "\"type\":\"end\""));
}

static const char *message(json_object *a)
{
	return json_object_get_string(get(get(a, "error"), "message"));
}

/* The hand-over asked by usvhostd --takeover: refused (nothing set) unless
 * the daemon can hand over, the asker is root or the daemon's user, and a
 * state version both understand is offered. */
static void takeover_is_refused_unless_possible_allowed_and_understood(void **state)
{
	struct fix *f = *state;
	bool taken = false;
	json_object *a;

	a = ask(f, "{\"proto\":1,\"cmd\":\"takeover\",\"args\":{\"versions\":[1]}}");
	assert_string_equal(code(a), "EOPNOTSUPP");
	json_object_put(a);

	f->ctx.takeover = &taken;
	a = ask(f, "{\"proto\":1,\"cmd\":\"takeover\",\"args\":{\"versions\":[2,3]}}");
	assert_string_equal(code(a), "EPROTONOSUPPORT");
	assert_non_null(strstr(message(a), "version(s) [2, 3]"));
	assert_non_null(strstr(message(a), "writes version 1"));
	json_object_put(a);
	a = ask(f, "{\"proto\":1,\"cmd\":\"takeover\"}");
	assert_string_equal(code(a), "EPROTONOSUPPORT");
	json_object_put(a);
	assert_false(taken);

	f->ctx.uid = geteuid() + 1;
	a = ask(f, "{\"proto\":1,\"cmd\":\"takeover\",\"args\":{\"versions\":[1]}}");
	assert_string_equal(code(a), "EPERM");
	json_object_put(a);
	assert_false(taken);

	f->ctx.uid = 0;
	a = ask(f, "{\"proto\":1,\"cmd\":\"takeover\",\"args\":{\"versions\":[7,1]}}");
	assert_true(json_object_get_boolean(get(a, "ok")));
	assert_int_equal(json_object_get_int(get(get(a, "result"), "version")), 1);
	json_object_put(a);
	assert_true(taken);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fix_setup, fix_teardown)
		T(version_answers_the_protocol_and_echoes_the_id),
		T(version_says_the_front_and_profile),
		T(the_front_identity_reads_back_and_refuses_what_no_front_is),
		T(another_protocol_version_is_eproto),
		T(anything_but_one_json_object_is_einval),
		T(an_unknown_command_is_einval),
		T(descriptors_announced_but_missing_are_ebadf),
		T(log_level_changes_the_level_and_refuses_unknown_names),
		T(list_shows_every_device_and_a_locked_one_as_busy),
		T(stats_before_the_datapath_runs_is_eagain),
		T(trace_on_takes_a_regular_file_and_off_ends_it),
		T(takeover_is_refused_unless_possible_allowed_and_understood),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
