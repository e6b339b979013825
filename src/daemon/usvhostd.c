/* SPDX-License-Identifier: MIT */
/* usvhostd: options, logging, limits, the device list, and the chosen front;
 * once the front is up, privileges are dropped and the datapath started. */
#include <errno.h>
#include <linux/capability.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "core/devlist.h"
#include "core/inject.h"
#include "core/log.h"
#include "core/profile.h"
#include "daemon/control.h"
#include "daemon/control_cmd.h"
#include "daemon/notify.h"
#include "daemon/options.h"
#include "daemon/privileges.h"
#include "daemon/seccomp.h"
#include "daemon/stop_watch.h"
#include "daemon/takeover.h"
#include "datapath/uring_dp.h"
#include "front/front.h"
#include "trace/recorder.h"

/* What the front's hooks need: they run in the serving process, once the
 * node or mount exists and before any other thread does. */
struct serve {
	const struct usv_options *o;
	struct usv_devlist *devs;
	struct usv_dp_config dc;
	struct usv_dp *dp;
	struct usv_priv_plan plan;
	struct usv_notify notify; /* systemd Type=notify, when asked */
	char what[544];            /* the node or file served */
	struct usv_control *ctl; /* NULL: --control=none */
	const char *profile;     /* the profile's name */
	/* --takeover: what the running daemon handed over; NULL otherwise. */
	struct usv_takeover_in *in;
	/* Handing over to a new daemon: the front's switch, and the accepted
	 * request's connection (-1: none) and answer, passed from the control
	 * thread to the front's loop thread under ho_lock. */
	struct usv_front_ctl *fctl;
	pthread_mutex_t ho_lock;
	int ho_sock;
	char *ho_answer;
	size_t ho_answer_len;
	bool handed_over;
	bool took_over; /* --takeover completed: the socket file is ours */
	struct usv_front_state front_id; /* what `version` says of the front */
	bool fuse;                     /* the FUSE-file front (else CUSE) */
	atomic_int session_fd;         /* while the front stops; else -1 */
	struct usv_stop_watch stop;    /* --stop-timeout */
};

static int serve_started(void *arg)
{
	struct serve *sv = arg;
	int ret;

	if (sv->o->keep_privileges)
		usv_warn("--keep-privileges: every capability kept, no_new_privs not set");
	else if ((ret = usv_priv_drop(&sv->plan)))
		return ret;
	/* Before the datapath: its threads, and libfuse's, inherit it. */
	ret = usv_seccomp_install(sv->o->seccomp, sv->o->syslog || !sv->o->foreground);
	if (ret)
		return ret;
	ret = usv_dp_create(&sv->dc, &sv->dp);
	if (ret) {
		usv_err("cannot start the datapath: %s", strerror(-ret));
		return ret;
	}
	usv_devlist_set_datapath(sv->devs, usv_dp_ops(), sv->dp);
	/* Taken over: the devices run again before the first request. */
	if (sv->in && (ret = usv_takeover_resume(sv->in, sv->devs, sv->dp)))
		return ret;
	sv->took_over = sv->in != NULL;
	ret = sv->ctl ? usv_control_start(sv->ctl, sv->dp) : 0;
	/* Taken over: the old daemon is gone, so serve without the socket
	 * rather than leave the guests without a daemon. */
	if (ret && sv->in) {
		usv_err("serving the devices taken over without a control socket");
		ret = 0;
	}
	if (ret == 0)
		usv_notify_ready(&sv->notify, sv->what);
	return ret;
}

/* The control thread accepted a takeover request: keep its connection for
 * the front's loop thread, and stop the front. */
static int serve_takeover_request(void *arg, int fd, const char *answer, size_t len)
{
	struct serve *sv = arg;
	char *copy = malloc(len);
	int ret = copy ? 0 : -ENOMEM;

	pthread_mutex_lock(&sv->ho_lock);
	if (!ret && sv->ho_sock >= 0)
		ret = -EBUSY;
	if (!ret) {
		memcpy(copy, answer, len);
		sv->ho_sock = fd;
		sv->ho_answer = copy;
		sv->ho_answer_len = len;
		copy = NULL;
	}
	pthread_mutex_unlock(&sv->ho_lock);
	if (!ret && (ret = usv_front_ctl_handover(sv->fctl))) {
		pthread_mutex_lock(&sv->ho_lock);
		sv->ho_sock = -1;
		copy = sv->ho_answer;
		sv->ho_answer = NULL;
		pthread_mutex_unlock(&sv->ho_lock);
	}
	free(copy);
	return ret;
}

/* The front stopped for the hand-over, no request in flight: send it all. */
static int serve_handover(void *arg, int session_fd, const struct usv_front_state *st)
{
	struct serve *sv = arg;
	struct usv_takeover_src src = {
		.devs = sv->devs, .dp = sv->dp, .profile = sv->profile,
		.control_fd = usv_control_listen_fd(sv->ctl),
	};
	char *answer;
	size_t len;
	int sock, ret;

	pthread_mutex_lock(&sv->ho_lock);
	sock = sv->ho_sock;
	answer = sv->ho_answer;
	len = sv->ho_answer_len;
	sv->ho_sock = -1;
	sv->ho_answer = NULL;
	pthread_mutex_unlock(&sv->ho_lock);
	if (sock < 0)
		return -EINVAL;
	ret = usv_takeover_send(sock, answer, len, &src, session_fd, st);
	close(sock);
	free(answer);
	if (ret == 0) {
		usv_control_stop_handed_over(sv->ctl);
		sv->handed_over = true;
	}
	return ret;
}

/* The front could not stop for the hand-over: the asker is told why (its
 * `usvhostd --takeover` exits non-zero) and this daemon serves on. */
static void serve_handover_refused(void *arg, const char *why)
{
	struct serve *sv = arg;
	size_t len = 0;
	char *line = usv_control_error_line("EBUSY", why, &len);
	char *answer;
	int sock;

	pthread_mutex_lock(&sv->ho_lock);
	sock = sv->ho_sock;
	answer = sv->ho_answer;
	sv->ho_sock = -1;
	sv->ho_answer = NULL;
	pthread_mutex_unlock(&sv->ho_lock);
	if (sock >= 0 && line && write(sock, line, len) != (ssize_t)len)
		usv_warn("hand-over refused, but the asker could not be told: %s",
			 strerror(errno));
	if (sock >= 0)
		close(sock);
	free(answer);
	free(line);
}

/* --takeover: the running daemon's front and profile, checked against
 * what was given on the command line (the same command line as before may
 * be reused): asked first with `version`, so that a mistyped option stops
 * nothing, and again in the state that was handed over. */
static int check_front(const struct usv_options *o, const struct usv_front_state *f,
		       const char *profile, pid_t pid)
{
	enum usv_transport theirs = f->cuse ? USV_TRANSPORT_CUSE : USV_TRANSPORT_FUSE;
	const char *differs = NULL;

	if (o->transport != USV_TRANSPORT_AUTO && o->transport != theirs)
		differs = "--transport";
	else if (o->name_set && f->cuse && strcmp(o->name, f->name))
		differs = "--name";
	else if (o->mount_set && !f->cuse && strcmp(o->mount, f->mount))
		differs = "--mount";
	else if (o->mode_set && !f->cuse && o->mode != f->mode)
		differs = "--mode";
	else if (o->group_set && !f->cuse && o->gid != f->gid)
		differs = "--group";
	else if (o->profile_set && strcmp(o->profile, profile))
		differs = "--profile";
	if (differs) {
		usv_err("--takeover: %s differs from the running daemon's (pid %d); "
			"leave it out to take the running one's", differs, (int)pid);
		return -EINVAL;
	}
	if (!usv_profile_find(profile)) {
		usv_err("--takeover: the running daemon answers as profile '%s', which "
			"this version does not have", profile);
		return -EINVAL;
	}
	return 0;
}

/* Asks the running daemon at ctlpath who it is and checks that first. */
static int precheck_front(const struct usv_options *o, const char *ctlpath)
{
	struct usv_front_state f;
	char err[256], profile[64];
	pid_t pid = 0;
	int ret;

	ret = usv_takeover_ask_front(ctlpath, &f, profile, sizeof(profile), &pid, err,
				     sizeof(err));
	if (ret < 0)
		usv_err("--takeover: %s", err);
	return ret > 0 ? check_front(o, &f, profile, pid) : ret;
}

/* The state handed over says which front and profile to serve. */
static int adopt_front(struct usv_options *o, const struct usv_takeover_in *in,
		       enum usv_transport *t)
{
	const struct usv_front_state *f = &in->front;
	int ret = check_front(o, f, in->profile, in->old_pid);

	if (ret)
		return ret;
	*t = f->cuse ? USV_TRANSPORT_CUSE : USV_TRANSPORT_FUSE;
	o->name = f->name;
	o->mount = f->mount;
	o->mode = f->mode;
	o->gid = f->gid;
	o->group_set = !f->cuse;
	o->profile = in->profile;
	return 0;
}

/* The FUSE unmount needs CAP_SYS_ADMIN, kept permitted for this moment. */
static void serve_unmounting(void *arg, bool begin)
{
	struct serve *sv = arg;

	if (sv->o->keep_privileges || !(sv->plan.reserved & USV_CAP(CAP_SYS_ADMIN)))
		return;
	if (usv_priv_set_effective(CAP_SYS_ADMIN, begin) && begin)
		usv_warn("cannot raise CAP_SYS_ADMIN for the unmount");
}

/* The front stops for good: the stop's time runs from here. */
static void serve_stopping(void *arg, int session_fd)
{
	struct serve *sv = arg;

	atomic_store(&sv->session_fd, session_fd);
	usv_stop_watch_arm(&sv->stop);
}

/* The stop has taken --stop-timeout seconds: a device could not be
 * released. Its worker or request waits on its owner's memory: a read of
 * /proc/PID/mem waits uninterruptibly on a page that never arrives (a file
 * of a frozen FUSE server mapped as guest RAM), and not even the process's
 * end ends that wait. So what callers and the host see is undone here: the
 * session's fd is closed, which ends the connection (every caller's request
 * in flight is answered with an error; a CUSE node goes away), the mount is
 * undone and the control socket removed, if still ours; then the process
 * ends. Threads in such a wait stay until the page arrives, holding only
 * what the kernel frees then. */
static void serve_stop_overdue(void *arg, unsigned secs)
{
	struct serve *sv = arg;
	bool ours = !sv->handed_over && (!sv->in || sv->took_over);
	int fd = atomic_exchange(&sv->session_fd, -1);

	usv_err("stopping: not done after %u s (--stop-timeout): a device's request or "
		"worker waits on memory its owner does not let the daemon read; ending "
		"the connection and the process", secs);
	if (ours && sv->fuse) {
		serve_unmounting(sv, true);
		if (umount2(sv->o->mount, MNT_DETACH) && errno != EINVAL && errno != ENOENT)
			usv_err("cannot unmount %s: %s", sv->o->mount, strerror(errno));
	}
	if (ours && fd >= 0)
		close(fd);
	if (ours)
		usv_control_remove_socket(sv->ctl);
	_exit(EXIT_FAILURE);
}

int main(int argc, char **argv)
{
	struct usv_front_config fc = { .session_fd = -1 };
	struct usv_takeover_in in = { .sock = -1, .session_fd = -1, .control_fd = -1 };
	struct serve sv = { .ho_sock = -1, .ho_lock = PTHREAD_MUTEX_INITIALIZER };
	struct usv_devlist devs;
	struct usv_inject inject;
	struct usv_trace *trace = NULL;
	struct usv_trace_info ti;
	char devpath[512], ctlpath[108];
	sigset_t usr1;
	struct usv_options o;
	struct usv_profile profile; /* the chosen one, with the daemon's limits */
	enum usv_transport t;
	int ret;

	ret = usv_options_parse(argc, argv, &o);
	if (ret)
		return ret > 0 ? EXIT_SUCCESS : 2;
	/* VMs come and go for months: memory a released device held must go
	 * back to the system. A device's ring buffers (64 KiB and more each)
	 * are mapped and unmapped whole at a fixed threshold (glibc would
	 * raise it after the first free and keep later ones in its heaps),
	 * and two arenas serve the daemon's threads (one per thread that ever
	 * allocated would each keep their freed pages); nothing allocates per
	 * packet. */
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	mallopt(M_ARENA_MAX, 2);
	usv_log_setup(o.log_level, o.syslog || !o.foreground);
	usv_log_set_format(o.log_format);
	usv_notify_open(&sv.notify);
	t = o.transport;
	if (o.takeover) {
		char err[256];

		if (o.control && !strcmp(o.control, "none")) {
			fprintf(stderr, "usvhostd: --takeover reaches the running daemon "
				"through its control socket: give its --control=PATH\n");
			return 2;
		}
		ret = usv_control_path(o.control, true, o.name, o.mount, ctlpath,
				       sizeof(ctlpath));
		if (!ret)
			ret = precheck_front(&o, ctlpath);
		if (!ret && (ret = usv_takeover_fetch(ctlpath, &in, err, sizeof(err))))
			usv_err("--takeover: %s", err);
		if (!ret)
			ret = adopt_front(&o, &in, &t);
		if (ret) {
			usv_takeover_in_free(&in);
			return EXIT_FAILURE;
		}
		sv.in = &in;
	}
	if (t == USV_TRANSPORT_AUTO)
		t = access("/dev/cuse", F_OK) == 0 ? USV_TRANSPORT_CUSE : USV_TRANSPORT_FUSE;
	if (t == USV_TRANSPORT_CUSE && (o.mode_set || o.group_set) && !o.takeover) {
		/* CUSE has no say in its node's mode: devtmpfs makes it 0600
		 * root:root and udev applies its rules, as for the kernel's own
		 * /dev/vhost-net; a chmod here would race udev. */
		fprintf(stderr, "usvhostd: --mode and --group are for the FUSE-file front; "
			"set /dev/%s's mode and group with a udev rule (usvhostd(8))\n",
			o.name);
		return 2;
	}
	if (geteuid() != 0)
		usv_warn("not running as root: reaching QEMU's memory and fds needs "
			 "ptrace rights over it (CAP_SYS_PTRACE)");
	usv_raise_nofile();
	/* SIGUSR1 asks for the stats file now: blocked in every thread and
	 * read by the stats writer through a signalfd. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	if (o.workers)
		usv_warn("--workers is ignored: each device has its own worker thread, "
			 "as in the kernel");
	sv.o = &o;
	sv.fuse = t == USV_TRANSPORT_FUSE;
	atomic_init(&sv.session_fd, -1);
	ret = usv_stop_watch_init(&sv.stop, o.stop_timeout, serve_stop_overdue, &sv);
	if (ret) {
		usv_err("cannot set up the stop's watch: %s", strerror(-ret));
		return EXIT_FAILURE;
	}
	sv.devs = &devs;
	sv.profile = o.profile;
	sv.dc.stats_path = o.stats;
	usv_priv_plan_for(t == USV_TRANSPORT_FUSE, &sv.plan);
	/* The datapath is handed to the list once it runs (serve_started). */
	/* --max-mem-regions is the daemon's, as the module parameter is the
	 * kernel's: every profile answers E2BIG above it. */
	profile = *usv_profile_find(o.profile);
	profile.max_mem_regions = o.max_mem_regions;
	ret = usv_devlist_init(&devs, &profile, NULL, NULL);
	if (ret) {
		usv_err("cannot initialise the device list: %s", strerror(-ret));
		return EXIT_FAILURE;
	}
	usv_devlist_set_max_per_uid(&devs, o.max_devices_per_user);
	usv_inject_init(&inject);
	for (unsigned i = 0; i < o.ninject; i++) {
		char err[256], warn[256];

		if (usv_inject_add(&inject, o.inject[i], err, sizeof(err), warn, sizeof(warn))) {
			usv_err("--inject: %s", err);
			ret = -EINVAL;
			goto out;
		}
		if (warn[0])
			usv_warn("--inject %s", warn);
		usv_info("injecting %s", inject.rules[i].spec);
	}
	if (o.ninject)
		usv_devlist_set_inject(&devs, &inject);
	ti = (struct usv_trace_info){
		.producer = "usvhostd " PACKAGE_VERSION,
		.transport = usv_transport_name(t),
		.device = devpath,
		.profile = devs.profile,
		.inject = &inject,
	};
	if (t == USV_TRANSPORT_CUSE)
		snprintf(devpath, sizeof(devpath), "/dev/%s", o.name);
	else
		snprintf(devpath, sizeof(devpath), "%s/vhost-net", o.mount);
	if (o.trace) {
		int err = 0;

		if (!strcmp(o.trace, "-") && !o.foreground) {
			usv_err("--trace=- writes to stdout, which a daemon closes: "
				"add --foreground, or give a file");
			ret = -EINVAL;
			goto out;
		}
		trace = usv_trace_open(o.trace, &ti, &err);
		if (!trace) {
			usv_err("--trace: cannot open %s: %s", o.trace, strerror(-err));
			ret = err;
			goto out;
		}
		usv_devlist_set_observer(&devs, &usv_trace_observer, trace);
		usv_info("tracing every ioctl to %s", !strcmp(o.trace, "-") ? "stdout" : o.trace);
	}
	/* --takeover listens where the running daemon did, on its socket. */
	ret = o.takeover ? 0 : usv_control_path(o.control, t == USV_TRANSPORT_CUSE, o.name,
						o.mount, ctlpath, sizeof(ctlpath));
	fc.name = o.name;
	fc.mount = o.mount;
	fc.mode = o.mode;
	fc.gid = o.group_set ? o.gid : 0;
	usv_front_identity(&fc, t == USV_TRANSPORT_CUSE, &sv.front_id);
	if (!ret && (ret = usv_front_ctl_new(&sv.fctl)))
		usv_err("cannot set up hand-overs: %s", strerror(-ret));
	if (!ret && ctlpath[0]) {
		struct usv_control_config cc = {
			.path = ctlpath, .optional = !o.control && !o.takeover,
			.group_set = o.control_group_set, .gid = o.control_gid,
			.devs = &devs, .trace = trace, .trace_name = o.trace,
			.trace_info = &ti,
			.inherit = o.takeover, .inherit_fd = in.control_fd,
			.takeover = serve_takeover_request, .takeover_arg = &sv,
			.front = &sv.front_id, .profile = sv.profile,
		};

		in.control_fd = -1; /* the control socket's, even on failure */
		ret = usv_control_open(&cc, &sv.ctl);
		if (!ret)
			trace = NULL; /* the control socket's trace switch holds it */
		else if (cc.optional)
			ret = 0;
	}
	if (ret)
		goto out;
	if (o.takeover)
		usv_info("usvhostd %s taking over from pid %d: transport %s, profile %s",
			 PACKAGE_VERSION, (int)in.old_pid, usv_transport_name(t), o.profile);
	else
		usv_info("usvhostd %s starting: transport %s, profile %s", PACKAGE_VERSION,
			 usv_transport_name(t), o.profile);
	usv_info("at most %u memory regions per device (--max-mem-regions)",
		 profile.max_mem_regions);
	if (o.max_devices_per_user)
		usv_info("at most %u devices per user (--max-devices-per-user)",
			 o.max_devices_per_user);
	else
		usv_info("no per-user device limit (--max-devices-per-user=0)");
	fc.devs = &devs;
	fc.foreground = o.foreground;
	fc.fuse_debug = o.fuse_debug;
	fc.hooks.started = serve_started;
	fc.hooks.unmounting = serve_unmounting;
	fc.hooks.handover = serve_handover;
	fc.hooks.handover_refused = serve_handover_refused;
	fc.hooks.stopping = serve_stopping;
	fc.hooks.ctx = &sv;
	fc.ctl = sv.fctl;
	if (o.takeover) {
		fc.session_fd = in.session_fd;
		fc.inherit = &in.front;
		in.session_fd = -1; /* the front's now */
	}
	if (t == USV_TRANSPORT_CUSE) {
		snprintf(sv.what, sizeof(sv.what), "/dev/%s", o.name);
		ret = usv_front_cuse_run(&fc);
	} else {
		snprintf(sv.what, sizeof(sv.what), "%s/vhost-net", o.mount);
		ret = usv_front_fusefile_run(&fc);
	}
	/* Whatever ended the front, the rest of the stop is bounded too; the
	 * front has closed its session fd. */
	atomic_store(&sv.session_fd, -1);
	usv_stop_watch_arm(&sv.stop);
	if (sv.handed_over)
		usv_info("handed over: every device, the %s and the control socket "
			 "are the new daemon's", t == USV_TRANSPORT_CUSE ? "node" : "mount");
	else
		usv_notify_stopping(&sv.notify);
out:
	/* A takeover that did not complete leaves the running daemon's socket
	 * file where it is. */
	if (o.takeover && !sv.took_over)
		usv_control_stop_handed_over(sv.ctl);
	else
		usv_control_stop(sv.ctl);
	/* Devices whose users did not close them are released here. */
	usv_devlist_destroy(&devs);
	usv_dp_destroy(sv.dp);
	usv_control_free(sv.ctl);
	usv_trace_close(trace);
	usv_inject_destroy(&inject);
	usv_notify_close(&sv.notify);
	usv_front_ctl_free(sv.fctl);
	usv_takeover_in_free(&in);
	if (sv.stop.overdue)
		usv_stop_watch_destroy(&sv.stop);
	usv_info("stopped%s", ret ? " after an error" : "");
	return ret ? EXIT_FAILURE : EXIT_SUCCESS;
}
