/*
 * metrics.c - the metrics registry and its exposition text (see metrics.h).
 *
 * Histograms keep one count per bucket (not cumulative: an observation is one increment) and a
 * sum in nanoseconds; the page adds them up. Bucket bounds are integers (milliseconds, or
 * nanoseconds for the workqueue's powers of ten), and the "le" labels are the exact strings Go's
 * strconv prints for controller-runtime's float bounds, so a selector on le="0.005" still matches.
 * Numbers are printed with a 20-digit integer formatter: no libc float code, no snprintf.
 */
#include "fmt.h"
#include "metrics.h"
#include "pz.h"

#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- buckets ---- */

/* controller-runtime's reconcile_time_seconds buckets (pkg/internal/controller/metrics), in ms. */
static const uint16_t reconcile_ms[] = {
	5, 10, 25, 50, 100, 150, 200, 250, 300, 350, 400, 450, 500, 600, 700, 800, 900, 1000,
	1250, 1500, 1750, 2000, 2500, 3000, 3500, 4000, 4500, 5000, 6000, 7000, 8000, 9000, 10000,
	15000, 20000, 25000, 30000, 40000, 50000, 60000,
};
/* client-go's rest_client_request_duration_seconds buckets, in ms. */
static const uint16_t rest_ms[] = { 5, 25, 100, 250, 500, 1000, 2000, 4000, 8000, 15000, 30000, 60000 };
/* prometheus.ExponentialBuckets(10e-9, 10, 12) as Go computes them: 1e-8 * 10 twice more is exact,
 * the fourth and fifth products land just below 1e-5 and 1e-4 (so 10 us falls in the next
 * bucket, as in Go), then the products are exact again. */
#define QUEUE_BUCKETS 12
static const char queue_le[] = "1e-08\0" "1e-07\0" "1e-06\0" "9.999999999999999e-06\0"
	"9.999999999999999e-05\0" "0.001\0" "0.01\0" "0.1\0" "1\0" "10\0" "100\0" "1000";

#define RECONCILE_BUCKETS ((int)PZ_ARRAY_LEN(reconcile_ms))
#define REST_BUCKETS ((int)PZ_ARRAY_LEN(rest_ms))

static uint64_t queue_bound_ns(int i)
{
	uint64_t b = 10;
	for (int k = 0; k < i; k++)
		b *= 10;
	return i == 3 || i == 4 ? b - 1 : b; /* 9.999999999999999e-06 s: v_ns <= 9999 */
}

enum hist_kind { H_RECONCILE, H_QUEUE, H_REST };

static int hist_buckets(enum hist_kind k)
{
	return k == H_RECONCILE ? RECONCILE_BUCKETS : k == H_QUEUE ? QUEUE_BUCKETS : REST_BUCKETS;
}

static uint64_t hist_bound_ns(enum hist_kind k, int i)
{
	if (k == H_QUEUE)
		return queue_bound_ns(i);
	return (uint64_t)(k == H_RECONCILE ? reconcile_ms[i] : rest_ms[i]) * 1000000u;
}

/* counts[0..buckets] (the last one is +Inf only) and the sum of observations in ns. */
static void observe(enum hist_kind k, uint64_t *counts, uint64_t *sum_ns, int64_t us)
{
	/* Clamped so the product cannot wrap: 2^63 ns is 292 years, past every bucket anyway. */
	uint64_t ns = us <= 0 ? 0 : us >= INT64_MAX / 1000 ? (uint64_t)INT64_MAX : (uint64_t)us * 1000u;
	int i = 0, n = hist_buckets(k);

	while (i < n && ns > hist_bound_ns(k, i))
		i++;
	counts[i]++;
	*sum_ns += ns;
}

/* ---- the registry ---- */

enum { M_GET, M_POST, M_PUT, M_PATCH, M_DELETE, M_OTHER, METHODS };
static const char method_names[] = "GET\0POST\0PUT\0PATCH\0DELETE\0other";

struct req_row {
	uint16_t code;  /* 100..999, or 0 for "<error>" */
	uint8_t method;
	uint64_t count;
};

static struct {
	char controller[METRICS_NAME_MAX], lease[METRICS_NAME_MAX], host[METRICS_HOST_MAX];
	char version[METRICS_BUILD_MAX], revision[METRICS_BUILD_MAX];
	unsigned max_workers, active;
	int leading;
	long hz, page;
	uint64_t start_ns;   /* process start, ns since the epoch; 0 if unknown */

	uint64_t results[METRICS_RESULTS], errors;
	uint64_t rec_b[RECONCILE_BUCKETS + 1], rec_sum;
	int64_t work_started[METRICS_WORKERS_MAX]; /* -1: idle */

	uint32_t depth;
	uint64_t adds, retries;
	uint64_t wait_b[QUEUE_BUCKETS + 1], wait_sum, work_b[QUEUE_BUCKETS + 1], work_sum;

	struct req_row rows[METRICS_REQ_ROWS];
	unsigned nrows;
	uint64_t req_other[METHODS];           /* pairs that found the table full */
	uint64_t rest_b[METHODS][REST_BUCKETS + 1], rest_sum[METHODS];
} M;

/* The nth string of a NUL-separated list. */
static const char *nth(const char *list, int n)
{
	while (n-- > 0)
		list += strlen(list) + 1;
	return list;
}

/* Copies a label value, refusing what would need escaping (see metrics_init in the header). */
static int label_copy(char *dst, size_t cap, const char *src)
{
	size_t n;
	if (!src || !*src || (n = strlen(src)) >= cap)
		return PZ_ECONFIG;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)src[i] < 0x20 || (unsigned char)src[i] > 0x7e || src[i] == '"' || src[i] == '\\')
			return PZ_ECONFIG;
	memcpy(dst, src, n + 1);
	return 0;
}

/* Reads /proc/self/stat; fields counted from 1 as in proc(5): utime 14, stime 15, starttime 22,
 * vsize 23, rss 24. Returns 0 and fills f[14..24], or -1. comm (field 2) may hold spaces and
 * parentheses, so the numbers start after the last ')'. */
#define STAT_FIELDS 25
static int read_stat(uint64_t f[STAT_FIELDS])
{
	/* The fields we need end well within 512 bytes (comm <= 16 bytes, 22 numbers of <= 20 digits);
	 * what the read cuts off after them is not needed. */
	char buf[640];
	const char *p = NULL;
	ssize_t n;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC), field = 2;

	if (fd < 0)
		return -1;
	do
		n = read(fd, buf, sizeof buf - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return -1;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == ')')
			p = buf + i + 1;
	if (!p)
		return -1;
	for (int i = 0; i < STAT_FIELDS; i++)
		f[i] = 0;
	while (p < buf + n && field < STAT_FIELDS - 1) {
		while (p < buf + n && *p == ' ')
			p++;
		field++;
		for (; p < buf + n && *p != ' '; p++)
			if (*p >= '0' && *p <= '9')
				f[field] = f[field] * 10 + (uint64_t)(*p - '0');
	}
	return field == STAT_FIELDS - 1 ? 0 : -1;
}

int metrics_init(const struct metrics_info *info)
{
	uint64_t f[STAT_FIELDS];
	struct timespec real, boot;

	memset(&M, 0, sizeof M);
	for (int i = 0; i < METRICS_WORKERS_MAX; i++)
		M.work_started[i] = -1;
	if (label_copy(M.controller, sizeof M.controller, info->controller) < 0 ||
	    (info->lease && label_copy(M.lease, sizeof M.lease, info->lease) < 0) ||
	    label_copy(M.host, sizeof M.host, info->host) < 0 ||
	    label_copy(M.version, sizeof M.version, info->version) < 0 ||
	    label_copy(M.revision, sizeof M.revision, info->revision ? info->revision : "unknown") < 0 ||
	    info->max_workers < 1 || info->max_workers > METRICS_WORKERS_MAX)
		return PZ_ECONFIG;
	M.max_workers = info->max_workers;
	M.hz = sysconf(_SC_CLK_TCK);
	M.page = sysconf(_SC_PAGESIZE);
	if (M.hz <= 0 || M.page <= 0)
		return PZ_ECONFIG;
	/* starttime is in ticks since boot (CLOCK_BOOTTIME); the wall clock at boot is now - uptime. */
	if (read_stat(f) == 0 && clock_gettime(CLOCK_REALTIME, &real) == 0 &&
	    clock_gettime(CLOCK_BOOTTIME, &boot) == 0) {
		int64_t boot_wall = ((int64_t)real.tv_sec - boot.tv_sec) * 1000000000 + (real.tv_nsec - boot.tv_nsec);
		int64_t start = boot_wall + (int64_t)(f[22] * (1000000000u / (uint64_t)M.hz));
		M.start_ns = start > 0 ? (uint64_t)start : 0;
	}
	return 0;
}

void metrics_queue_add(void) { M.adds++; }
void metrics_queue_retry(void) { M.retries++; }
void metrics_queue_depth(uint32_t n) { M.depth = n; }
void metrics_queue_wait(int64_t wait_us) { observe(H_QUEUE, M.wait_b, &M.wait_sum, wait_us); }
void metrics_set_leader(int leading) { M.leading = leading != 0; }

void metrics_work_start(unsigned worker, int64_t now_us)
{
	if (M.max_workers == 0)
		return; /* not initialised: a module test without a registry */
	PZ_ASSERT(worker < M.max_workers && M.work_started[worker] < 0 && now_us >= 0);
	M.work_started[worker] = now_us;
	M.active++;
}

void metrics_work_done(unsigned worker, int64_t now_us, enum metrics_result r)
{
	int64_t took;

	if (M.max_workers == 0)
		return;
	PZ_ASSERT(worker < M.max_workers && M.work_started[worker] >= 0 && (unsigned)r < METRICS_RESULTS);
	took = now_us - M.work_started[worker];
	M.work_started[worker] = -1;
	M.active--;
	observe(H_RECONCILE, M.rec_b, &M.rec_sum, took);
	observe(H_QUEUE, M.work_b, &M.work_sum, took);
	M.results[r]++;
	if (r == METRICS_ERROR)
		M.errors++;
}

void metrics_request(const char *method, int code, int64_t duration_us)
{
	unsigned m = 0, key;

	while (m < M_OTHER && strcmp(method, nth(method_names, (int)m)) != 0)
		m++;
	key = code >= 100 && code <= 999 ? (unsigned)code : 0;
	observe(H_REST, M.rest_b[m], &M.rest_sum[m], duration_us);
	/* A linear scan of at most METRICS_REQ_ROWS keys, next to a request that cost a round trip. */
	for (unsigned i = 0; i < M.nrows; i++)
		if (M.rows[i].code == key && M.rows[i].method == m) {
			M.rows[i].count++;
			return;
		}
	if (M.nrows == METRICS_REQ_ROWS) {
		M.req_other[m]++;
		return;
	}
	M.rows[M.nrows].code = (uint16_t)key;
	M.rows[M.nrows].method = (uint8_t)m;
	M.rows[M.nrows].count = 1;
	M.nrows++;
}

/* ---- the page ---- */

/* Writes what fits and counts the rest, so the length needed is known even on overflow. */
struct out {
	char *p;
	size_t cap, len;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len < o->cap)
		memcpy(o->p + o->len, s, n <= o->cap - o->len ? n : o->cap - o->len);
	o->len += n;
}

static void puts_(struct out *o, const char *s) { put(o, s, strlen(s)); }

static void put_u64(struct out *o, uint64_t v)
{
	char d[20];
	int i = sizeof d;
	do
		d[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	put(o, d + i, sizeof d - (size_t)i);
}

/* ns as decimal seconds, trailing zeros dropped: 1500000 -> "0.0015", 2000000000 -> "2". */
static void put_sec(struct out *o, uint64_t ns)
{
	char f[10];
	uint64_t frac = ns % 1000000000u;
	int n = 9;

	put_u64(o, ns / 1000000000u);
	if (!frac)
		return;
	f[0] = '.';
	for (int i = 9; i >= 1; i--, frac /= 10)
		f[i] = (char)('0' + frac % 10);
	while (f[n] == '0')
		n--;
	put(o, f, (size_t)n + 1);
}

/*
 * Label sets as templates: a byte below 8 stands for a value (1 controller, 2 lease, 3 host,
 * 4 version, 5 revision, 6 and 7 the sample's own a and b); the rest is copied. The values were
 * checked by label_copy, so nothing needs escaping. One table and a loop are smaller than code
 * per set, and the page's text is all in one place to read.
 */
enum lset { LS_NONE, LS_CTRL, LS_RESULT, LS_QUEUE, LS_LEASE, LS_BUILD, LS_REQ, LS_VERB };
static const char lsets[] =
	"\0"
	"{controller=\"\1\"\0"
	"{controller=\"\1\",result=\"\6\"\0"
	"{name=\"\1\",controller=\"\1\"\0"
	"{name=\"\2\"\0"
	"{version=\"\4\",revision=\"\5\"\0"
	"{code=\"\6\",method=\"\7\",host=\"\3\"\0"
	"{verb=\"\6\",host=\"\3\"";

/* name+suffix{labels[,le="le"]} and the space before the value. */
static void series(struct out *o, const char *name, const char *suffix, enum lset ls, const char *a,
		   const char *b, const char *le)
{
	const char *vals[8] = { NULL, M.controller, M.lease, M.host, M.version, M.revision, a, b };

	puts_(o, name);
	puts_(o, suffix);
	for (const char *t = nth(lsets, ls); *t; t++)
		if (*t < 8)
			puts_(o, vals[(int)*t]);
		else
			put(o, t, 1);
	if (le) {
		puts_(o, ",le=\"");
		puts_(o, le);
		put(o, "\"", 1);
	}
	puts_(o, ls == LS_NONE ? " " : "} ");
}

/* "# HELP name help\n# TYPE name type\n" */
static void family(struct out *o, const char *name, const char *type, const char *help)
{
	puts_(o, "# HELP ");
	puts_(o, name);
	put(o, " ", 1);
	puts_(o, help);
	puts_(o, "\n# TYPE ");
	puts_(o, name);
	put(o, " ", 1);
	puts_(o, type);
	put(o, "\n", 1);
}

enum { V_COUNT, V_SECONDS };

static void sample(struct out *o, const char *name, enum lset ls, const char *a, const char *b, uint64_t v, int unit)
{
	series(o, name, "", ls, a, b, NULL);
	if (unit == V_SECONDS)
		put_sec(o, v);
	else
		put_u64(o, v);
	put(o, "\n", 1);
}

/* A family of one sample: most of the page. */
static void single(struct out *o, const char *name, const char *type, const char *help, enum lset ls, uint64_t v,
		   int unit)
{
	family(o, name, type, help);
	sample(o, name, ls, NULL, NULL, v, unit);
}

/* The le label of bucket i: Go's shortest float format of the bound (see the bucket tables). */
static const char *le_label(enum hist_kind k, int i, char buf[16])
{
	struct out o = { buf, 15, 0 };
	if (k == H_QUEUE)
		return nth(queue_le, i);
	put_sec(&o, (uint64_t)(k == H_RECONCILE ? reconcile_ms[i] : rest_ms[i]) * 1000000u);
	buf[o.len] = 0;
	return buf;
}

static void histogram(struct out *o, const char *name, enum lset ls, const char *a, enum hist_kind k,
		      const uint64_t *counts, uint64_t sum_ns)
{
	uint64_t total = 0;
	char le[16];
	int n = hist_buckets(k);

	for (int i = 0; i <= n; i++) {
		total += counts[i];
		series(o, name, "_bucket", ls, a, NULL, i < n ? le_label(k, i, le) : "+Inf");
		put_u64(o, total);
		put(o, "\n", 1);
	}
	series(o, name, "_sum", ls, a, NULL, NULL);
	put_sec(o, sum_ns);
	put(o, "\n", 1);
	series(o, name, "_count", ls, a, NULL, NULL);
	put_u64(o, total);
	put(o, "\n", 1);
}

/* Entries of /proc/self/fd, less the one this count opens. getdents64 on a stack buffer, because
 * opendir allocates. */
static long open_fds(void)
{
	char buf[1024];
	long count = 0, n;
	int fd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
		/* struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name */
		for (long off = 0; off < n;) {
			uint16_t reclen;
			memcpy(&reclen, buf + off + 16, sizeof reclen);
			if (reclen == 0)
				break;
			if (buf[off + 19] != '.')
				count++;
			off += reclen;
		}
	}
	close(fd);
	return n < 0 ? -1 : count - 1;
}

static void render_process(struct out *o)
{
	uint64_t f[STAT_FIELDS];
	struct rlimit rl;
	long fds = open_fds();

	if (read_stat(f) == 0) {
		single(o, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
		       LS_NONE, (f[14] + f[15]) * (1000000000u / (uint64_t)M.hz), V_SECONDS);
		single(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", LS_NONE,
		       f[24] * (uint64_t)M.page, V_COUNT);
		single(o, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", LS_NONE, f[23],
		       V_COUNT);
	}
	if (M.start_ns)
		single(o, "process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch in seconds.",
		       LS_NONE, M.start_ns, V_SECONDS);
	if (fds >= 0)
		single(o, "process_open_fds", "gauge", "Number of open file descriptors.", LS_NONE, (uint64_t)fds,
		       V_COUNT);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		single(o, "process_max_fds", "gauge", "Maximum number of open file descriptors.", LS_NONE,
		       (uint64_t)rl.rlim_cur, V_COUNT);
}

static void render_rest(struct out *o)
{
	static const char req[] = "rest_client_requests_total", dur[] = "rest_client_request_duration_seconds";
	char code[4];
	int any = 0;

	if (M.nrows)
		family(o, req, "counter", "HTTP requests to the API server by status code, method and host.");
	for (unsigned i = 0; i < M.nrows; i++) {
		unsigned c = M.rows[i].code;
		code[0] = (char)('0' + c / 100);
		code[1] = (char)('0' + c / 10 % 10);
		code[2] = (char)('0' + c % 10);
		code[3] = 0;
		sample(o, req, LS_REQ, c ? code : "<error>", nth(method_names, M.rows[i].method), M.rows[i].count,
		       V_COUNT);
	}
	for (int m = 0; m < METHODS; m++)
		if (M.req_other[m])
			sample(o, req, LS_REQ, "other", nth(method_names, m), M.req_other[m], V_COUNT);
	for (int m = 0; m < METHODS; m++) {
		uint64_t seen = 0;
		for (int i = 0; i <= REST_BUCKETS; i++)
			seen |= M.rest_b[m][i];
		if (!seen)
			continue;
		if (!any)
			family(o, dur, "histogram", "API request latency in seconds by verb and host.");
		any = 1;
		histogram(o, dur, LS_VERB, nth(method_names, m), H_REST, M.rest_b[m], M.rest_sum[m]);
	}
}

int metrics_render(char *out, size_t cap, int64_t now_us)
{
	static const char results[] = "success\0error\0requeue\0requeue_after";
	static const char total[] = "controller_runtime_reconcile_total", wait[] = "workqueue_queue_duration_seconds",
		work[] = "workqueue_work_duration_seconds", rtime[] = "controller_runtime_reconcile_time_seconds";
	struct out o = { out, cap, 0 };
	uint64_t unfinished = 0, longest = 0;

	family(&o, total, "counter", "Total number of reconciliations per controller");
	for (int r = 0; r < METRICS_RESULTS; r++)
		sample(&o, total, LS_RESULT, nth(results, r), NULL, M.results[r], V_COUNT);
	single(&o, "controller_runtime_reconcile_errors_total", "counter",
	       "Total number of reconciliation errors per controller", LS_CTRL, M.errors, V_COUNT);
	family(&o, rtime, "histogram", "Length of time per reconciliation per controller");
	histogram(&o, rtime, LS_CTRL, NULL, H_RECONCILE, M.rec_b, M.rec_sum);
	single(&o, "controller_runtime_max_concurrent_reconciles", "gauge",
	       "Maximum number of concurrent reconciles per controller", LS_CTRL, M.max_workers, V_COUNT);
	single(&o, "controller_runtime_active_workers", "gauge", "Number of currently used workers per controller",
	       LS_CTRL, M.active, V_COUNT);

	single(&o, "workqueue_depth", "gauge", "Current depth of workqueue", LS_QUEUE, M.depth, V_COUNT);
	single(&o, "workqueue_adds_total", "counter", "Total number of adds handled by workqueue", LS_QUEUE, M.adds,
	       V_COUNT);
	single(&o, "workqueue_retries_total", "counter", "Total number of retries handled by workqueue", LS_QUEUE,
	       M.retries, V_COUNT);
	family(&o, wait, "histogram", "Seconds an item waits in the workqueue before a worker takes it.");
	histogram(&o, wait, LS_QUEUE, NULL, H_QUEUE, M.wait_b, M.wait_sum);
	family(&o, work, "histogram", "Seconds a worker takes to process an item.");
	histogram(&o, work, LS_QUEUE, NULL, H_QUEUE, M.work_b, M.work_sum);
	for (unsigned w = 0; w < M.max_workers; w++)
		if (M.work_started[w] >= 0 && now_us > M.work_started[w]) {
			uint64_t ran = (uint64_t)(now_us - M.work_started[w]) * 1000u;
			unfinished += ran;
			longest = ran > longest ? ran : longest;
		}
	single(&o, "workqueue_unfinished_work_seconds", "gauge",
	       "Seconds of work in progress not yet observed by work_duration.", LS_QUEUE, unfinished, V_SECONDS);
	single(&o, "workqueue_longest_running_processor_seconds", "gauge",
	       "Seconds the longest running worker has been running.", LS_QUEUE, longest, V_SECONDS);

	render_rest(&o);
	if (M.lease[0])
		single(&o, "leader_election_master_status", "gauge",
		       "1 while this process holds the named Lease, 0 while it stands by.", LS_LEASE,
		       (uint64_t)M.leading, V_COUNT);
	render_process(&o);
	single(&o, "pizza_build_info", "gauge", "The version and revision of this binary.", LS_BUILD, 1, V_COUNT);
	return o.len <= cap ? (int)o.len : PZ_ETOOBIG;
}
