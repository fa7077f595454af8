/*
 * metrics.h - Prometheus metrics under controller-runtime's and client-go's names, in fixed memory.
 *
 * Dashboards and alerts written for controller-runtime find what they expect: the same metric
 * names, types, label names and histogram buckets (checked against controller-runtime v0.8, the
 * Kubernetes 1.20 era, and v0.19+ to today's main; where they differ this module emits the superset):
 *   controller_runtime_reconcile_total{controller,result}      result: success|error|requeue|requeue_after
 *   controller_runtime_reconcile_errors_total{controller}
 *   controller_runtime_reconcile_time_seconds{controller}       histogram, controller-runtime's 40 buckets
 *   controller_runtime_max_concurrent_reconciles{controller}, controller_runtime_active_workers{controller}
 *   workqueue_depth, workqueue_adds_total, workqueue_retries_total,
 *   workqueue_unfinished_work_seconds, workqueue_longest_running_processor_seconds {name,controller}
 *   workqueue_queue_duration_seconds, workqueue_work_duration_seconds {name,controller}
 *                                   histograms, ExponentialBuckets(1e-8, 10, 12): 1e-08 .. 1000 s
 *     (v0.8 labels these {name} only, with the first 10 of those buckets; v0.19 added controller,
 *      equal to name. Both labels are emitted, so selectors of either era match.)
 *   rest_client_requests_total{code,method,host}               code "<error>" when no response came
 *   rest_client_request_duration_seconds{verb,host}            histogram, client-go's 12 buckets
 *     (Kubernetes' own components' name, labels and buckets (component-base), which
 *      controller-runtime's main branch offers as an opt-in; released v0.15-v0.24 register no
 *      latency histogram, and v0.8's rest_client_request_latency_seconds{verb,url} had a label of
 *      unbounded cardinality, which controller-runtime itself dropped)
 *   leader_election_master_status{name}                        only when a lease name was given
 *   process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
 *   process_start_time_seconds, process_open_fds, process_max_fds (from /proc/self and getrlimit)
 *   pizza_build_info{version,revision} 1
 *
 * State is one module-level registry (the process has one controller and one API server), so the
 * modules that count need no pointer threaded through. Single-threaded: the loop's thread only.
 * Every update is O(1) or bounded by a small named constant, and nothing is ever allocated.
 * Times are microseconds on CLOCK_MONOTONIC; seconds are printed with integer arithmetic.
 *
 * The caller's own pizza_* metrics are appended after metrics_render()'s output in the same
 * buffer (see metrics_render); names must not collide with the ones above.
 */
#ifndef PZ_METRICS_H
#define PZ_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Label values given to metrics_init. A controller name is a lowercase kind ("pizzaorder"); a Lease
 * name is a DNS subdomain, but 63 bytes is what we accept for a label we print on every scrape. */
#define METRICS_NAME_MAX 64
/* client-go's host label is url.Host: a DNS name (253) or "[IPv6]" (47), ":" and a port (5). */
#define METRICS_HOST_MAX 260
/* version and revision: a semver or a git describe / 40-hex commit id. */
#define METRICS_BUILD_MAX 64
/* Reconciles in flight at once (controller-runtime's MaxConcurrentReconciles): the bound of
 * --max-concurrent-reconciles (RECONCILE_WORKERS_MAX). */
#define METRICS_WORKERS_MAX 64
/* Distinct (method, code) pairs of rest_client_requests_total. The controller sends 5 methods and
 * sees about 8 codes per method in practice (200/201, 401, 403, 404, 409, 410, 429, 5xx, <error>);
 * a pair beyond the table is counted under code="other" for its method, so the label set and the
 * page stay bounded whatever status codes a server invents. */
#define METRICS_REQ_ROWS 48

/*
 * The longest page metrics_render can produce: every series present, every label at its bound
 * (labels are never escaped, see metrics_init), every number at its widest (20 digits, or 30 for
 * seconds with 9 decimals). 237 samples; the request family dominates: (METRICS_REQ_ROWS + 6)
 * counters and 6 verbs x 15 histogram lines, each carrying a METRICS_HOST_MAX host. test_metrics
 * renders exactly that case: ~64,500 bytes printed + 237 x 30 for the widest numbers = ~71,600,
 * under 72 KiB (73,728). A usual page (short host, a few codes) is about 15 KiB.
 */
#define METRICS_PAGE_MAX (72 * 1024)

enum metrics_result {
	METRICS_SUCCESS,       /* done; no requeue asked */
	METRICS_ERROR,         /* failed; also counts controller_runtime_reconcile_errors_total */
	METRICS_REQUEUE,       /* asked to come back soon (rate-limited requeue) */
	METRICS_REQUEUE_AFTER, /* asked to come back after a set time */
	METRICS_RESULTS
};

struct metrics_info {
	const char *controller; /* controller-runtime's controller name, also the workqueue name */
	const char *lease;      /* Lease name for leader_election_master_status, or NULL: not rendered */
	const char *host;       /* API server host[:port] as in its URL, for the rest_client_* host label */
	const char *version;
	const char *revision;   /* NULL: "unknown" */
	unsigned max_workers;   /* controller_runtime_max_concurrent_reconciles, 1..METRICS_WORKERS_MAX */
};

/* Resets every metric and records the labels (copied). Reads /proc/self/stat once for the process
 * start time. Returns 0, or PZ_ECONFIG for a missing or over-long label, a label holding a byte
 * outside printable ASCII or a '"' or '\\' (none can occur in a URL host, a DNS name or a version,
 * and refusing them means the page never needs escaping), or a bad max_workers. */
int metrics_init(const struct metrics_info *info);

/* ---- the workqueue (client-go's semantics) ---- */
/* An item became queued (an add that was not a duplicate of a queued one). */
void metrics_queue_add(void);
/* An item was put back with a delay (rate-limited requeue, RequeueAfter, AddAfter). */
void metrics_queue_retry(void);
/* Items queued now (the queue owns the truth: deletes of queued items lower it too). */
void metrics_queue_depth(uint32_t n);
/* An item left the queue for a worker after waiting wait_us since it became due. */
void metrics_queue_wait(int64_t wait_us);

/* ---- reconciles ---- */
/* Worker `worker` (0 .. max_workers-1, idle) starts a reconcile: active_workers and the
 * unfinished-work gauges follow it until metrics_work_done. A broken contract aborts. */
void metrics_work_start(unsigned worker, int64_t now_us);
/* That reconcile ended with result r: observes both reconcile_time_seconds and
 * work_duration_seconds with the same duration (so their counts always add up to reconcile_total),
 * counts the result, and the error if r is METRICS_ERROR. */
void metrics_work_done(unsigned worker, int64_t now_us, enum metrics_result r);

/* ---- the API client ---- */
/* One request to the API server: method "GET", "POST", "PUT", "PATCH" or "DELETE" (anything else
 * is counted as "other"); code is the HTTP status, or <= 0 when no response came (transport
 * error: client-go's "<error>"). duration_us from sending until the response head arrived. */
void metrics_request(const char *method, int code, int64_t duration_us);

/* ---- leader election ---- */
void metrics_set_leader(int leading);

/* Writes the exposition text (format 0.0.4) into out[0..cap). Returns its length, or PZ_ETOOBIG
 * when it did not fit (the first cap bytes are then written; the page never exceeds
 * METRICS_PAGE_MAX). now_us dates the unfinished-work gauges. Reads /proc/self/stat and
 * /proc/self/fd; a process figure that cannot be read is left out, never invented. To append the
 * caller's own metrics, render into out and write after the returned length. */
int metrics_render(char *out, size_t cap, int64_t now_us);

#endif
