/*
 * main.c - flags, start-up (every buffer reserved here), the event loop and the probes.
 *
 * The loop never blocks on the API server: the two watches, the Lease and every reconcile worker
 * are state machines over non-blocking links, each answering "which fd, which events, by when".
 * One turn: the Lease first (so a renewal is never late because of other work), then due watch
 * starts and due reconciles (onto free workers), then one ppoll() over every fd with the nearest
 * deadline as its timeout, then a step of each part that is ready, due, or holds buffered bytes.
 * A step does what its socket allows and returns; the watch reader yields after WATCH_STEP_BYTES.
 * So probes are answered, and the Lease renewed, within one turn whatever the API server does.
 */
#include "fmt.h"
#include "config.h"
#include "events.h"
#include "flags.h"
#include "lease.h"
#include "log.h"
#include "metrics.h"
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

/* On SIGTERM, the Lease release may take this long; then we exit whatever happened (the grace
 * period is 10 s by default; the bound is 2 s to exit). */
#define LOOP_RELEASE_MS 1000
#ifndef PZ_REVISION
#define PZ_REVISION "unknown"
#endif

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
"  --max-concurrent-reconciles N  reconciles in flight at once, each on its own connection (default 4)\n"
"  --resync-period D           requeue after a successful reconcile (default 5m)\n"
"  --requeue-failed-base D     first retry after a failed reconcile, doubled each time (default 1s)\n"
"  --requeue-failed-max D      cap of that backoff (default 1m)\n"
"  --max-object-bytes N        largest order or Pod JSON accepted (default 65536)\n"
"  --watch-timeout D           each watch lasts [D, 2D) on the server, as client-go (default 5m)\n"
"Ovens:\n"
"  --oven-image IMAGE          image of oven Pods (default busybox:1.36)\n"
"  --oven-command CMD          shell command of the oven (default prints and sleeps BAKE_SECONDS)\n"
"  --bake-seconds N            bake time of a small pizza; medium x2, large x3 (default 10)\n"
"Operations:\n"
"  --metrics-bind-address A    /metrics (default :8080; 0 disables)\n"
"  --health-probe-bind-address A  /healthz, /livez, /readyz (default :8081; 0: served with /metrics)\n"
"  --leader-elect              act only while holding a Lease, so replicas can stand by\n"
"  --record-events=false       do not record Kubernetes Events on orders (default: recorded)\n"
"  --leader-elect-namespace NS Lease namespace (default: the service account's, else pizza-system)\n"
"  --leader-elect-id NAME      Lease name (default pizza-controller.pizzeria.example.com)\n"
"  --leader-elect-lease-duration D, --leader-elect-renew-deadline D, --leader-elect-retry-period D\n"
"                              (defaults 15s, 10s, 2s, as controller-runtime)\n"
"  --log-level L               debug, info, warn or error (default info)\n"
"  --log-format F              logfmt or json (controller-runtime's keys) (default logfmt)\n"
"  --version, --help\n"
"Durations as Go writes them: 300ms, 1.5s, 1m30s, 1h. Flags take one dash or two.\n";

struct controller {
	struct kube_api api;
	struct table table;
	struct watch orders, pods;
	struct reconciler rec;
	struct reconcile_config rcfg;
	struct server server;    /* --metrics-bind-address */
	struct server probes;    /* --health-probe-bind-address, when it is its own port */
	int probes_separate;
	int fatal;               /* a start-up condition no retry can fix: run_loop returns 1 */
	int64_t last_turn_ms;
	struct sync sync;
	struct lease lease;
	struct events events;
	int record_events;       /* --record-events (default true) */
	int leader_elect;        /* --leader-elect: act only while holding the Lease */
	uint64_t oversized_logged_o, oversized_logged_p;
	size_t reserved_bytes;
};

static struct controller ctl;
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

/* ---- flags ---- */

static int parse_count(const char *s, long min, long max, long *out)
{
	char *end;
	long v = pz_parse_long(s, &end);
	if (end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* ---- probes and metrics ---- */

static int serve(void *arg, const char *path, char *body, size_t cap, size_t *len)
{
	int n, m;
	(void)arg;
	if (strcmp(path, "/healthz") == 0 || strcmp(path, "/livez") == 0) {
		/* Alive means making progress. A watch that is connected but has heard nothing (not a
		 * byte, event or bookmark) for longer than the server's own watch timeout, while the
		 * server answers other calls meanwhile, is wedged in a way a restart may cure. A server
		 * that is down fails every call, and restarting us would not help: still ok. */
		int64_t now = pz_now_ms();
		struct watch *ws[2] = { &ctl.orders, &ctl.pods };
		for (int k = 0; k < 2; k++) {
			struct watch *w = ws[k];
			int64_t silent = now - w->last_data_ms;
			if (w->state == WATCH_STREAM && silent > (int64_t)w->timeout_s * 1000 &&
			    ctl.api.last_answer_ms > w->last_data_ms + (int64_t)w->timeout_s * 1000) {
				*len = (size_t)pz_snprintf(body, cap, "watch %s connected but silent for %lld s while the API "
					"server answers other calls\n", w->resource, (long long)(silent / 1000));
				return 500;
			}
		}
		*len = (size_t)pz_snprintf(body, cap, "ok\n");
		return 200;
	}
	if (strcmp(path, "/readyz") == 0) {
		int standby = ctl.leader_elect && ctl.lease.state != LEASE_LEADER;
		int ready = standby || (ctl.orders.synced && ctl.pods.synced);
		*len = (size_t)pz_snprintf(body, cap, standby ? "standby (not the leader)\n" :
			ready ? "ok\n" : "waiting for the initial list\n");
		return ready ? 200 : 503;
	}
	if (strcmp(path, "/metrics") != 0)
		return 404;
	/* controller-runtime's and client-go's metrics first, then ours */
	metrics_queue_depth(table_count_due(&ctl.table, pz_now_ms()));
	metrics_set_leader(!ctl.leader_elect || ctl.lease.state == LEASE_LEADER);
	m = metrics_render(body, cap, pz_now_us());
	if (m < 0)
		return PZ_ETOOBIG; /* the server calls again with its page buffer */
	body += m;
	cap -= (size_t)m;
	n = pz_snprintf(body, cap,
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

		"# HELP pizza_events_total Kubernetes Events written, by outcome.\n# TYPE pizza_events_total counter\n"
		"pizza_events_total{result=\"created\"} %llu\npizza_events_total{result=\"aggregated\"} %llu\n"
		"pizza_events_total{result=\"rate_limited\"} %llu\npizza_events_total{result=\"queue_full\"} %llu\n"
		"pizza_events_total{result=\"failed\"} %llu\n"
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
		(unsigned long long)ctl.events.created, (unsigned long long)ctl.events.patched,
		(unsigned long long)ctl.events.dropped_rate, (unsigned long long)ctl.events.dropped_full,
		(unsigned long long)ctl.events.failed, !ctl.leader_elect || ctl.lease.state == LEASE_LEADER);
	if (n < 0 || (size_t)n >= cap)
		return PZ_ETOOBIG;
	*len = (size_t)m + (size_t)n;
	return 200;
}

/* ---- the loop ---- */

/* A TLS failure's cause (certificate expired, no serverAuth, ...) on the line that reports the
 * failed call, once: the code survives the connection's close until read here. */
static void log_tls_cause(struct kube_link *l)
{
	if (l->conn.tls_error) {
		log_int("tls", l->conn.tls_error);
		log_str("tls_error", tls_strerror(l->conn.tls_error));
		l->conn.tls_error = 0;
	}
}

static void log_watch_failure(struct watch *w, int rc)
{
	int proxy_refused = w->link.conn.proxy_status && w->link.conn.proxy_status != 200;
	if (proxy_refused && !w->synced) {
		/* A proxy that refuses the tunnel before anything was ever listed is configuration
		 * (proxy-url, HTTPS_PROXY, NO_PROXY, credentials), not weather: stop with it. */
		log_begin(LOG_ERROR, "the proxy refused to CONNECT to the API server");
		log_str("proxy", ctl.api.target.proxy.host);
		log_str("proxy_port", ctl.api.target.proxy.port);
		log_int("proxy_status", w->link.conn.proxy_status);
		log_str("hint", "check proxy-url / HTTPS_PROXY / NO_PROXY and the proxy's access rules");
		log_end();
		ctl.fatal = 1;
		return;
	}
	log_begin(rc == PZ_EGONE ? LOG_INFO : proxy_refused ? LOG_ERROR : LOG_WARN, "watch restarted");
	log_str("resource", w->resource);
	log_err(rc);
	log_int("http", w->last_status);
	log_tls_cause(&w->link);
	log_str("detail", w->detail);
	if (w->link.conn.proxy_status && w->link.conn.proxy_status != 200) {
		log_str("proxy", ctl.api.target.proxy.host);
		log_int("proxy_status", w->link.conn.proxy_status);
		log_str("hint", "the proxy refused to CONNECT to the API server");
	}
	if (config_refresh_error()[0])
		log_str("credentials", config_refresh_error());
	log_int("retry_in_ms", w->wake_ms - pz_now_ms());
	log_end();
	w->link.conn.proxy_status = 0;
}

static void step_watch(struct watch *w, uint64_t *oversized_logged, int64_t now)
{
	int rc = watch_step(w, &ctl.api, now);
	if (rc < 0)
		log_watch_failure(w, rc);
	if (w->oversized != *oversized_logged) {
		*oversized_logged = w->oversized;
		log_begin(LOG_ERROR, "object skipped");
		log_str("resource", w->resource);
		log_str("detail", w->detail);
		log_int("skipped_total", (long long)w->oversized);
		log_end();
	}
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* The write gate reconcile asks before every POST, DELETE and PATCH. */
static int may_write(void *arg, int64_t now)
{
	(void)arg;
	return !ctl.leader_elect || lease_may_write(&ctl.lease, now);
}

/* Leader election, when on. Returns 1 while this process may act, 0 while standing by, -1 once
 * leadership is lost (the process must stop: another replica may already be reconciling). */
static int lead(int64_t now)
{
	int rc;
	if (!ctl.leader_elect)
		return 1;
	rc = lease_step(&ctl.lease, &ctl.api, now);
	if (rc < 0 && ctl.lease.state == LEASE_LEADER) {
		log_begin(LOG_WARN, "lease renewal failed");
		log_str("lease", ctl.lease.cfg.name);
		log_err(rc);
		log_int("http", ctl.lease.last_status);
		log_tls_cause(&ctl.lease.link);
		log_int("renew_deadline_in_ms", ctl.lease.renewed_ms + ctl.lease.cfg.renew_deadline_ms - now);
		log_end();
	} else if (rc < 0 && rc != PZ_ECONFLICT) {
		log_begin(LOG_WARN, "lease not acquired");
		log_str("lease", ctl.lease.cfg.name);
		log_err(rc);
		log_int("http", ctl.lease.last_status);
		log_tls_cause(&ctl.lease.link);
		log_end();
	}
	if (rc == 1 && ctl.lease.state == LEASE_LEADER) {
		log_begin(LOG_INFO, "became leader");
		log_str("lease", ctl.lease.cfg.name);
		log_str("identity", ctl.lease.identity);
		log_end();
	}
	if (ctl.lease.state == LEASE_LOST) {
		/* Abandon every call in flight before anything else: no write after this instant. */
		int64_t in_flight = ctl.rec.active;
		reconcile_abandon_all(&ctl.rec, now);
		log_begin(LOG_ERROR, "leader election lost");
		log_str("lease", ctl.lease.cfg.name);
		log_str("holder", ctl.lease.holder[0] ? ctl.lease.holder : "(unknown)");
		log_int("last_renewal_ms_ago", now - ctl.lease.renewed_ms);
		log_int("renew_deadline_ms", ctl.lease.cfg.renew_deadline_ms);
		log_int("abandoned_reconciles", in_flight);
		log_int("writes_refused", (long long)ctl.rec.writes_refused);
		log_str("hint", "stopped writing at the renew deadline; stopping, the deployment restarts us as a standby");
		log_end();
		return -1;
	}
	return ctl.lease.state == LEASE_LEADER;
}

/* Who owns each pollfd entry, so a turn steps only what is ready. */
enum { OWNER_ORDERS = -1, OWNER_PODS = -2, OWNER_LEASE = -3, OWNER_SERVER = -4, OWNER_EVENTS = -5 };
#define LOOP_FDS_MAX (4 + RECONCILE_WORKERS_MAX + 2 * SERVER_POLLFDS_MAX)

static int add_fd(struct pollfd *fds, int *owner, int n, int fd, short events, int who)
{
	if (fd < 0 || events == 0)
		return n;
	fds[n].fd = fd;
	fds[n].events = events;
	fds[n].revents = 0;
	owner[n] = who;
	return n + 1;
}

static int run_loop(const sigset_t *wait_mask)
{
	static struct pollfd fds[LOOP_FDS_MAX];
	static int owner[LOOP_FDS_MAX];
	static uint8_t ready[RECONCILE_WORKERS_MAX];

	while (!stop_signal) {
		int64_t now = pz_now_ms(), wake = INT64_MAX;
		int n = 0, acting = lead(now), k, ready_o = 0, ready_p = 0, ready_l = 0, ready_e = 0, busy = 0;
		int srv_at = 0, srv_n = 0, prb_at = 0, prb_n = 0;
		struct timespec ts;

		if (acting < 0 || ctl.fatal)
			return 1;
		ctl.last_turn_ms = now;
		if (acting) {
			/* Watches: orders first; pods only once the orders are known, so every Pod finds
			 * its order. Each step does what is due or ready and returns. */
			if (ctl.orders.state == WATCH_IDLE && now >= ctl.orders.wake_ms)
				step_watch(&ctl.orders, &ctl.oversized_logged_o, now);
			if (ctl.orders.synced && ctl.pods.state == WATCH_IDLE && now >= ctl.pods.wake_ms)
				step_watch(&ctl.pods, &ctl.oversized_logged_p, now);
			/* Reconciles start once both caches are synced (controller-runtime's
			 * WaitForCacheSync): a Pod not yet listed would look missing. */
			if (ctl.orders.synced && ctl.pods.synced) {
				while (reconcile_has_free(&ctl.rec)) {
					int i = table_pop_due(&ctl.table, now);
					if (i < 0)
						break;
					reconcile_start(&ctl.rec, i, now);
				}
				if (reconcile_has_free(&ctl.rec))
					wake = min64(wake, table_next_due(&ctl.table));
			}
			wake = min64(wake, watch_deadline(&ctl.orders));
			n = add_fd(fds, owner, n, watch_fd(&ctl.orders), watch_events(&ctl.orders), OWNER_ORDERS);
			if (ctl.orders.synced) {
				wake = min64(wake, watch_deadline(&ctl.pods));
				n = add_fd(fds, owner, n, watch_fd(&ctl.pods), watch_events(&ctl.pods), OWNER_PODS);
			}
			busy = watch_ready(&ctl.orders) || watch_ready(&ctl.pods);
			for (k = 0; k < (int)ctl.rec.nworkers; k++) {
				struct reconcile_worker *w = &ctl.rec.w[k];
				if (w->step == STEP_FREE)
					continue;
				if (w->link.state == LINK_IDLE || kube_link_pending(&w->link))
					busy = 1; /* waiting for the shared buffer, or bytes poll cannot see */
				wake = min64(wake, kube_link_deadline(&w->link));
				n = add_fd(fds, owner, n, kube_link_fd(&w->link), kube_link_events(&w->link), k);
			}
			if (ctl.record_events) {
				events_step(&ctl.events, now); /* starts the next queued write */
				busy |= events_pending(&ctl.events);
				wake = min64(wake, events_deadline(&ctl.events));
				n = add_fd(fds, owner, n, events_fd(&ctl.events), events_events(&ctl.events), OWNER_EVENTS);
			}
		}
		if (ctl.leader_elect) {
			wake = min64(wake, lease_deadline(&ctl.lease));
			n = add_fd(fds, owner, n, lease_fd(&ctl.lease), lease_events(&ctl.lease), OWNER_LEASE);
			busy |= kube_link_pending(&ctl.lease.link);
		}
		{
			int m = server_pollfds(&ctl.server, fds + n);
			for (int j = 0; j < m; j++)
				owner[n + j] = OWNER_SERVER;
			srv_at = n;
			srv_n = m;
			n += m;
			wake = min64(wake, server_deadline(&ctl.server));
			if (ctl.probes_separate) {
				m = server_pollfds(&ctl.probes, fds + n);
				for (int j = 0; j < m; j++)
					owner[n + j] = OWNER_SERVER;
				prb_at = n;
				prb_n = m;
				n += m;
				wake = min64(wake, server_deadline(&ctl.probes));
			}
		}
		now = pz_now_ms();
		if (busy || wake <= now) {
			ts.tv_sec = 0;
			ts.tv_nsec = 0;
		} else {
			int64_t ms = wake - now > 60000 ? 60000 : wake - now;
			ts.tv_sec = ms / 1000;
			ts.tv_nsec = (ms % 1000) * 1000000;
		}
		/* ppoll with the stop signals unblocked only while waiting: a SIGTERM that arrives
		 * between the check above and the wait still ends the wait at once. */
		if (ppoll(fds, (nfds_t)n, &ts, wait_mask) < 0 && errno != EINTR) {
			log_begin(LOG_ERROR, "poll failed");
			log_err(-errno);
			log_end();
			sleep(1);
			continue;
		}
		if (stop_signal)
			break;
		memset(ready, 0, ctl.rec.nworkers);
		for (k = 0; k < n; k++) {
			if (!fds[k].revents)
				continue;
			if (owner[k] >= 0)
				ready[owner[k]] = 1;
			else if (owner[k] == OWNER_ORDERS)
				ready_o = 1;
			else if (owner[k] == OWNER_PODS)
				ready_p = 1;
			else if (owner[k] == OWNER_LEASE)
				ready_l = 1;
			else if (owner[k] == OWNER_EVENTS)
				ready_e = 1;
		}
		now = pz_now_ms();
		(void)ready_l; /* the lease is stepped at the top of every turn */
		if (acting) {
			if (ctl.orders.state != WATCH_IDLE &&
			    (ready_o || watch_ready(&ctl.orders) || now >= watch_deadline(&ctl.orders)))
				step_watch(&ctl.orders, &ctl.oversized_logged_o, now);
			if (ctl.pods.state != WATCH_IDLE &&
			    (ready_p || watch_ready(&ctl.pods) || now >= watch_deadline(&ctl.pods)))
				step_watch(&ctl.pods, &ctl.oversized_logged_p, now);
			for (k = 0; k < (int)ctl.rec.nworkers; k++) {
				struct reconcile_worker *w = &ctl.rec.w[k];
				if (w->step == STEP_FREE)
					continue;
				if (ready[k] || w->link.state == LINK_IDLE || kube_link_pending(&w->link) ||
				    now >= kube_link_deadline(&w->link))
					reconcile_step(&ctl.rec, (unsigned)k, now);
			}
			if (ctl.record_events && (ready_e || now >= events_deadline(&ctl.events)))
				events_step(&ctl.events, now);
		}
		server_step(&ctl.server, fds + srv_at, srv_n, now);
		if (ctl.probes_separate)
			server_step(&ctl.probes, fds + prb_at, prb_n, now);
	}
	return 0;
}

/* On SIGTERM: abandon the calls in flight, give the Lease up (bounded by LOOP_RELEASE_MS), exit.
 * A standby takes over at once instead of after the lease duration. */
static void shut_down(void)
{
	int64_t now = pz_now_ms(), give_up = now + LOOP_RELEASE_MS;
	reconcile_abandon_all(&ctl.rec, now);
	kube_link_close(&ctl.events.link);
	kube_link_close(&ctl.orders.link);
	kube_link_close(&ctl.pods.link);
	if (!ctl.leader_elect || ctl.lease.state != LEASE_LEADER)
		return;
	lease_release_start(&ctl.lease, &ctl.api, now);
	while (lease_releasing(&ctl.lease) && (now = pz_now_ms()) < give_up) {
		struct pollfd p = { .fd = lease_fd(&ctl.lease), .events = lease_events(&ctl.lease) };
		int64_t left = min64(give_up, lease_deadline(&ctl.lease)) - now;
		if (p.fd >= 0 && !kube_link_pending(&ctl.lease.link))
			poll(&p, 1, left > 0 ? (int)left : 0);
		lease_step(&ctl.lease, &ctl.api, pz_now_ms());
	}
	log_begin(lease_releasing(&ctl.lease) ? LOG_WARN : LOG_INFO,
		lease_releasing(&ctl.lease) ? "lease not released in time" : "lease released");
	log_str("lease", ctl.lease.cfg.name);
	log_end();
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

enum flag_kind { FLAG_TEXT, FLAG_COUNT, FLAG_DURATION, FLAG_LEVEL, FLAG_FORMAT };

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
	const char *ns = NULL, *metrics = ":8080", *probes = ":8081";
	int64_t workers = RECONCILE_WORKERS_DEFAULT, watch_timeout = WATCH_TIMEOUT_MIN_S * 1000;
	sigset_t stop_mask, wait_mask;
	struct reconcile_worker *pool;
	size_t pool_bytes;
	int64_t max_orders = 10000, max_obj = 65536, bake = 10;
	char origin[KUBE_PATH_MAX + 64], origin_server[600], err[512], path[300], sel[160];
	struct sigaction sa;
	uint64_t seed = 0;
	size_t buf_bytes, ntok;
	unsigned char *bufs;
	int rc;

	ctl.record_events = 1;
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
		{ "log-format", FLAG_FORMAT, NULL, 0, 0 },
		{ "health-probe-bind-address", FLAG_TEXT, &probes, 0, 0 },
		{ "max-concurrent-reconciles", FLAG_COUNT, &workers, 1, RECONCILE_WORKERS_MAX },
		{ "watch-timeout", FLAG_DURATION, &watch_timeout, 1000, 3600000 },
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
		const char *a = argv[i], *v = NULL, *fname = flags_name(argv[i]);
		char name[64];
		const char *eq;
		if (!fname || strlen(fname) >= sizeof name - 2)
			goto bad_flag;
		eq = strchr(fname, '=');
		if (strcmp(fname, "help") == 0 || strcmp(fname, "h") == 0) {
			say(1, usage, "", "");
			return 0;
		}
		if (strcmp(fname, "version") == 0) {
			say(1, "pizza-controller " PZ_VERSION " (BearSSL 0.6, jsmn 1.1.0, musl)\n", "", "");
			return 0;
		}
		if (strcmp(fname, "leader-elect") == 0 || strcmp(fname, "leader-elect=true") == 0) {
			ctl.leader_elect = 1; /* a switch: takes no value, like controller-runtime's */
			continue;
		}
		if (strcmp(fname, "leader-elect=false") == 0) {
			ctl.leader_elect = 0;
			continue;
		}
		if (strcmp(fname, "record-events") == 0 || strcmp(fname, "record-events=true") == 0 ||
		    strcmp(fname, "record-events=false") == 0) {
			ctl.record_events = strcmp(fname, "record-events=false") != 0;
			continue;
		}
		/* name keeps a "--" prefix so messages show the flag as documented */
		name[0] = name[1] = '-';
		if (eq) {
			memcpy(name + 2, fname, (size_t)(eq - fname));
			name[2 + (eq - fname)] = 0;
			v = eq + 1;
		} else {
			strcpy(name + 2, fname);
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
		} else if (fl->kind == FLAG_FORMAT) {
			if (strcmp(v, "json") == 0)
				log_format = LOG_FORMAT_JSON;
			else if (strcmp(v, "logfmt") == 0 || strcmp(v, "text") == 0)
				log_format = LOG_FORMAT_LOGFMT;
			else
				goto bad_value;
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
			if (fl->kind == FLAG_DURATION ? flags_duration(v, &x) < 0 : parse_count(v, fl->min, fl->max, &c) < 0)
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
	sa.sa_handler = on_signal; /* no SA_RESTART: ppoll() returns and the loop ends */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* The stop signals are blocked except inside ppoll (see run_loop). */
	sigemptyset(&stop_mask);
	sigaddset(&stop_mask, SIGTERM);
	sigaddset(&stop_mask, SIGINT);
	sigprocmask(SIG_BLOCK, &stop_mask, &wait_mask);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);

	rc = config_load(&ctl.api, &src, origin, sizeof origin, err, sizeof err);
	if (rc < 0) {
		log_begin(LOG_ERROR, "configuration failed");
		log_str("error", err);
		if (config_uses_exec() && config_exec_stderr()[0])
			log_str("plugin_stderr", config_exec_stderr()); /* tokens already redacted */
		log_end();
		return 1;
	}
	if (config_uses_exec() && config_exec_stderr()[0]) {
		log_begin(LOG_WARN, "credential plugin wrote to stderr");
		log_str("plugin_stderr", config_exec_stderr());
		log_end();
	}

	/* Every buffer, once: the table and three object buffers (two watches, one for calls) with one
	 * shared token pool. A token needs at least 2 bytes of JSON; objects average ~12 bytes per token,
	 * so max_obj/8 tokens cover any real object. All of it is mmap'd: resident only when touched. */
	ntok = (size_t)max_obj / 8;
	buf_bytes = 3 * (size_t)max_obj + ntok * sizeof(jsmntok_t);
	bufs = mmap(NULL, buf_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* The worker pool: one link (TLS engine and buffers) per worker, resident only once used. */
	pool_bytes = (size_t)workers * sizeof *pool;
	pool = mmap(NULL, pool_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (bufs == MAP_FAILED || pool == MAP_FAILED || table_init(&ctl.table, (uint32_t)max_orders, pz_rand()) < 0) {
		log_begin(LOG_ERROR, "cannot reserve memory");
		log_int("max_orders", max_orders);
		log_int("max_object_bytes", max_obj);
		log_int("max_concurrent_reconciles", workers);
		log_end();
		return 1;
	}
	ctl.sync.table = &ctl.table;
	ctl.sync.orders = &ctl.orders;
	jsmntok_t *tok = (jsmntok_t *)(void *)(bufs + 3 * (size_t)max_obj);

	if (ns)
		pz_snprintf(path, sizeof path, "/apis/" ORDER_API_VERSION "/namespaces/%s/pizzaorders", ns);
	else
		pz_snprintf(path, sizeof path, "/apis/" ORDER_API_VERSION "/pizzaorders");
	watch_init(&ctl.orders, "pizzaorders", path, NULL, (char *)bufs, (size_t)max_obj, tok, (unsigned)ntok,
		&sync_order_handler, &ctl.sync);
	if (ns)
		pz_snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods", ns);
	else
		pz_snprintf(path, sizeof path, "/api/v1/pods");
	kube_query_escape(sel, sizeof sel, ORDER_LABEL_MANAGED "=" ORDER_MANAGER);
	watch_init(&ctl.pods, "pods", path, sel, (char *)bufs + max_obj, (size_t)max_obj, tok, (unsigned)ntok,
		&sync_pod_handler, &ctl.sync);
	reconciler_init(&ctl.rec, &ctl.api, &ctl.table, &ctl.rcfg, (char *)bufs + 2 * max_obj, (size_t)max_obj,
		tok, (unsigned)ntok, pool, (unsigned)workers);
	ctl.rec.may_write = may_write;
	if (ctl.record_events) {
		static char host[64] = "pizza-controller";
		gethostname(host, sizeof host - 1); /* the Pod's name in a cluster */
		events_init(&ctl.events, &ctl.api, host);
		ctl.rec.events = &ctl.events;
	}
	/* A list longer than the table can hold, with room for Pods of every order and a margin, is
	 * not a list that will end: bound it. */
	ctl.orders.max_pages = ctl.pods.max_pages = (unsigned)(max_orders / WATCH_PAGE_LIMIT) + 10;
	ctl.orders.timeout_min_s = ctl.pods.timeout_min_s = (int)(watch_timeout / 1000);

	if (ctl.leader_elect) {
		char host[64] = "pizza-controller";
		if (lcfg.renew_deadline_ms >= lcfg.duration_ms || lcfg.retry_ms >= lcfg.renew_deadline_ms) {
			log_begin(LOG_ERROR, "leader election needs retry-period < renew-deadline < lease-duration");
			log_end();
			return 2;
		}
		if (!lcfg.namespace) {
			/* the namespace we run in, as controller-runtime does; outside a cluster, ours */
			char f[300];
			int fd, k = 0;
			pz_snprintf(f, sizeof f, "%s/namespace", src.sa_dir);
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
		pz_snprintf(identity, sizeof identity, "%s_%08x", host, (unsigned)pz_rand());
		lease_init(&ctl.lease, &lcfg, identity);
	}

	rc = server_open(&ctl.server, metrics, serve, NULL);
	if (rc < 0) {
		log_begin(LOG_ERROR, "cannot serve metrics");
		log_str("address", metrics);
		log_err(rc);
		log_end();
		return 1;
	}
	if (strcmp(probes, "0") != 0 && strcmp(probes, metrics) != 0) {
		rc = server_open(&ctl.probes, probes, serve, NULL);
		if (rc < 0) {
			log_begin(LOG_ERROR, "cannot serve probes");
			log_str("address", probes);
			log_err(rc);
			log_end();
			return 1;
		}
		ctl.probes_separate = 1;
	}
	{
		char mhost[300];
		struct metrics_info mi = { "pizzaorder", ctl.leader_elect ? lcfg.name : NULL, mhost, PZ_VERSION,
			PZ_REVISION, (unsigned)workers };
		pz_snprintf(mhost, sizeof mhost, strchr(ctl.api.target.host, ':') ? "[%s]:%s" : "%s:%s", ctl.api.target.host,
			ctl.api.target.port);
		if (metrics_init(&mi) < 0) {
			log_begin(LOG_ERROR, "metrics labels refused");
			log_str("host", mhost);
			log_end();
			return 2;
		}
	}
	ctl.reserved_bytes = table_bytes((uint32_t)max_orders) + buf_bytes + pool_bytes + sizeof ctl;
	config_format_server(&ctl.api, origin_server, sizeof origin_server);
	log_begin(LOG_INFO, "started");
	log_str("version", PZ_VERSION);
	log_str("config", origin);
	log_str("server", origin_server);
	log_str("tls_name", ctl.api.target.name.is_ip ? "(ip-san)" : ctl.api.target.name.dns);
	if (ctl.api.target.proxy.set) {
		char px[300];
		pz_snprintf(px, sizeof px, strchr(ctl.api.target.proxy.host, ':') ? "http://[%s]:%s" : "http://%s:%s",
			ctl.api.target.proxy.host, ctl.api.target.proxy.port);
		log_str("proxy", px);
	}
	log_str("namespace", ns ? ns : "(all)");
	log_int("max_orders", max_orders);
	log_int("max_concurrent_reconciles", workers);
	log_int("table_bytes", (long long)table_bytes((uint32_t)max_orders));
	log_int("bytes_per_order", (long long)(table_bytes((uint32_t)max_orders) / (size_t)max_orders));
	log_int("buffer_bytes", (long long)buf_bytes);
	log_int("worker_pool_bytes", (long long)pool_bytes);
	log_int("static_bytes", (long long)sizeof ctl);
	log_int("reserved_bytes", (long long)ctl.reserved_bytes);
	log_str("metrics", server_port(&ctl.server) >= 0 ? metrics : "off");
	log_str("probes", ctl.probes_separate ? probes : server_port(&ctl.server) >= 0 ? metrics : "off");
	log_end();

	if (ctl.leader_elect) {
		log_begin(LOG_INFO, "waiting for leadership");
		log_str("lease", lcfg.name);
		log_str("lease_namespace", lcfg.namespace);
		log_str("identity", identity);
		log_end();
	}
	rc = run_loop(&wait_mask);
	shut_down();
	log_begin(LOG_INFO, "stopping");
	log_int("signal", (int)stop_signal);
	log_int("reconciles", (long long)ctl.rec.runs);
	log_end();
	return rc;
}
