/* SPDX-License-Identifier: MIT */
/*
 * usvhost-bench: options, one run (devices and taps set up, the guest and
 * host-side threads for --secs, a bounded drain, teardown), and the report:
 * packets per second, Gbit/s, the backend's CPU per packet, the cross-check
 * against the taps' own counters, rr latency percentiles.
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
	"Usage: usvhost-bench --dev=PATH --test=tx|rx|rr|idle [OPTION]...\n"
	"       usvhost-bench --raw --test=tx|rx|rr [OPTION]...\n"
	"Plays QEMU and a virtio-net guest driver against a vhost-net device with a\n"
	"tap backend it creates, and measures for --secs seconds.\n"
	"\n"
	"  --dev=PATH          the vhost-net device: usvhostd's FUSE file or CUSE\n"
	"                      node, or the kernel's /dev/vhost-net\n"
	"  --raw               no device: one thread per tap does write() (tx) or\n"
	"                      read() (rx) on the tap fd itself, the reference\n"
	"  --test=tx|rx|rr|idle\n"
	"                      tx: the guest sends; rx: the host side sends and the\n"
	"                      guest receives; rr: one frame out, one back (latency);\n"
	"                      idle: devices set up, RX buffers posted, nothing sent:\n"
	"                      the backend's CPU time (not with --raw)\n"
	"  --size=BYTES        Ethernet frame size, 60..65000 (default 64)\n"
	"  --ram=memfd|anon    guest RAM: a sealed shared memfd, or anonymous private\n"
	"                      memory (QEMU's default) (default memfd)\n"
	"  --guest=irq|poll    the guest sleeps on interrupts, or spins (default irq)\n"
	"  --layout=split|packed\n"
	"                      the virtqueues' layout: split rings, or packed rings\n"
	"                      (VIRTIO_F_RING_PACKED, which the device must offer:\n"
	"                      usvhostd's profile usvhost does, the kernel's vhost_net\n"
	"                      does not) (default split; not with --raw)\n"
	"  --iommu=none|pt|pages\n"
	"                      a guest vIOMMU (VIRTIO_F_ACCESS_PLATFORM, the device\n"
	"                      IOTLB): none (default), pt: one mapping over guest\n"
	"                      RAM (passthrough), pages: one per 4 KiB page of it;\n"
	"                      filled before the rings start (not with --raw)\n"
	"  --devices=N         N devices and taps in parallel, 1..64 (default 1)\n"
	"  --secs=S            seconds to measure, 1..3600 (default 5)\n"
	"  --ring=N            ring size, a power of 2, 16..1024 (default 256)\n"
	"  --backend-pid=PID   whose threads' CPU time to count (default: the kernel's\n"
	"                      vhost-PID workers, else the one usvhostd)\n"
	"  --json              one JSON object instead of text\n"
	"  --help              this text\n"
	"\n"
	"Exit status: 0 packets moved and every tap's counters matched (idle: the\n"
	"devices were set up), 1 they did not or the run failed, 2 usage error or\n"
	"--layout=packed or --iommu on a device that does not offer them.\n";

static const char *test_name[] = { "tx", "rx", "rr", "idle" };
static const char *iommu_name[] = { "none", "pt", "pages" };

static bool parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *v)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(s, &end, 10);
	if (errno || !*s || *end || x < lo || x > hi)
		return false;
	*v = (unsigned)x;
	return true;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "usvhost-bench: %s (try --help)\n", msg);
	return 2;
}

static int parse(int argc, char **argv, struct bench_opts *o)
{
	enum { O_DEV = 1, O_TEST, O_SIZE, O_RAM, O_GUEST, O_LAYOUT, O_DEVICES, O_SECS, O_RING,
	       O_PID, O_JSON, O_RAW, O_HELP, O_IOMMU };
	static const struct option lo[] = {
		{ "dev", required_argument, NULL, O_DEV },
		{ "test", required_argument, NULL, O_TEST },
		{ "size", required_argument, NULL, O_SIZE },
		{ "ram", required_argument, NULL, O_RAM },
		{ "guest", required_argument, NULL, O_GUEST },
		{ "layout", required_argument, NULL, O_LAYOUT },
		{ "iommu", required_argument, NULL, O_IOMMU },
		{ "devices", required_argument, NULL, O_DEVICES },
		{ "secs", required_argument, NULL, O_SECS },
		{ "ring", required_argument, NULL, O_RING },
		{ "backend-pid", required_argument, NULL, O_PID },
		{ "json", no_argument, NULL, O_JSON },
		{ "raw", no_argument, NULL, O_RAW },
		{ "help", no_argument, NULL, O_HELP },
		{ 0 },
	};
	bool have_test = false;
	unsigned pid;
	int c;

	*o = (struct bench_opts){ .size = 64, .devices = 1, .secs = 5, .ring = 256 };
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_DEV: o->dev = optarg; break;
		case O_TEST:
			have_test = true;
			if (!strcmp(optarg, "tx")) o->test = BENCH_TX;
			else if (!strcmp(optarg, "rx")) o->test = BENCH_RX;
			else if (!strcmp(optarg, "rr")) o->test = BENCH_RR;
			else if (!strcmp(optarg, "idle")) o->test = BENCH_IDLE;
			else return usage_error("--test=%s: tx, rx, rr or idle", optarg);
			break;
		case O_SIZE:
			if (!parse_uint(optarg, BENCH_MIN_SIZE, BENCH_MAX_SIZE, &o->size))
				return usage_error("--size=%s: 60..65000 bytes", optarg);
			break;
		case O_RAM:
			if (!strcmp(optarg, "memfd")) o->ram = BENCH_RAM_MEMFD;
			else if (!strcmp(optarg, "anon")) o->ram = BENCH_RAM_ANON;
			else return usage_error("--ram=%s: memfd or anon", optarg);
			break;
		case O_GUEST:
			if (!strcmp(optarg, "irq")) o->poll = false;
			else if (!strcmp(optarg, "poll")) o->poll = true;
			else return usage_error("--guest=%s: irq or poll", optarg);
			break;
		case O_LAYOUT:
			if (!strcmp(optarg, "split")) o->packed = false;
			else if (!strcmp(optarg, "packed")) o->packed = true;
			else return usage_error("--layout=%s: split or packed", optarg);
			break;
		case O_IOMMU:
			if (!strcmp(optarg, "none")) o->iommu = BENCH_IOMMU_NONE;
			else if (!strcmp(optarg, "pt")) o->iommu = BENCH_IOMMU_PT;
			else if (!strcmp(optarg, "pages")) o->iommu = BENCH_IOMMU_PAGES;
			else return usage_error("--iommu=%s: none, pt or pages", optarg);
			break;
		case O_DEVICES:
			if (!parse_uint(optarg, 1, BENCH_MAX_DEVICES, &o->devices))
				return usage_error("--devices=%s: 1..64", optarg);
			break;
		case O_SECS:
			if (!parse_uint(optarg, 1, BENCH_MAX_SECS, &o->secs))
				return usage_error("--secs=%s: 1..3600", optarg);
			break;
		case O_RING:
			if (!parse_uint(optarg, 16, BENCH_MAX_RING, &o->ring) || (o->ring & (o->ring - 1)))
				return usage_error("--ring=%s: a power of 2, 16..1024", optarg);
			break;
		case O_PID:
			if (!parse_uint(optarg, 1, 1u << 22, &pid))
				return usage_error("--backend-pid=%s: a process id", optarg);
			o->backend_pid = (pid_t)pid;
			break;
		case O_JSON: o->json = true; break;
		case O_RAW: o->raw = true; break;
		case O_HELP: fputs(usage_text, stdout); return 1;
		default: return 2; /* getopt said why */
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!have_test)
		return usage_error("%s", "--test=tx|rx|rr|idle is required");
	if (!o->dev == !o->raw)
		return usage_error("%s", "give either --dev=PATH or --raw");
	if (o->raw && o->test == BENCH_IDLE)
		return usage_error("%s", "--test=idle measures a device: not with --raw");
	if (o->raw && o->packed)
		return usage_error("%s", "--layout=packed is a device's ring layout: not with --raw");
	if (o->raw && o->iommu != BENCH_IOMMU_NONE)
		return usage_error("%s", "--iommu is a device's IOTLB: not with --raw");
	return 0;
}

/* ---- one run ----------------------------------------------------------- */

struct worker {
	struct bench_dev *d;
	struct bench_clock *c;
	int (*fn)(struct bench_dev *, struct bench_clock *);
	pthread_t t;
	bool started;
	int rc;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	w->rc = w->fn(w->d, w->c);
	return NULL;
}

static int start(struct worker *w)
{
	int rc = pthread_create(&w->t, NULL, worker_main, w);

	w->started = rc == 0;
	return -rc;
}

/* A thread stuck in the kernel cannot be cancelled: past the bound the
 * whole program gives up (the kernel then tears everything down). */
static void join(struct worker *w, unsigned secs)
{
	struct timespec ts;

	if (!w->started)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += secs;
	if (pthread_timedjoin_np(w->t, NULL, &ts) != 0) {
		bench_note("a thread did not finish within %u s: giving up", secs);
		_exit(1);
	}
	w->started = false;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct result {
	double secs, pps, gbps, cpu_s, ns_per_pkt, p50_us, p99_us;
	uint64_t frames, total, tap, tap_dropped, port, port_drops, lost, samples;
	bool cpu_known, match;
	struct bench_backend be;
};

static int (*guest_fn(const struct bench_opts *o))(struct bench_dev *, struct bench_clock *)
{
	if (o->raw)
		return o->test == BENCH_TX ? bench_raw_tx : o->test == BENCH_RX ? bench_raw_rx :
									     bench_raw_rr;
	return o->test == BENCH_TX ? bench_guest_tx : o->test == BENCH_RX ? bench_guest_rx :
									   bench_guest_rr;
}

static int (*port_fn(const struct bench_opts *o))(struct bench_dev *, struct bench_clock *)
{
	return o->test == BENCH_TX ? bench_port_sink : o->test == BENCH_RX ? bench_port_inject :
									    bench_port_echo;
}

static void collect(const struct bench_opts *o, struct bench_dev *devs, struct result *r)
{
	uint64_t *all = NULL;
	size_t n = 0;

	r->match = true;
	for (unsigned i = 0; i < o->devices; i++) {
		struct bench_dev *d = &devs[i];
		/* TX: frames the tap took from its fd; RX and rr: frames read from it. */
		uint64_t tap = o->test == BENCH_TX ? d->tap1.rx_packets - d->tap0.rx_packets :
						     d->tap1.tx_packets - d->tap0.tx_packets;
		uint64_t drop = o->test == BENCH_TX ? d->tap1.rx_dropped - d->tap0.rx_dropped :
						      d->tap1.tx_dropped - d->tap0.tx_dropped;

		r->frames += d->frames_window;
		r->total += d->frames_total;
		r->tap += tap;
		r->tap_dropped += drop;
		r->port += d->port_frames;
		r->port_drops += d->port_drops;
		r->lost += d->lost;
		r->samples += d->nsamples;
		if (tap != d->frames_total) {
			bench_note("%s: counted %" PRIu64 " frames, the tap's counters say %" PRIu64,
				   d->port.ifname, d->frames_total, tap);
			r->match = false;
		}
	}
	r->pps = r->frames / r->secs;
	r->gbps = r->pps * o->size * 8 / 1e9;
	if (r->cpu_known && r->frames)
		r->ns_per_pkt = r->cpu_s * 1e9 / (double)r->frames;
	if (o->test != BENCH_RR || !r->samples)
		return;
	all = malloc(r->samples * sizeof(*all));
	if (!all)
		return;
	for (unsigned i = 0; i < o->devices; i++) {
		memcpy(all + n, devs[i].samples, devs[i].nsamples * sizeof(*all));
		n += devs[i].nsamples;
	}
	qsort(all, n, sizeof(*all), cmp_u64);
	r->p50_us = all[n / 2] / 1e3;
	r->p99_us = all[(n * 99) / 100] / 1e3;
	free(all);
}

static void report(const struct bench_opts *o, const struct result *r)
{
	const char *ram = o->ram == BENCH_RAM_MEMFD ? "memfd" : "anon";

	if (o->json) {
		printf("{\"test\":\"%s\",\"dev\":\"%s\",\"raw\":%s,\"size\":%u,\"ram\":\"%s\","
		       "\"guest\":\"%s\",\"layout\":\"%s\",\"iommu\":\"%s\",\"devices\":%u,"
		       "\"ring\":%u,\"secs\":%.3f,\"packets\":%" PRIu64 ",\"pps\":%.0f,"
		       "\"gbps\":%.3f,",
		       test_name[o->test], o->raw ? "" : o->dev, o->raw ? "true" : "false", o->size,
		       ram, o->poll ? "poll" : "irq", o->raw ? "" : o->packed ? "packed" : "split",
		       iommu_name[o->iommu], o->devices, o->ring, r->secs, r->frames, r->pps,
		       r->gbps);
		if (r->cpu_known)
			printf("\"backend\":{\"pid\":%d,\"kernel\":%s,\"cpu_s\":%.3f,"
			       "\"ns_per_packet\":%.1f},",
			       (int)r->be.pid, r->be.kernel ? "true" : "false", r->cpu_s,
			       r->ns_per_pkt);
		else
			printf("\"backend\":null,");
		printf("\"counted\":%" PRIu64 ",\"tap_packets\":%" PRIu64 ",\"tap_dropped\":%" PRIu64
		       ",\"host_side\":%" PRIu64 ",\"host_side_drops\":%" PRIu64 ",\"match\":%s",
		       r->total, r->tap, r->tap_dropped, r->port, r->port_drops,
		       r->match ? "true" : "false");
		if (o->test == BENCH_RR)
			printf(",\"round_trips\":%" PRIu64 ",\"lost\":%" PRIu64
			       ",\"p50_us\":%.1f,\"p99_us\":%.1f",
			       r->samples, r->lost, r->p50_us, r->p99_us);
		printf("}\n");
		return;
	}
	printf("usvhost-bench: %s %u bytes, %s, RAM %s, %s%s%s%sguest %s, %u device%s, ring %u\n",
	       test_name[o->test], o->size, o->raw ? "raw tap" : o->dev, ram,
	       o->raw ? "" : o->packed ? "packed rings, " : "split rings, ",
	       o->iommu ? "vIOMMU " : "", o->iommu ? iommu_name[o->iommu] : "",
	       o->iommu ? ", " : "", o->poll ? "poll" : "irq", o->devices,
	       o->devices > 1 ? "s" : "", o->ring);
	printf("  %" PRIu64 " packets in %.3f s: %.0f pps (%.3f Mpps), %.3f Gbit/s\n", r->frames,
	       r->secs, r->pps, r->pps / 1e6, r->gbps);
	if (r->cpu_known)
		printf("  backend CPU (%s): %.3f s = %.0f ns/packet\n", r->be.what, r->cpu_s,
		       r->ns_per_pkt);
	else if (!o->raw)
		printf("  backend CPU: unknown (no --backend-pid, no usvhostd or vhost worker found)\n");
	printf("  tap counters: %" PRIu64 " frames (%s), %" PRIu64 " dropped; counted %" PRIu64
	       ": %s\n",
	       r->tap, o->test == BENCH_TX ? "rx_packets" : "tx_packets", r->tap_dropped, r->total,
	       r->match ? "match" : "MISMATCH");
	printf("  host side: %" PRIu64 " frames %s, %" PRIu64 " dropped by its socket\n", r->port,
	       o->test == BENCH_TX ? "received" : o->test == BENCH_RX ? "sent" : "echoed",
	       r->port_drops);
	if (o->test == BENCH_RR)
		printf("  round trips: %" PRIu64 ", %" PRIu64 " lost; latency p50 %.1f us, p99 %.1f us\n",
		       r->samples, r->lost, r->p50_us, r->p99_us);
}

static int run(const struct bench_opts *o, struct bench_dev *devs, struct worker *ws)
{
	struct bench_clock c = { 0 };
	struct result r = { 0 };
	long long t0, t1;
	uint64_t start_ns;
	int rc = 0;

	for (unsigned i = 0; i < o->devices && rc == 0; i++) {
		devs[i].index = i;
		devs[i].o = o;
		devs[i].fd = devs[i].memfd = -1;
		for (unsigned q = 0; q < 2; q++)
			devs[i].kick[q] = devs[i].call[q] = -1;
		rc = bench_tap_open(&devs[i]);
		if (rc == 0 && !o->raw)
			rc = bench_dev_open(&devs[i]);
	}
	if (rc < 0)
		return rc;
	if (o->test == BENCH_IDLE)
		return bench_idle(o, devs);
	if (!o->raw)
		bench_backend_find(o, &r.be);
	for (unsigned i = 0; i < o->devices && rc == 0; i++)
		rc = bench_tap_stats(devs[i].port.ifname, &devs[i].tap0);
	t0 = bench_backend_ticks(&r.be);
	start_ns = bench_now_ns();
	for (unsigned i = 0; i < o->devices && rc == 0; i++) {
		ws[2 * i] = (struct worker){ .d = &devs[i], .c = &c, .fn = port_fn(o) };
		ws[2 * i + 1] = (struct worker){ .d = &devs[i], .c = &c, .fn = guest_fn(o) };
		rc = start(&ws[2 * i]);
		if (rc == 0)
			rc = start(&ws[2 * i + 1]);
	}
	if (rc == 0)
		sleep_ns((uint64_t)o->secs * 1000000000ull);
	t1 = bench_backend_ticks(&r.be);
	r.secs = (bench_now_ns() - start_ns) / 1e9;
	atomic_store(&c.phase, 1);
	for (unsigned i = 0; i < o->devices; i++)
		join(&ws[2 * i + 1], 10);
	sleep_ns(200000000ull); /* the host side takes the last frames */
	atomic_store(&c.phase, 2);
	for (unsigned i = 0; i < o->devices; i++)
		join(&ws[2 * i], 10);
	for (unsigned i = 0; i < o->devices; i++) {
		if (ws[2 * i].rc < 0 || ws[2 * i + 1].rc < 0) {
			bench_note("%s: %s", devs[i].port.ifname,
				   strerror(-(ws[2 * i].rc < 0 ? ws[2 * i].rc : ws[2 * i + 1].rc)));
			rc = rc ? rc : -EIO;
		}
		if (bench_tap_stats(devs[i].port.ifname, &devs[i].tap1) < 0)
			rc = rc ? rc : -EIO;
	}
	if (rc < 0)
		return rc;
	r.cpu_known = t0 >= 0 && t1 >= t0;
	if (r.cpu_known)
		r.cpu_s = (double)(t1 - t0) / (double)sysconf(_SC_CLK_TCK);
	collect(o, devs, &r);
	report(o, &r);
	if (!r.frames)
		bench_note("no packet moved");
	return r.frames && r.match ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct bench_dev *devs;
	struct worker *ws;
	int rc = parse(argc, argv, &o);

	if (rc)
		return rc == 1 ? 0 : rc;
	devs = calloc(o.devices, sizeof(*devs));
	ws = calloc(2 * o.devices, sizeof(*ws));
	if (!devs || !ws) {
		bench_note("out of memory");
		rc = 1;
		goto out;
	}
	for (unsigned i = 0; i < o.devices; i++)
		devs[i].tap = devs[i].port.pkt = -1;
	rc = run(&o, devs, ws);
	if (rc == -EPROTONOSUPPORT) {
		rc = 2; /* asked for what the device does not offer: said why */
	} else if (rc < 0) {
		bench_note("failed: %s", strerror(-rc));
		rc = 1;
	}
	for (unsigned i = 0; i < o.devices; i++) {
		bench_dev_close(&devs[i]);
		bench_tap_close(&devs[i]);
		free(devs[i].samples);
	}
out:
	free(devs);
	free(ws);
	return rc;
}
