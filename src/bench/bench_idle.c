/* SPDX-License-Identifier: MIT */
/*
 * --test=idle: the devices are set up as for tx and rx (owner, memory
 * table, both rings with their eventfds, the tap attached) and the guest
 * driver's RX buffers are posted; then nothing moves for --secs, and the
 * report is what the backend's threads spent meanwhile. The figure is
 * reported, not judged.
 */
#include "bench.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

/* Lets the backend finish what the set-up asked of it before the window. */
#define SETTLE_NS 200000000ull

struct idle_result {
	double secs, cpu_ms, core_pct;
	bool cpu_known;
	uint64_t used, tap_in, tap_out;
	struct bench_backend be;
};

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void report(const struct bench_opts *o, const struct idle_result *r)
{
	const char *ram = o->ram == BENCH_RAM_MEMFD ? "memfd" : "anon";
	double n = o->devices;

	if (o->json) {
		printf("{\"test\":\"idle\",\"dev\":\"%s\",\"raw\":false,\"size\":%u,\"ram\":\"%s\","
		       "\"guest\":\"%s\",\"layout\":\"%s\",\"devices\":%u,\"ring\":%u,"
		       "\"secs\":%.3f,",
		       o->dev, o->size, ram, o->poll ? "poll" : "irq",
		       o->packed ? "packed" : "split", o->devices, o->ring, r->secs);
		if (r->cpu_known)
			printf("\"backend\":{\"pid\":%d,\"kernel\":%s,\"cpu_s\":%.6f,\"cpu_ms\":%.3f,"
			       "\"core_pct\":%.4f,\"per_device_ms\":%.4f,"
			       "\"per_device_core_pct\":%.5f},",
			       (int)r->be.pid, r->be.kernel ? "true" : "false", r->cpu_ms / 1e3,
			       r->cpu_ms, r->core_pct, r->cpu_ms / n, r->core_pct / n);
		else
			printf("\"backend\":null,");
		printf("\"used\":%" PRIu64 ",\"tap_in\":%" PRIu64 ",\"tap_out\":%" PRIu64 "}\n",
		       r->used, r->tap_in, r->tap_out);
		return;
	}
	printf("usvhost-bench: idle, %s, RAM %s, %s rings, %u device%s, ring %u, RX buffers "
	       "posted\n",
	       o->dev, ram, o->packed ? "packed" : "split", o->devices, o->devices > 1 ? "s" : "",
	       o->ring);
	if (r->cpu_known) {
		printf("  %.3f s idle: backend CPU (%s): %.3f ms = %.4f %% of one core\n", r->secs,
		       r->be.what, r->cpu_ms, r->core_pct);
		printf("  per device: %.4f ms = %.5f %% of one core\n", r->cpu_ms / n,
		       r->core_pct / n);
	} else {
		printf("  %.3f s idle: backend CPU: unknown (no --backend-pid, no usvhostd or vhost "
		       "worker found)\n", r->secs);
	}
	printf("  moved: %" PRIu64 " used entries; tap counters: %" PRIu64 " frames from the "
	       "backend, %" PRIu64 " to it\n", r->used, r->tap_in, r->tap_out);
}

int bench_idle(const struct bench_opts *o, struct bench_dev *devs)
{
	struct idle_result r = { 0 };
	long long t0, t1;
	uint64_t start_ns;
	unsigned used0 = 0, used1 = 0;
	int rc = 0;

	for (unsigned i = 0; i < o->devices; i++)
		bench_guest_idle(&devs[i]);
	bench_backend_find(o, &r.be);
	sleep_ns(SETTLE_NS);
	for (unsigned i = 0; i < o->devices && rc == 0; i++) {
		rc = bench_tap_stats(devs[i].port.ifname, &devs[i].tap0);
		used0 += bench_guest_used(&devs[i]);
	}
	if (rc < 0)
		return rc;
	t0 = bench_backend_ns(&r.be);
	start_ns = bench_now_ns();
	sleep_ns((uint64_t)o->secs * 1000000000ull);
	t1 = bench_backend_ns(&r.be);
	r.secs = (bench_now_ns() - start_ns) / 1e9;
	for (unsigned i = 0; i < o->devices && rc == 0; i++) {
		struct bench_dev *d = &devs[i];

		rc = bench_tap_stats(d->port.ifname, &d->tap1);
		used1 += bench_guest_used(d);
		r.tap_in += d->tap1.rx_packets - d->tap0.rx_packets;
		r.tap_out += d->tap1.tx_packets - d->tap0.tx_packets;
	}
	if (rc < 0)
		return rc;
	r.used = used1 - used0;
	r.cpu_known = t0 >= 0 && t1 >= t0;
	if (r.cpu_known) {
		r.cpu_ms = (double)(t1 - t0) / 1e6;
		r.core_pct = r.cpu_ms / 1e3 / r.secs * 100.0;
	}
	report(o, &r);
	return 0;
}
