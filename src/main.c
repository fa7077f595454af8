/*
 * main.c - flags, start-up (every buffer reserved here), the event loop and the watch handlers
 * that turn events into table updates.
 *
 * The loop: poll() on the two watch sockets and the probe server, with a timeout that is the
 * nearest of the table's next due order, the watches' wake/idle deadlines and the server's client
 * deadlines. Each turn reads ready watch events, then runs up to LOOP_RECONCILES_PER_TURN due
 * reconciles, so neither starves the other. Reconcile calls are synchronous with a deadline
 * (KUBE_CALL_TIMEOUT_MS): while one runs, watch bytes wait in the kernel's socket buffer.
 */
#include "config.h"
#include "lease.h"
#include "log.h"
#include "order.h"
#include "pz.h"
#include "reconcile.h"
#include "server.h"
#include "sync.h"
#include "table.h"
#include "watch.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#define LOOP_RECONCILES_PER_TURN 32

static const char usage[] =
"usage: pizza-controller [flags]\n"
"\n"
"Reconciles PizzaOrder objects (pizzeria.example.com/v1): validates each order, bakes it in an\n"
"oven Pod it owns and reports progress in the order's status.\n"
"\n"
"Connection (first found wins: --kubeconfig, $KUBECONFIG, in-cluster, ~/.kube/config):\n"
"  --kubeconfig PATH           kubeconfig file\n"
"  --context NAME              kubeconfig context (default: current-context)\n"
"  --namespace NS              watch one namespace only (default: all)\n"
"Reconciling:\n"
"  --max-orders N              orders tracked at once; memory is reserved for them (default 10000)\n"
"  --resync-period D           requeue after a successful reconcile (default 5m)\n"
"  --requeue-failed-base D     first retry after a failed reconcile, doubled each time (default 1s)\n"
"  --requeue-failed-max D      cap of that backoff (default 1m)\n"
"  --max-object-bytes N        largest order or Pod JSON accepted (default 65536)\n"
"Ovens:\n"
"  --oven-image IMAGE          image of oven Pods (default busybox:1.36)\n"
"  --oven-command CMD          shell command of the oven (default prints and sleeps BAKE_SECONDS)\n"
"  --bake-seconds N            bake time of a small pizza; medium x2, large x3 (default 10)\n"
"Operations:\n"
"  --metrics-bind-address A    /metrics, /healthz, /readyz (default :8080; 0 disables)\n"
"  --leader-elect              act only while holding a Lease, so replicas can stand by\n"
"  --leader-elect-namespace NS Lease namespace (default: the service account's, else pizza-system)\n"
"  --leader-elect-id NAME      Lease name (default pizza-controller.pizzeria.example.com)\n"
"  --leader-elect-lease-duration D, --leader-elect-renew-deadline D, --leader-elect-retry-period D\n"
"                              (defaults 15s, 10s, 2s, as controller-runtime)\n"
"  --log-level L               debug, info, warn or error (default info)\n"
"  --version, --help\n"
"Durations: 300ms, 30s, 5m, 1h.\n";

struct controller {
	struct kube_api api;
	struct table table;
	struct watch orders, pods;
	struct reconciler rec;
	struct reconcile_config rcfg;
	struct server server;
	struct sync sync;
	struct lease lease;
	int leader_elect;        /* --leader-elect: act only while holding the Lease */
	uint64_t oversized_logged_o, oversized_logged_p;
	size_t reserved_bytes;
};

static struct controller ctl;
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

/* ---- flags ---- */

/* Whole numbers with a unit (300ms, 30s, 5m, 1h): no floating point, which would pull in libc's
 * float parser for nothing. */
static int parse_duration(const char *s, int64_t *ms)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (end == s || v < 0 || v > 1000000000LL)
		return -1;
	if (strcmp(end, "ms") == 0) *ms = v;
	else if (strcmp(end, "s") == 0) *ms = v * 1000;
	else if (strcmp(end, "m") == 0) *ms = v * 60000;
	else if (strcmp(end, "h") == 0) *ms = v * 3600000;
	else return -1;
	return 0;
}

static int parse_count(const char *s, long min, long max, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* ---- probes and metrics ---- */

static long rss_bytes(void)
{
	char buf[128], *p;
	ssize_t n;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strchr(buf, ' '); /* "size resident shared ..." in pages */
	return p ? strtol(p + 1, NULL, 10) * sysconf(_SC_PAGESIZE) : -1;
}

static int serve(void *arg, const char *path, char *body, size_t cap, size_t *len)
{
	int n;
	(void)arg;
	if (strcmp(path, "/healthz") == 0 || strcmp(path, "/livez") == 0) {
		*len = (size_t)snprintf(body, cap, "ok\n");
		return 200;
	}
	if (strcmp(path, "/readyz") == 0) {
		int standby = ctl.leader_elect && ctl.lease.state != LEASE_LEADER;
		int ready = standby || (ctl.orders.synced && ctl.pods.synced);
		*len = (size_t)snprintf(body, cap, standby ? "standby (not the leader)\n" :
			ready ? "ok\n" : "waiting for the initial list\n");
		return ready ? 200 : 503;
	}
	if (strcmp(path, "/metrics") != 0)
		return 404;
	n = snprintf(body, cap,
		"# HELP pizza_orders_tracked Orders held in the reconcile table.\n# TYPE pizza_orders_tracked gauge\n"
		"pizza_orders_tracked %u\n"
		"# HELP pizza_table_capacity Slots reserved at start-up (--max-orders).\n# TYPE pizza_table_capacity gauge\n"
		"pizza_table_capacity %u\n"
		"# HELP pizza_table_full_total Orders refused because the table was full.\n# TYPE pizza_table_full_total counter\n"
		"pizza_table_full_total %llu\n"
		"# HELP pizza_reconcile_total Reconciles by result.\n# TYPE pizza_reconcile_total counter\n"
		"pizza_reconcile_total{result=\"success\"} %llu\npizza_reconcile_total{result=\"error\"} %llu\n"
		"# HELP pizza_oven_pods_created_total Oven Pods created.\n# TYPE pizza_oven_pods_created_total counter\n"
		"pizza_oven_pods_created_total %llu\n"
		"# HELP pizza_oven_pods_deleted_total Oven Pods deleted.\n# TYPE pizza_oven_pods_deleted_total counter\n"
		"pizza_oven_pods_deleted_total %llu\n"
		"# HELP pizza_status_updates_total Status subresource writes.\n# TYPE pizza_status_updates_total counter\n"
		"pizza_status_updates_total %llu\n"
		"# HELP pizza_watch_events_total Watch events received.\n# TYPE pizza_watch_events_total counter\n"
		"pizza_watch_events_total{resource=\"pizzaorders\"} %llu\npizza_watch_events_total{resource=\"pods\"} %llu\n"
		"# HELP pizza_watch_restarts_total Watches restarted after a failure.\n# TYPE pizza_watch_restarts_total counter\n"
		"pizza_watch_restarts_total{resource=\"pizzaorders\"} %llu\npizza_watch_restarts_total{resource=\"pods\"} %llu\n"
		"# HELP pizza_lists_total Complete lists.\n# TYPE pizza_lists_total counter\n"
		"pizza_lists_total{resource=\"pizzaorders\"} %llu\npizza_lists_total{resource=\"pods\"} %llu\n"
		"# HELP pizza_objects_skipped_total Objects skipped: over --max-object-bytes or unreadable.\n"
		"# TYPE pizza_objects_skipped_total counter\n"
		"pizza_objects_skipped_total{reason=\"oversized\"} %llu\npizza_objects_skipped_total{reason=\"invalid\"} %llu\n"
		"# HELP pizza_api_requests_total Requests sent to the API server.\n# TYPE pizza_api_requests_total counter\n"
		"pizza_api_requests_total %llu\n"
		"# HELP pizza_api_connects_total Connections opened to the API server.\n# TYPE pizza_api_connects_total counter\n"
		"pizza_api_connects_total %llu\n"
		"# HELP pizza_memory_reserved_bytes Memory reserved at start-up.\n# TYPE pizza_memory_reserved_bytes gauge\n"
		"pizza_memory_reserved_bytes %zu\n"
		"# HELP process_resident_memory_bytes Resident memory.\n# TYPE process_resident_memory_bytes gauge\n"
		"process_resident_memory_bytes %ld\n"
		"# HELP pizza_leader 1 while this process acts (always 1 without --leader-elect).\n# TYPE pizza_leader gauge\n"
		"pizza_leader %d\n",
		ctl.table.count, ctl.table.capacity, (unsigned long long)ctl.sync.table_full,
		(unsigned long long)(ctl.rec.runs - ctl.rec.errors), (unsigned long long)ctl.rec.errors,
		(unsigned long long)ctl.rec.pods_created, (unsigned long long)ctl.rec.pods_deleted,
		(unsigned long long)ctl.rec.status_writes,
		(unsigned long long)ctl.orders.events, (unsigned long long)ctl.pods.events,
		(unsigned long long)ctl.orders.restarts, (unsigned long long)ctl.pods.restarts,
		(unsigned long long)ctl.orders.lists, (unsigned long long)ctl.pods.lists,
		(unsigned long long)(ctl.orders.oversized + ctl.pods.oversized), (unsigned long long)ctl.sync.bad_objects,
		(unsigned long long)ctl.api.requests, (unsigned long long)ctl.api.connects, ctl.reserved_bytes,
		rss_bytes(), !ctl.leader_elect || ctl.lease.state == LEASE_LEADER);
	if (n < 0 || (size_t)n >= cap)
		return 503;
	*len = (size_t)n;
	return 200;
}

/* ---- the loop ---- */

static void step_watch(struct watch *w, uint64_t *oversized_logged, int64_t now)
{
	int rc = watch_step(w, &ctl.api, now);
	if (rc < 0) {
		log_line(rc == PZ_EGONE ? LOG_INFO : LOG_WARN,
			"msg=\"watch restarted\" resource=%s error=\"%s\" http=%d tls=%u tls_error=\"%s\" detail=\"%s\" "
			"retry_in_ms=%lld",
			w->resource, pz_strerror(rc), w->last_status, w->link.conn.tls_error,
			tls_strerror(w->link.conn.tls_error), w->detail,
			(long long)(w->wake_ms - pz_now_ms()));
		w->link.conn.tls_error = 0;
	}
	if (w->oversized != *oversized_logged) {
		*oversized_logged = w->oversized;
		log_line(LOG_ERROR, "msg=\"object skipped\" resource=%s detail=\"%s\" skipped_total=%llu", w->resource,
			w->detail, (unsigned long long)w->oversized);
	}
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Leader election, when on. Returns 1 while this process may act, 0 while standing by, -1 once
 * leadership is lost (the process must stop: another replica may already be reconciling). */
static int lead(int64_t now)
{
	int rc;
	if (!ctl.leader_elect)
		return 1;
	rc = lease_step(&ctl.lease, &ctl.api, &ctl.rec.link, ctl.rec.resp, ctl.rec.resp_cap, ctl.rec.tok,
		ctl.rec.ntok, now);
	if (rc < 0 && ctl.lease.state == LEASE_LEADER)
		log_line(LOG_WARN, "msg=\"lease renewal failed\" lease=%s/%s error=\"%s\" http=%d", ctl.lease.cfg.namespace,
			ctl.lease.cfg.name, pz_strerror(rc), ctl.lease.last_status);
	else if (rc < 0 && rc != PZ_ECONFLICT)
		log_line(LOG_WARN, "msg=\"lease not acquired\" lease=%s/%s error=\"%s\" http=%d",
			ctl.lease.cfg.namespace, ctl.lease.cfg.name, pz_strerror(rc), ctl.lease.last_status);
	if (rc == 1 && ctl.lease.state == LEASE_LEADER)
		log_line(LOG_INFO, "msg=\"became leader\" lease=%s/%s identity=%s", ctl.lease.cfg.namespace,
			ctl.lease.cfg.name, ctl.lease.identity);
	if (ctl.lease.state == LEASE_LOST) {
		log_line(LOG_ERROR, "msg=\"leader election lost\" lease=%s/%s holder=%s hint=\"stopping; the "
			"deployment restarts us as a standby\"", ctl.lease.cfg.namespace, ctl.lease.cfg.name,
			ctl.lease.holder[0] ? ctl.lease.holder : "(unknown)");
		return -1;
	}
	return ctl.lease.state == LEASE_LEADER;
}

static int run_loop(void)
{
	struct pollfd fds[2 + 1 + SERVER_CLIENTS_MAX];

	while (!stop_signal) {
		int64_t now = pz_now_ms(), wake;
		int n = 0, io = -1, ip = -1, timeout, ran = 0, acting = lead(now);

		if (acting < 0)
			return 1;
		if (!acting) {
			/* standing by: only the Lease and the probes */
			wake = min64(lease_deadline(&ctl.lease), server_deadline(&ctl.server));
			n = server_pollfds(&ctl.server, fds);
			now = pz_now_ms();
			if (poll(fds, (nfds_t)n, wake <= now ? 0 : (int)(wake - now > 60000 ? 60000 : wake - now)) < 0 &&
			    errno != EINTR)
				sleep(1);
			server_step(&ctl.server, pz_now_ms());
			continue;
		}

		/* Watches: orders first; pods only once the orders are known, so every Pod finds its order. */
		if (ctl.orders.state == WATCH_IDLE && now >= ctl.orders.wake_ms)
			step_watch(&ctl.orders, &ctl.oversized_logged_o, now);
		if (ctl.orders.synced && ctl.pods.state == WATCH_IDLE && now >= ctl.pods.wake_ms)
			step_watch(&ctl.pods, &ctl.oversized_logged_p, pz_now_ms());

		now = pz_now_ms();
		for (; ran < LOOP_RECONCILES_PER_TURN; ran++) {
			int i = table_pop_due(&ctl.table, now);
			if (i < 0)
				break;
			reconcile_run(&ctl.rec, i, now);
			now = pz_now_ms();
		}

		wake = min64(table_next_due(&ctl.table), server_deadline(&ctl.server));
		if (ctl.leader_elect)
			wake = min64(wake, lease_deadline(&ctl.lease));
		wake = min64(wake, watch_deadline(&ctl.orders));
		if (ctl.orders.synced)
			wake = min64(wake, watch_deadline(&ctl.pods));
		if ((io = watch_fd(&ctl.orders)) >= 0) {
			fds[n].fd = io;
			fds[n].events = POLLIN;
			io = n++;
		}
		if ((ip = watch_fd(&ctl.pods)) >= 0) {
			fds[n].fd = ip;
			fds[n].events = POLLIN;
			ip = n++;
		}
		n += server_pollfds(&ctl.server, fds + n);
		timeout = wake <= now ? 0 : (wake - now > 60000 ? 60000 : (int)(wake - now));
		if (watch_ready(&ctl.orders) || watch_ready(&ctl.pods) || ran == LOOP_RECONCILES_PER_TURN)
			timeout = 0;
		for (int k = 0; k < n; k++)
			fds[k].revents = 0;
		if (poll(fds, (nfds_t)n, timeout) < 0 && errno != EINTR) {
			log_line(LOG_ERROR, "msg=\"poll failed\" error=\"%s\"", pz_strerror(-errno));
			sleep(1);
			continue;
		}
		now = pz_now_ms();
		if (ctl.orders.state == WATCH_STREAM &&
		    ((io >= 0 && fds[io].revents) || watch_ready(&ctl.orders) || now >= watch_deadline(&ctl.orders)))
			step_watch(&ctl.orders, &ctl.oversized_logged_o, now);
		if (ctl.pods.state == WATCH_STREAM &&
		    ((ip >= 0 && fds[ip].revents) || watch_ready(&ctl.pods) || now >= watch_deadline(&ctl.pods)))
			step_watch(&ctl.pods, &ctl.oversized_logged_p, now);
		server_step(&ctl.server, now);
	}
	return 0;
}

/* ---- start-up ---- */

/* Three strings to fd 1 or 2: the only output that is not a log line, without stdio's FILE code. */
static void say(int fd, const char *a, const char *b, const char *c)
{
	const char *parts[3] = { a, b, c };
	for (int k = 0; k < 3; k++)
		for (size_t off = 0, n = strlen(parts[k]); off < n;) {
			ssize_t w = write(fd, parts[k] + off, n - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			off += (size_t)w;
		}
}

enum flag_kind { FLAG_TEXT, FLAG_COUNT, FLAG_DURATION, FLAG_LEVEL };

struct flag {
	const char *name;        /* without the leading -- */
	enum flag_kind kind;
	void *dst;               /* const char * for text, int64_t for counts and durations */
	int64_t min, max;
};

int main(int argc, char **argv)
{
	struct config_source src = { NULL, NULL, CONFIG_SA_DIR };
	struct lease_config lcfg = { NULL, "pizza-controller.pizzeria.example.com", 15000, 10000, 2000 };
	char identity[LEASE_IDENTITY_MAX], lease_ns[TABLE_NAME_MAX];
	const char *ns = NULL, *metrics = ":8080";
	int64_t max_orders = 10000, max_obj = 65536, bake = 10;
	char origin[KUBE_PATH_MAX + 64], err[512], path[300], sel[160];
	struct sigaction sa;
	uint64_t seed = 0;
	size_t buf_bytes, ntok;
	unsigned char *bufs;
	int rc;

	ctl.rcfg.resync_ms = 5 * 60000;
	ctl.rcfg.backoff_base_ms = 1000;
	ctl.rcfg.backoff_max_ms = 60000;
	ctl.rcfg.oven.image = "busybox:1.36";
	ctl.rcfg.oven.command = "echo \"baking a $PIZZA_SIZE pizza with ${PIZZA_TOPPINGS:-no toppings}\"; "
		"sleep \"$BAKE_SECONDS\"; echo done";
	/* Every flag that takes a value; durations and counts carry their accepted range. */
	const struct flag flags[] = {
		{ "kubeconfig", FLAG_TEXT, &src.kubeconfig, 0, 0 },
		{ "context", FLAG_TEXT, &src.context, 0, 0 },
		{ "namespace", FLAG_TEXT, &ns, 0, 0 },
		{ "service-account-dir", FLAG_TEXT, &src.sa_dir, 0, 0 },
		{ "metrics-bind-address", FLAG_TEXT, &metrics, 0, 0 },
		{ "oven-image", FLAG_TEXT, &ctl.rcfg.oven.image, 0, 0 },
		{ "oven-command", FLAG_TEXT, &ctl.rcfg.oven.command, 0, 0 },
		{ "log-level", FLAG_LEVEL, NULL, 0, 0 },
		{ "max-orders", FLAG_COUNT, &max_orders, 1, 1 << 26 },
		{ "max-object-bytes", FLAG_COUNT, &max_obj, 4096, 16 << 20 },
		{ "bake-seconds", FLAG_COUNT, &bake, 0, 86400 },
		{ "resync-period", FLAG_DURATION, &ctl.rcfg.resync_ms, 1000, INT64_MAX },
		{ "requeue-failed-base", FLAG_DURATION, &ctl.rcfg.backoff_base_ms, 1, INT64_MAX },
		{ "requeue-failed-max", FLAG_DURATION, &ctl.rcfg.backoff_max_ms, 1, INT64_MAX },
		{ "leader-elect-namespace", FLAG_TEXT, &lcfg.namespace, 0, 0 },
		{ "leader-elect-id", FLAG_TEXT, &lcfg.name, 0, 0 },
		{ "leader-elect-lease-duration", FLAG_DURATION, &lcfg.duration_ms, 1000, INT64_MAX },
		{ "leader-elect-renew-deadline", FLAG_DURATION, &lcfg.renew_deadline_ms, 500, INT64_MAX },
		{ "leader-elect-retry-period", FLAG_DURATION, &lcfg.retry_ms, 100, INT64_MAX },
	};

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		char name[64];
		const char *eq = strchr(a, '=');
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			say(1, usage, "", "");
			return 0;
		}
		if (strcmp(a, "--version") == 0) {
			say(1, "pizza-controller " PZ_VERSION " (BearSSL 0.6, jsmn 1.1.0, musl)\n", "", "");
			return 0;
		}
		if (strncmp(a, "--", 2) != 0 || strlen(a) >= sizeof name)
			goto bad_flag;
		if (strcmp(a, "--leader-elect") == 0 || strcmp(a, "--leader-elect=true") == 0) {
			ctl.leader_elect = 1; /* a switch: takes no value, like controller-runtime's */
			continue;
		}
		if (strcmp(a, "--leader-elect=false") == 0) {
			ctl.leader_elect = 0;
			continue;
		}
		if (eq) {
			memcpy(name, a, (size_t)(eq - a));
			name[eq - a] = 0;
			v = eq + 1;
		} else {
			strcpy(name, a);
			if (i + 1 >= argc)
				goto bad_flag;
			v = argv[++i];
		}
		const struct flag *fl = NULL;
		for (size_t k = 0; k < PZ_ARRAY_LEN(flags); k++)
			if (strcmp(name + 2, flags[k].name) == 0)
				fl = &flags[k];
		if (!fl)
			goto bad_flag;
		if (fl->kind == FLAG_TEXT) {
			*(const char **)fl->dst = v;
		} else if (fl->kind == FLAG_LEVEL) {
			static const char *const levels[] = { "debug", "info", "warn", "error" };
			size_t k = 0;
			while (k < PZ_ARRAY_LEN(levels) && strcmp(v, levels[k]) != 0)
				k++;
			if (k == PZ_ARRAY_LEN(levels))
				goto bad_value;
			log_min_level = (enum log_level)k;
		} else {
			int64_t x = 0;
			long c = 0;
			if (fl->kind == FLAG_DURATION ? parse_duration(v, &x) < 0 : parse_count(v, fl->min, fl->max, &c) < 0)
				goto bad_value;
			if (fl->kind == FLAG_COUNT)
				x = c;
			if (x < fl->min || x > fl->max)
				goto bad_value;
			*(int64_t *)fl->dst = x;
		}
		continue;
	bad_value:
		say(2, "pizza-controller: invalid value for ", name, " (see --help)\n");
		return 2;
	bad_flag:
		say(2, "pizza-controller: unknown flag or missing value: ", a, " (see --help)\n");
		return 2;
	}
	for (int s = SIZE_SMALL; s <= SIZE_LARGE; s++)
		ctl.rcfg.oven.bake_seconds[s] = (int)bake * s;

	if (getrandom(&seed, sizeof seed, 0) != sizeof seed)
		seed = (uint64_t)pz_now_ms() ^ (uint64_t)getpid() << 32;
	pz_rand_seed(seed);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns and the loop ends */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = config_load(&ctl.api, &src, origin, sizeof origin, err, sizeof err);
	if (rc < 0) {
		for (char *q = err; *q; q++)
			if (*q == '"')
				*q = '\''; /* keep the logfmt value one quoted string */
		log_line(LOG_ERROR, "msg=\"configuration failed\" error=\"%s\"", err);
		return 1;
	}

	/* Every buffer, once: the table and three object buffers (two watches, one for calls) with one
	 * shared token pool. A token needs at least 2 bytes of JSON; objects average ~12 bytes per token,
	 * so max_obj/8 tokens cover any real object. All of it is mmap'd: resident only when touched. */
	ntok = (size_t)max_obj / 8;
	buf_bytes = 3 * (size_t)max_obj + ntok * sizeof(jsmntok_t);
	bufs = mmap(NULL, buf_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (bufs == MAP_FAILED || table_init(&ctl.table, (uint32_t)max_orders, pz_rand()) < 0) {
		log_line(LOG_ERROR, "msg=\"cannot reserve memory\" max_orders=%ld max_object_bytes=%ld", max_orders, max_obj);
		return 1;
	}
	ctl.sync.table = &ctl.table;
	ctl.sync.orders = &ctl.orders;
	jsmntok_t *tok = (jsmntok_t *)(void *)(bufs + 3 * (size_t)max_obj);

	if (ns)
		snprintf(path, sizeof path, "/apis/" ORDER_API_VERSION "/namespaces/%s/pizzaorders", ns);
	else
		snprintf(path, sizeof path, "/apis/" ORDER_API_VERSION "/pizzaorders");
	watch_init(&ctl.orders, "pizzaorders", path, NULL, (char *)bufs, (size_t)max_obj, tok, (unsigned)ntok,
		&sync_order_handler, &ctl.sync);
	if (ns)
		snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods", ns);
	else
		snprintf(path, sizeof path, "/api/v1/pods");
	kube_query_escape(sel, sizeof sel, ORDER_LABEL_MANAGED "=" ORDER_MANAGER);
	watch_init(&ctl.pods, "pods", path, sel, (char *)bufs + max_obj, (size_t)max_obj, tok, (unsigned)ntok,
		&sync_pod_handler, &ctl.sync);
	reconciler_init(&ctl.rec, &ctl.api, &ctl.table, &ctl.rcfg, (char *)bufs + 2 * max_obj, (size_t)max_obj,
		tok, (unsigned)ntok);

	if (ctl.leader_elect) {
		char host[64] = "pizza-controller";
		if (lcfg.renew_deadline_ms >= lcfg.duration_ms || lcfg.retry_ms >= lcfg.renew_deadline_ms) {
			log_line(LOG_ERROR, "msg=\"leader election needs retry-period < renew-deadline < lease-duration\"");
			return 2;
		}
		if (!lcfg.namespace) {
			/* the namespace we run in, as controller-runtime does; outside a cluster, ours */
			char f[300];
			int fd, k = 0;
			snprintf(f, sizeof f, "%s/namespace", src.sa_dir);
			fd = open(f, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				k = (int)read(fd, lease_ns, sizeof lease_ns - 1);
				close(fd);
			}
			while (k > 0 && (lease_ns[k - 1] == '\n' || lease_ns[k - 1] == ' '))
				k--;
			lease_ns[k > 0 ? k : 0] = 0;
			lcfg.namespace = k > 0 ? lease_ns : "pizza-system";
		}
		gethostname(host, sizeof host - 1); /* the Pod's name in a cluster */
		snprintf(identity, sizeof identity, "%s_%08x", host, (unsigned)pz_rand());
		lease_init(&ctl.lease, &lcfg, identity);
	}

	rc = server_open(&ctl.server, metrics, serve, NULL);
	if (rc < 0) {
		log_line(LOG_ERROR, "msg=\"cannot serve probes and metrics\" address=%s error=\"%s\"", metrics,
			pz_strerror(rc));
		return 1;
	}
	ctl.reserved_bytes = table_bytes((uint32_t)max_orders) + buf_bytes + sizeof ctl;
	log_line(LOG_INFO, "msg=started version=%s config=\"%s\" server=%s://%s:%s%s tls_name=%s namespace=%s "
		"max_orders=%ld table_bytes=%zu bytes_per_order=%zu buffer_bytes=%zu static_bytes=%zu "
		"reserved_bytes=%zu metrics=%s",
		PZ_VERSION, origin, ctl.api.target.use_tls ? "https" : "http", ctl.api.target.host,
		ctl.api.target.port, ctl.api.prefix,
		ctl.api.target.name.is_ip ? "(ip-san)" : ctl.api.target.name.dns, ns ? ns : "(all)", max_orders,
		table_bytes((uint32_t)max_orders), table_bytes((uint32_t)max_orders) / (size_t)max_orders, buf_bytes,
		sizeof ctl, ctl.reserved_bytes, server_port(&ctl.server) >= 0 ? metrics : "off");

	if (ctl.leader_elect)
		log_line(LOG_INFO, "msg=\"waiting for leadership\" lease=%s/%s identity=%s", lcfg.namespace, lcfg.name,
			identity);
	rc = run_loop();
	if (ctl.leader_elect)
		lease_release(&ctl.lease, &ctl.api, &ctl.rec.link, ctl.rec.resp, ctl.rec.resp_cap);
	log_line(LOG_INFO, "msg=stopping signal=%d reconciles=%llu", (int)stop_signal, (unsigned long long)ctl.rec.runs);
	return rc;
}
