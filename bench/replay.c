/*
 * replay.c - the client side of the replay benchmark: the controller's own watch path (conn, TLS,
 * http, frame, json, order, sync, table: the same code, linked the same way) against
 * replay_server, with nothing else running. Reconciles are not run: this measures event intake.
 *
 *   replay PORT CA.pem watch [CAPACITY] -> one watch until the server ends it; events, seconds, events/s
 *   replay PORT CA.pem list [CAPACITY]  -> one list (a single page of however many items the server
 *                                          sends); orders tracked and peak resident memory
 * CAPACITY is the table size, as --max-orders (default 10000).
 * Output is one line of key=value pairs for bench/run.sh to read.
 */
#include "config.h"
#include "kube.h"
#include "log.h"
#include "pz.h"
#include "sync.h"
#include "table.h"
#include "watch.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#define REPLAY_OBJ_BYTES 65536
#define REPLAY_TOKENS (REPLAY_OBJ_BYTES / 8)

static struct kube_api api;
static struct table table;
static struct watch w;
static struct sync sy;
static char obj[REPLAY_OBJ_BYTES];
static jsmntok_t tok[REPLAY_TOKENS];
static char pem[65536];

static long status_kb(const char *field)
{
	char buf[4096], *p;
	int fd = open("/proc/self/status", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strstr(buf, field);
	return p ? strtol(p + strlen(field) + 1, NULL, 10) : -1;
}

int main(int argc, char **argv)
{
	char url[64];
	int fd, list_mode, rc;
	ssize_t n;
	int64_t t0, t1;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: replay PORT CA.pem watch|list [CAPACITY]\n");
		return 2;
	}
	list_mode = strcmp(argv[3], "list") == 0;
	log_min_level = LOG_ERROR;
	snprintf(url, sizeof url, "https://127.0.0.1:%s", argv[1]);
	fd = open(argv[2], O_RDONLY);
	n = fd >= 0 ? read(fd, pem, sizeof pem) : -1;
	if (n <= 0 || config_parse_server(&api, url) < 0 || tls_creds_add_ca_pem(&api.creds, pem, (size_t)n) < 0) {
		fprintf(stderr, "replay: bad CA or URL\n");
		return 1;
	}
	api.target.creds = &api.creds;
	if (table_init(&table, argc == 5 ? (uint32_t)atoi(argv[4]) : 10000, 42) < 0)
		return 1;
	sy.table = &table;
	sy.orders = &w;
	watch_init(&w, "pizzaorders", "/apis/pizzeria.example.com/v1/pizzaorders", NULL, obj, sizeof obj, tok,
		REPLAY_TOKENS, &sync_order_handler, &sy);
	if (!list_mode) {
		w.need_list = 0;
		strcpy(w.rv, "1");
	}
	t0 = pz_now_ms();
	for (;;) {
		int64_t now = pz_now_ms();
		rc = watch_step(&w, &api, now);
		if (rc < 0 && !list_mode && w.events > 0) {
			/* The server ends the stream after its last cycle, often within the watch's minimum
			 * life, which the watch reports as a failure: here it is the end of the replay.
			 * bench/replay.sh checks that every event was read. */
			fprintf(stderr, "replay: stream ended: %s (%s)\n", pz_strerror(rc), w.detail);
			break;
		}
		if (rc < 0) {
			fprintf(stderr, "replay: %s (%s)\n", pz_strerror(rc), w.detail);
			return 1;
		}
		if (list_mode && w.synced)
			break;
		if (!list_mode && w.state == WATCH_IDLE && w.events > 0)
			break;
		if (w.state != WATCH_IDLE && !watch_ready(&w)) {
			/* as the loop does: watch_events() is also the promise to poll (see conn_events) */
			struct pollfd p = { .fd = watch_fd(&w), .events = watch_events(&w) };
			poll(&p, 1, 1000);
		}
	}
	t1 = pz_now_ms();
	if (list_mode)
		printf("mode=list orders=%u seconds=%.3f vmhwm_kb=%ld vmrss_kb=%ld\n", table.count,
			(double)(t1 - t0) / 1000, status_kb("VmHWM:"), status_kb("VmRSS:"));
	else
		printf("mode=watch events=%llu orders=%u seconds=%.3f events_per_second=%.0f vmhwm_kb=%ld\n",
			(unsigned long long)w.events, table.count, (double)(t1 - t0) / 1000,
			(double)w.events * 1000 / (double)(t1 - t0 > 0 ? t1 - t0 : 1), status_kb("VmHWM:"));
	return 0;
}
