/*
 * test_metrics.c - the metrics registry and its page: label checks, histogram buckets at their
 * exact edges, counts that add up, the bounded request table, the process figures against what
 * the kernel says, the page bound, and the page through `promtool check metrics`
 * (tests/promtool.sh; without promtool those checks fail and say why).
 */
#include "check.h"
#include "harness.h"
#include "metrics.h"
#include "pz.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char page[METRICS_PAGE_MAX + 1];

static const struct metrics_info base = {
	.controller = "pizzaorder",
	.lease = "pizza-controller-leader",
	.host = "10.96.0.1:443",
	.version = "0.1.0",
	.revision = "abc123",
	.max_workers = 2,
};

static int render(int64_t now_us)
{
	int n = metrics_render(page, sizeof page - 1, now_us);
	CHECK(n > 0);
	page[n > 0 ? n : 0] = 0;
	return n;
}

/* The value of the sample whose series (name and labels, exactly as printed) is given; -1 when
 * absent. Seconds keep their fraction: the caller compares with a tolerance or uses value_ns. */
static const char *find_series(const char *series)
{
	size_t n = strlen(series);
	for (const char *p = page; (p = strstr(p, series)) != NULL; p += n)
		if ((p == page || p[-1] == '\n') && p[n] == ' ')
			return p + n + 1;
	return NULL;
}

static long long value(const char *series)
{
	const char *v = find_series(series);
	return v ? strtoll(v, NULL, 10) : -1;
}

/* A seconds value as integer nanoseconds, parsed by hand (no float rounding). */
static long long value_ns(const char *series)
{
	const char *v = find_series(series);
	long long s, frac = 0;
	int digits = 0;
	char *e;

	if (!v)
		return -1;
	s = strtoll(v, &e, 10);
	if (*e == '.')
		for (e++; *e >= '0' && *e <= '9'; e++, digits++)
			frac = frac * 10 + (*e - '0');
	for (; digits < 9; digits++)
		frac *= 10;
	return s * 1000000000LL + frac;
}

/* Runs tests/promtool.sh on the current page; returns its exit status. Its report goes to stderr,
 * or nowhere when quiet (a page meant to fail would print a failure that is not one). */
static int promtool(const char *what, int quiet)
{
	const char *data = getenv("PZ_TEST_DATA");
	char path[] = "/tmp/pz-metrics-XXXXXX", cmd[1024];
	int fd = mkstemp(path), rc;

	if (fd < 0 || write(fd, page, strlen(page)) != (ssize_t)strlen(page)) {
		perror("page file");
		return -1;
	}
	close(fd);
	snprintf(cmd, sizeof cmd, "bash %s/../promtool.sh %s %s", data && *data ? data : "tests/data", path,
		 quiet ? ">/dev/null 2>&1" : ">&2");
	fprintf(stderr, "promtool on the %s page%s\n", what, quiet ? " (must be refused)" : ":");
	rc = system(cmd);
	unlink(path);
	return rc;
}

static void test_init(void)
{
	struct metrics_info i = base;
	char long_host[METRICS_HOST_MAX + 1];

	CHECK_EQ_INT(metrics_init(&i), 0);
	i.controller = "pizza\"order";
	CHECK_EQ_INT(metrics_init(&i), PZ_ECONFIG);
	i.controller = "pizza\\order";
	CHECK_EQ_INT(metrics_init(&i), PZ_ECONFIG);
	i.controller = "pizza\norder";
	CHECK_EQ_INT(metrics_init(&i), PZ_ECONFIG);
	i.controller = "pizza\xc3\xa9";
	CHECK_EQ_INT(metrics_init(&i), PZ_ECONFIG);
	i.controller = "";
	CHECK_EQ_INT(metrics_init(&i), PZ_ECONFIG);
	i = base;
	i.host = NULL;
	CHECK_EQ_INT(metrics_init(&i), PZ_ECONFIG);
	memset(long_host, 'h', METRICS_HOST_MAX);
	long_host[METRICS_HOST_MAX] = 0;
	i.host = long_host;
	CHECK_EQ_INT(metrics_init(&i), PZ_ECONFIG);
	long_host[METRICS_HOST_MAX - 1] = 0; /* the longest accepted */
	CHECK_EQ_INT(metrics_init(&i), 0);
	i = base;
	i.max_workers = 0;
	CHECK_EQ_INT(metrics_init(&i), PZ_ECONFIG);
	i.max_workers = METRICS_WORKERS_MAX + 1;
	CHECK_EQ_INT(metrics_init(&i), PZ_ECONFIG);
	i = base;
	i.revision = NULL;
	i.lease = NULL;
	CHECK_EQ_INT(metrics_init(&i), 0);
	render(0);
	CHECK_EQ_INT(value("pizza_build_info{version=\"0.1.0\",revision=\"unknown\"}"), 1);
	CHECK(strstr(page, "leader_election_master_status") == NULL); /* no lease, no gauge */
	CHECK(strstr(page, "rest_client_") == NULL);                  /* no request yet */
	/* every result is there from the start, at 0, as controller-runtime initialises them */
	CHECK_EQ_INT(value("controller_runtime_reconcile_total{controller=\"pizzaorder\",result=\"success\"}"), 0);
	CHECK_EQ_INT(value("controller_runtime_reconcile_total{controller=\"pizzaorder\",result=\"requeue_after\"}"), 0);
	CHECK_EQ_INT(value("controller_runtime_max_concurrent_reconciles{controller=\"pizzaorder\"}"), 2);
}

#define REC(le) "controller_runtime_reconcile_time_seconds_bucket{controller=\"pizzaorder\",le=\"" le "\"}"
#define WAIT(le) "workqueue_queue_duration_seconds_bucket{name=\"pizzaorder\",controller=\"pizzaorder\",le=\"" le "\"}"
#define WORK(le) "workqueue_work_duration_seconds_bucket{name=\"pizzaorder\",controller=\"pizzaorder\",le=\"" le "\"}"

static void test_reconcile_histogram(void)
{
	/* durations in us and the result of each */
	static const struct { int64_t us; enum metrics_result r; } runs[] = {
		{ 0, METRICS_SUCCESS },         /* le=0.005 */
		{ 5000, METRICS_SUCCESS },      /* exactly 5 ms: still le=0.005 (le means <=) */
		{ 5001, METRICS_ERROR },        /* le=0.01 */
		{ 1250000, METRICS_REQUEUE },   /* exactly 1.25 s */
		{ 60000000, METRICS_REQUEUE_AFTER }, /* exactly 60 s: the last finite bucket */
		{ 60000001, METRICS_ERROR },    /* +Inf only */
		{ 7200000000LL, METRICS_SUCCESS }, /* two hours */
	};
	long long sum_ns = 0, t = 1000;

	CHECK_EQ_INT(metrics_init(&base), 0);
	for (size_t i = 0; i < PZ_ARRAY_LEN(runs); i++) {
		metrics_work_start(1, t);
		metrics_work_done(1, t + runs[i].us, runs[i].r);
		t += runs[i].us + 10;
		sum_ns += runs[i].us * 1000;
	}
	render(t);
	CHECK_EQ_INT(value(REC("0.005")), 2);
	CHECK_EQ_INT(value(REC("0.01")), 3);
	CHECK_EQ_INT(value(REC("1.2")), -1); /* no such bucket */
	CHECK_EQ_INT(value(REC("1")), 3);
	CHECK_EQ_INT(value(REC("1.25")), 4);
	CHECK_EQ_INT(value(REC("50")), 4);
	CHECK_EQ_INT(value(REC("60")), 5);
	CHECK_EQ_INT(value(REC("+Inf")), 7);
	CHECK_EQ_INT(value("controller_runtime_reconcile_time_seconds_count{controller=\"pizzaorder\"}"), 7);
	CHECK_EQ_INT(value_ns("controller_runtime_reconcile_time_seconds_sum{controller=\"pizzaorder\"}"), sum_ns);
	CHECK_EQ_INT(value("controller_runtime_reconcile_total{controller=\"pizzaorder\",result=\"success\"}"), 3);
	CHECK_EQ_INT(value("controller_runtime_reconcile_total{controller=\"pizzaorder\",result=\"error\"}"), 2);
	CHECK_EQ_INT(value("controller_runtime_reconcile_total{controller=\"pizzaorder\",result=\"requeue\"}"), 1);
	CHECK_EQ_INT(value("controller_runtime_reconcile_total{controller=\"pizzaorder\",result=\"requeue_after\"}"), 1);
	CHECK_EQ_INT(value("controller_runtime_reconcile_errors_total{controller=\"pizzaorder\"}"), 2);
	/* the work histogram saw the same reconciles */
	CHECK_EQ_INT(value("workqueue_work_duration_seconds_count{name=\"pizzaorder\",controller=\"pizzaorder\"}"), 7);
	CHECK_EQ_INT(value_ns("workqueue_work_duration_seconds_sum{name=\"pizzaorder\",controller=\"pizzaorder\"}"),
		     sum_ns);
	CHECK_EQ_INT(value(WORK("0.001")), 1);
	CHECK_EQ_INT(value(WORK("0.01")), 3);
	CHECK_EQ_INT(value(WORK("100")), 6);
	CHECK_EQ_INT(value(WORK("1000")), 6);
	CHECK_EQ_INT(value(WORK("+Inf")), 7);

	/* the 40 buckets, in order, each once, cumulative counts never decreasing */
	{
		const char *p = page;
		long long last = -1;
		int buckets = 0, ordered = 1;
		while ((p = strstr(p, "controller_runtime_reconcile_time_seconds_bucket{")) != NULL) {
			long long v = strtoll(strchr(p, '}') + 2, NULL, 10);
			ordered &= v >= last;
			last = v;
			buckets++;
			p++;
		}
		CHECK_EQ_INT(buckets, 41);
		CHECK(ordered);
	}
}

static void test_queue(void)
{
	CHECK_EQ_INT(metrics_init(&base), 0);
	metrics_queue_wait(0);  /* le=1e-08 */
	metrics_queue_wait(1);  /* le=1e-06 */
	metrics_queue_wait(9);  /* le=9.999999999999999e-06 */
	metrics_queue_wait(10); /* 1e-5 s is above Go's 9.999999999999999e-06 bound */
	metrics_queue_wait(-5); /* a clock oddity counts as 0 */
	metrics_queue_wait(2000000000LL); /* 2000 s: +Inf */
	for (int i = 0; i < 3; i++)
		metrics_queue_add();
	metrics_queue_retry();
	metrics_queue_depth(17);
	render(0);
	CHECK_EQ_INT(value(WAIT("1e-08")), 2);
	CHECK_EQ_INT(value(WAIT("1e-07")), 2);
	CHECK_EQ_INT(value(WAIT("1e-06")), 3);
	CHECK_EQ_INT(value(WAIT("9.999999999999999e-06")), 4);
	CHECK_EQ_INT(value(WAIT("9.999999999999999e-05")), 5);
	CHECK_EQ_INT(value(WAIT("1000")), 5);
	CHECK_EQ_INT(value(WAIT("+Inf")), 6);
	CHECK_EQ_INT(value_ns("workqueue_queue_duration_seconds_sum{name=\"pizzaorder\",controller=\"pizzaorder\"}"),
		     (0 + 1 + 9 + 10 + 0 + 2000000000LL) * 1000);
	CHECK_EQ_INT(value("workqueue_adds_total{name=\"pizzaorder\",controller=\"pizzaorder\"}"), 3);
	CHECK_EQ_INT(value("workqueue_retries_total{name=\"pizzaorder\",controller=\"pizzaorder\"}"), 1);
	CHECK_EQ_INT(value("workqueue_depth{name=\"pizzaorder\",controller=\"pizzaorder\"}"), 17);
}

static void test_workers(void)
{
	CHECK_EQ_INT(metrics_init(&base), 0);
	render(0);
	CHECK_EQ_INT(value("controller_runtime_active_workers{controller=\"pizzaorder\"}"), 0);
	CHECK_EQ_INT(value_ns("workqueue_longest_running_processor_seconds{name=\"pizzaorder\",controller=\"pizzaorder\"}"), 0);
	metrics_work_start(0, 1000000);
	metrics_work_start(1, 2000000);
	render(3500000); /* 2.5 s and 1.5 s in */
	CHECK_EQ_INT(value("controller_runtime_active_workers{controller=\"pizzaorder\"}"), 2);
	CHECK_EQ_INT(value_ns("workqueue_longest_running_processor_seconds{name=\"pizzaorder\",controller=\"pizzaorder\"}"),
		     2500000000LL);
	CHECK_EQ_INT(value_ns("workqueue_unfinished_work_seconds{name=\"pizzaorder\",controller=\"pizzaorder\"}"),
		     4000000000LL);
	metrics_work_done(0, 3600000, METRICS_SUCCESS);
	render(3600000);
	CHECK_EQ_INT(value("controller_runtime_active_workers{controller=\"pizzaorder\"}"), 1);
	CHECK_EQ_INT(value_ns("workqueue_longest_running_processor_seconds{name=\"pizzaorder\",controller=\"pizzaorder\"}"),
		     1600000000LL);
	metrics_work_done(1, 3600000, METRICS_SUCCESS);
	render(3600000);
	CHECK_EQ_INT(value("controller_runtime_active_workers{controller=\"pizzaorder\"}"), 0);
	CHECK_EQ_INT(value_ns("workqueue_unfinished_work_seconds{name=\"pizzaorder\",controller=\"pizzaorder\"}"), 0);
}

/* A worker started twice, or finished while idle, is a bug in the caller: the process aborts (its
 * "internal bug" line goes to /dev/null here). */
static void expect_abort(void (*fn)(void), const char *what)
{
	int st = 0;
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		fn();
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT))
		fprintf(stderr, "%s: did not abort\n", what);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
}

static void double_start(void)
{
	metrics_init(&base);
	metrics_work_start(0, 1);
	metrics_work_start(0, 2);
}

static void idle_done(void)
{
	metrics_init(&base);
	metrics_work_done(1, 2, METRICS_SUCCESS);
}

static void worker_out_of_range(void)
{
	metrics_init(&base); /* max_workers 2 */
	metrics_work_start(2, 1);
}

static void test_worker_contract(void)
{
	expect_abort(double_start, "double start");
	expect_abort(idle_done, "done while idle");
	expect_abort(worker_out_of_range, "worker out of range");
}

static void test_requests(void)
{
	CHECK_EQ_INT(metrics_init(&base), 0);
	metrics_request("GET", 200, 3000);
	metrics_request("GET", 200, 30000);
	metrics_request("GET", 404, 100);
	metrics_request("POST", 201, 5000);
	metrics_request("PATCH", 0, 1);
	metrics_request("PATCH", -110, 1);
	metrics_request("PATCH", 42, 1); /* no such status: a transport-level failure */
	metrics_request("BREW", 418, 1);
	metrics_request("PUT", 200, 61000000);
	metrics_request("DELETE", 200, 1);
	render(0);
	CHECK_EQ_INT(value("rest_client_requests_total{code=\"200\",method=\"GET\",host=\"10.96.0.1:443\"}"), 2);
	CHECK_EQ_INT(value("rest_client_requests_total{code=\"404\",method=\"GET\",host=\"10.96.0.1:443\"}"), 1);
	CHECK_EQ_INT(value("rest_client_requests_total{code=\"201\",method=\"POST\",host=\"10.96.0.1:443\"}"), 1);
	CHECK_EQ_INT(value("rest_client_requests_total{code=\"<error>\",method=\"PATCH\",host=\"10.96.0.1:443\"}"), 3);
	CHECK_EQ_INT(value("rest_client_requests_total{code=\"418\",method=\"other\",host=\"10.96.0.1:443\"}"), 1);
	CHECK_EQ_INT(value("rest_client_request_duration_seconds_bucket{verb=\"GET\",host=\"10.96.0.1:443\",le=\"0.005\"}"), 2);
	CHECK_EQ_INT(value("rest_client_request_duration_seconds_bucket{verb=\"GET\",host=\"10.96.0.1:443\",le=\"0.025\"}"), 2);
	CHECK_EQ_INT(value("rest_client_request_duration_seconds_bucket{verb=\"GET\",host=\"10.96.0.1:443\",le=\"0.1\"}"), 3);
	CHECK_EQ_INT(value("rest_client_request_duration_seconds_count{verb=\"GET\",host=\"10.96.0.1:443\"}"), 3);
	CHECK_EQ_INT(value_ns("rest_client_request_duration_seconds_sum{verb=\"GET\",host=\"10.96.0.1:443\"}"),
		     33100000LL);
	CHECK_EQ_INT(value("rest_client_request_duration_seconds_bucket{verb=\"PUT\",host=\"10.96.0.1:443\",le=\"60\"}"), 0);
	CHECK_EQ_INT(value("rest_client_request_duration_seconds_bucket{verb=\"PUT\",host=\"10.96.0.1:443\",le=\"+Inf\"}"), 1);
	CHECK_EQ_INT(value("rest_client_request_duration_seconds_count{verb=\"other\",host=\"10.96.0.1:443\"}"), 1);
	/* one HELP/TYPE per family, however many series */
	{
		int types = 0;
		for (const char *p = page; (p = strstr(p, "# TYPE rest_client_request_duration_seconds ")) != NULL; p++)
			types++;
		CHECK_EQ_INT(types, 1);
	}
}

/* More (method, code) pairs than the table holds: the rest are counted, per method, as "other". */
static void test_request_table_bound(void)
{
	long long total = 0;
	int rows = 0;
	const char *p;

	CHECK_EQ_INT(metrics_init(&base), 0);
	for (int code = 100; code < 100 + METRICS_REQ_ROWS + 30; code++)
		metrics_request(code % 2 ? "GET" : "PATCH", code, 1);
	metrics_request("PATCH", 100, 1); /* a known pair still counts in its own row */
	render(0);
	for (p = page; (p = strstr(p, "\nrest_client_requests_total{")) != NULL; p++) {
		rows++;
		total += strtoll(strchr(p, '}') + 2, NULL, 10);
	}
	CHECK_EQ_INT(rows, METRICS_REQ_ROWS + 2);
	CHECK_EQ_INT(total, METRICS_REQ_ROWS + 30 + 1);
	CHECK_EQ_INT(value("rest_client_requests_total{code=\"100\",method=\"PATCH\",host=\"10.96.0.1:443\"}"), 2);
	CHECK_EQ_INT(value("rest_client_requests_total{code=\"other\",method=\"GET\",host=\"10.96.0.1:443\"}"), 15);
	CHECK_EQ_INT(value("rest_client_requests_total{code=\"other\",method=\"PATCH\",host=\"10.96.0.1:443\"}"), 15);
}

static void test_leader(void)
{
	CHECK_EQ_INT(metrics_init(&base), 0);
	render(0);
	CHECK_EQ_INT(value("leader_election_master_status{name=\"pizza-controller-leader\"}"), 0);
	metrics_set_leader(1);
	render(0);
	CHECK_EQ_INT(value("leader_election_master_status{name=\"pizza-controller-leader\"}"), 1);
	metrics_set_leader(0);
	render(0);
	CHECK_EQ_INT(value("leader_election_master_status{name=\"pizza-controller-leader\"}"), 0);
}

/* The process figures against the kernel's own: statm, an fd we open, getrlimit, the clock. */
static void test_process(void)
{
	struct rlimit rl;
	struct timespec ts;
	long long fds, rss, start_ns;
	char statm[128];
	long pages_rss = 0;
	int extra;
	FILE *f;

	CHECK_EQ_INT(metrics_init(&base), 0);
	render(0);
	fds = value("process_open_fds");
	CHECK(fds >= 3);
	extra = open("/dev/null", O_RDONLY);
	render(0);
	CHECK_EQ_INT(value("process_open_fds"), fds + 1);
	close(extra);
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHECK_EQ_INT(value("process_max_fds"), (long long)rl.rlim_cur);
	rss = value("process_resident_memory_bytes");
	f = fopen("/proc/self/statm", "r");
	CHECK(f && fgets(statm, sizeof statm, f));
	if (f)
		fclose(f);
	sscanf(statm, "%*s %ld", &pages_rss);
	/* a render and a fopen apart: within 1 MiB of each other */
	CHECK(rss > 0 && llabs(rss - pages_rss * sysconf(_SC_PAGESIZE)) < 1024 * 1024);
	CHECK(value("process_virtual_memory_bytes") >= rss);
	CHECK(value_ns("process_cpu_seconds_total") >= 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	start_ns = value_ns("process_start_time_seconds");
	/* this test process started less than 10 minutes ago, and not in the future */
	CHECK(start_ns > (ts.tv_sec - 600) * 1000000000LL);
	CHECK(start_ns <= ts.tv_sec * 1000000000LL + ts.tv_nsec + 50000000LL);
	/* burn CPU: the counter moves */
	{
		long long c0 = value_ns("process_cpu_seconds_total");
		volatile uint64_t x = 0;
		clock_t t0 = clock();
		while (clock() - t0 < CLOCKS_PER_SEC / 5)
			x += 1;
		render(0);
		CHECK(value_ns("process_cpu_seconds_total") > c0);
	}
}

/* Output bounded by cap: the exact length fits, one less is PZ_ETOOBIG, and nothing is written past
 * cap (the buffer ends at a PROT_NONE page). */
static void test_render_bounds(void)
{
	struct guard g;
	int n, m;

	CHECK_EQ_INT(metrics_init(&base), 0);
	metrics_request("GET", 200, 1);
	n = render(0);
	guard_init(&g, (size_t)n);
	m = metrics_render(g.end - n, (size_t)n, 0);
	CHECK(m == n || m == n + 1 || m == n - 1); /* the fd count may differ by the render's own */
	if (m == n)
		CHECK(memcmp(g.end - n, page, 64) == 0);
	CHECK_EQ_INT(metrics_render(g.end - (n - 100), (size_t)(n - 100), 0), PZ_ETOOBIG);
	CHECK_EQ_INT(metrics_render(g.end - 1, 1, 0), PZ_ETOOBIG);
	CHECK_EQ_INT(metrics_render(g.end, 0, 0), PZ_ETOOBIG);
	guard_free(&g);
}

/* The usual page, filled as a run would fill it, through promtool. */
static void test_promtool_usual(void)
{
	int64_t t = 0;

	CHECK_EQ_INT(metrics_init(&base), 0);
	for (int i = 0; i < 100; i++) {
		metrics_queue_add();
		metrics_queue_wait(i * 37);
		metrics_work_start(0, t);
		metrics_request("GET", 200, 900 + i);
		metrics_request(i % 3 ? "PATCH" : "POST", i % 7 ? 201 : 409, 2000 + i);
		t += 4000 + i * 100;
		metrics_work_done(0, t, i % 5 ? METRICS_SUCCESS : METRICS_ERROR);
		if (i % 5 == 0)
			metrics_queue_retry();
	}
	metrics_request("GET", 0, 10000000);
	metrics_set_leader(1);
	metrics_work_start(1, t);
	render(t + 1500000);
	fprintf(stderr, "usual page: %zu bytes\n", strlen(page));
	CHECK_EQ_INT(promtool("usual", 0), 0);
}

/* The largest page there can be: every label at its bound, the request table full with overflow
 * rows for every method, a histogram for every verb. Counters cannot reach 20 digits in a test,
 * so each sample's number is charged its widest form (30 bytes: "18446744073709551615" or a
 * seconds value with 9 decimals) on top of what was printed. The total must fit METRICS_PAGE_MAX. */
static void test_worst_case_bound(void)
{
	static const char *const verbs[] = { "GET", "POST", "PUT", "PATCH", "DELETE", "BREW" };
	char host[METRICS_HOST_MAX], name[METRICS_NAME_MAX], lease[METRICS_NAME_MAX], build[METRICS_BUILD_MAX];
	struct metrics_info i = base;
	size_t len, samples = 0, worst;
	int n;

	memset(host, 'h', sizeof host - 1);
	host[sizeof host - 1] = 0;
	memset(name, 'c', sizeof name - 1);
	name[sizeof name - 1] = 0;
	memset(lease, 'l', sizeof lease - 1);
	lease[sizeof lease - 1] = 0;
	memset(build, 'v', sizeof build - 1);
	build[sizeof build - 1] = 0;
	i.host = host;
	i.controller = name;
	i.lease = lease;
	i.version = build;
	i.revision = build;
	i.max_workers = METRICS_WORKERS_MAX;
	CHECK_EQ_INT(metrics_init(&i), 0);
	for (int code = 100; code < 100 + METRICS_REQ_ROWS; code++)
		metrics_request("GET", code, 1);
	for (size_t v = 0; v < PZ_ARRAY_LEN(verbs); v++)
		metrics_request(verbs[v], 999, 1); /* the table is full: an overflow row each */
	for (unsigned w = 0; w < METRICS_WORKERS_MAX; w++)
		metrics_work_start(w, 0);
	n = metrics_render(page, sizeof page - 1, 1);
	CHECK(n > 0);
	len = n > 0 ? (size_t)n : 0;
	page[len] = 0;
	for (const char *p = page; *p; p = strchr(p, '\n') + 1)
		samples += *p != '#';
	worst = len + samples * 30;
	fprintf(stderr, "worst-case page: %zu bytes printed, %zu samples, bound with widest numbers %zu "
		"(METRICS_PAGE_MAX %d)\n", len, samples, worst, METRICS_PAGE_MAX);
	CHECK(worst <= METRICS_PAGE_MAX);
	CHECK_EQ_INT(promtool("worst-case", 0), 0);
}

/* promtool.sh can fail: a page with a broken line does not pass. */
static void test_promtool_catches(void)
{
	CHECK_EQ_INT(metrics_init(&base), 0);
	render(0);
	strcat(page, "pizza_broken{le=\"x\" 1\n");
	CHECK(promtool("deliberately broken", 1) != 0);
}

int main(void)
{
	run("init", test_init);
	run("reconcile_histogram", test_reconcile_histogram);
	run("queue", test_queue);
	run("workers", test_workers);
	run("worker_contract", test_worker_contract);
	run("requests", test_requests);
	run("request_table_bound", test_request_table_bound);
	run("leader", test_leader);
	run("process", test_process);
	run("render_bounds", test_render_bounds);
	run("promtool_usual", test_promtool_usual);
	run("worst_case_bound", test_worst_case_bound);
	run("promtool_catches", test_promtool_catches);
	return check_done("test_metrics");
}
