/*
 * order.c - the PizzaOrder rules (see order.h). No I/O here.
 */
#include "fmt.h"
#include "order.h"
#include "pz.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const size_names[] = { "", "small", "medium", "large" };
static const char *const phase_names[] = { "", "Pending", "Baking", "Ready", "Failed" };
/* How many toppings each size holds: a rule the CRD schema of v1.20 cannot express. */
static const uint8_t size_topping_limit[] = { 0, 3, 6, 10 };

const char *order_size_name(int size) { return size > 0 && size < 4 ? size_names[size] : "unknown"; }
const char *order_phase_name(int phase) { return phase > 0 && phase < 5 ? phase_names[phase] : ""; }

/* ---- uid ---- */

static int hexv(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

int order_uid_parse(const char *t, size_t len, uint8_t out[16])
{
	int k = 0;
	if (len != 36)
		return PZ_EJSON;
	for (size_t i = 0; i < 36;) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (t[i] != '-')
				return PZ_EJSON;
			i++;
			continue;
		}
		int h = hexv(t[i]), l = hexv(t[i + 1]);
		if (h < 0 || l < 0)
			return PZ_EJSON;
		out[k++] = (uint8_t)(h << 4 | l);
		i += 2;
	}
	return 0;
}

void order_uid_format(const uint8_t u[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	int o = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[u[i] >> 4];
		out[o++] = hex[u[i] & 15];
	}
	out[o] = 0;
}

/* ---- status digest ---- */

static uint32_t fnv(uint32_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return (h ^ 0xff) * 16777619u; /* field separator, so "ab","c" differs from "a","bc" */
}

static uint32_t status_digest(const char *phase, const char *reason, const char *message,
	const char *oven, int64_t gen, int ready)
{
	/* the numbers as raw bytes: a digest needs no decimal text (and no printf per event) */
	unsigned char num[9];
	uint32_t h = 2166136261u;
	for (int k = 0; k < 8; k++)
		num[k] = (unsigned char)((uint64_t)gen >> (8 * k));
	num[8] = (unsigned char)ready;
	h = fnv(h, phase, strlen(phase));
	h = fnv(h, reason, strlen(reason));
	h = fnv(h, message, strlen(message));
	h = fnv(h, oven, strlen(oven));
	return fnv(h, (const char *)num, sizeof num);
}

/* ---- reading ---- */

static int digits(const char *p, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* "2006-01-02T15:04:05Z" -> epoch seconds, 0 when malformed. Days from the civil date with
 * Howard Hinnant's algorithm: no libc time zone code. */
static int64_t parse_rfc3339(const char *t)
{
	int y = digits(t, 4), mo = digits(t + 5, 2), da = digits(t + 8, 2);
	int h = digits(t + 11, 2), mi = digits(t + 14, 2), se = digits(t + 17, 2);
	if (y < 0 || mo < 1 || mo > 12 || da < 1 || da > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
	    se < 0 || se > 60 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':' ||
	    t[19] != 'Z')
		return 0;
	y -= mo <= 2;
	int era = y / 400;
	int yoe = y - era * 400;
	int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + da - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = (int64_t)era * 146097 + doe - 719468;
	return days * 86400 + h * 3600 + mi * 60 + se;
}

/* RFC 1123, as the API server requires them: a label (namespaces) is [a-z0-9]([-a-z0-9]*[a-z0-9])?,
 * a subdomain (object names, dots = 1) is labels joined by dots. Names go into request paths
 * unescaped (reconcile.c, events.c), so a name is refused here unless it is one: a hostile server's
 * "../../kube-system/secrets/x" or "o?dryRun=All" never becomes a path. */
int order_dns_name_ok(const char *s, int dots)
{
	char prev = '.'; /* a label starts here */
	for (; *s; s++) {
		char c = *s;
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && prev != '.') ||
		    (c == '.' && dots && prev != '.' && prev != '-')) {
			prev = c;
			continue;
		}
		return 0;
	}
	return prev != '.' && prev != '-';
}

static int copy_name(const struct json_doc *d, int tok, char *out, int dots)
{
	int n = json_str(d, tok, out, TABLE_NAME_MAX);
	if (n == PZ_ETOOBIG)
		return PZ_ETOOBIG;
	if (n <= 0 || !order_dns_name_ok(out, dots))
		return PZ_EJSON;
	return 0;
}

static int is_topping_char(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (!first && ((c >= '0' && c <= '9') || c == '-'));
}

void order_validate(const struct json_doc *d, int spec, struct order_state *st)
{
	int sz, tops, i, n;

	st->size = SIZE_NONE;
	st->ntoppings = 0;
	st->spec_err = SPEC_OK;
	st->err_a = st->err_b = 0;
	if (spec < 0 || d->tok[spec].type != JSMN_OBJECT) {
		st->spec_err = SPEC_MISSING;
		return;
	}
	sz = json_get(d, spec, "size");
	if (sz < 0) {
		st->spec_err = SPEC_NO_SIZE;
		return;
	}
	for (int s = SIZE_SMALL; s <= SIZE_LARGE; s++)
		if (json_eq(d, sz, size_names[s]))
			st->size = (uint8_t)s;
	if (st->size == SIZE_NONE) {
		st->spec_err = SPEC_BAD_SIZE;
		return;
	}
	tops = json_get(d, spec, "toppings");
	if (tops < 0 || d->tok[tops].type == JSMN_PRIMITIVE) { /* absent or null: a plain pizza */
		if (tops >= 0 && !(d->buf[d->tok[tops].start] == 'n'))
			st->spec_err = SPEC_TOPPINGS_TYPE;
		return;
	}
	if (d->tok[tops].type != JSMN_ARRAY) {
		st->spec_err = SPEC_TOPPINGS_TYPE;
		return;
	}
	n = d->tok[tops].size;
	if (n > ORDER_TOPPINGS_MAX) {
		st->spec_err = SPEC_TOO_MANY;
		st->err_a = (uint8_t)(n > 255 ? 255 : n);
		return;
	}
	i = tops + 1;
	for (int k = 0; k < n; k++, i = json_skip(d, i)) {
		const jsmntok_t *t = &d->tok[i];
		int len = t->end - t->start;
		if (t->type != JSMN_STRING) {
			st->spec_err = SPEC_TOPPINGS_TYPE;
			return;
		}
		int ok = len > 0 && len <= ORDER_TOPPING_LEN_MAX;
		for (int c = 0; ok && c < len; c++)
			ok = is_topping_char(d->buf[t->start + c], c == 0);
		if (!ok) {
			st->spec_err = SPEC_BAD_TOPPING;
			st->err_a = (uint8_t)k;
			return;
		}
		/* duplicates: at most 10 x 10 comparisons of 32 bytes */
		int j = tops + 1;
		for (int m = 0; m < k; m++, j = json_skip(d, j)) {
			const jsmntok_t *u = &d->tok[j];
			if (u->end - u->start == len && memcmp(d->buf + u->start, d->buf + t->start, (size_t)len) == 0) {
				st->spec_err = SPEC_DUPLICATE;
				st->err_a = (uint8_t)k;
				st->err_b = (uint8_t)m;
				return;
			}
		}
	}
	st->ntoppings = (uint8_t)n;
	if (n > size_topping_limit[st->size]) {
		st->spec_err = SPEC_SIZE_LIMIT;
		st->err_a = (uint8_t)n;
		st->err_b = size_topping_limit[st->size];
	}
}

void order_spec_message(const struct order_state *st, char *out, size_t cap)
{
	switch (st->spec_err) {
	case SPEC_MISSING: pz_snprintf(out, cap, "spec is missing"); break;
	case SPEC_NO_SIZE: pz_snprintf(out, cap, "spec.size is required"); break;
	case SPEC_BAD_SIZE: pz_snprintf(out, cap, "spec.size must be one of small, medium, large"); break;
	case SPEC_TOPPINGS_TYPE: pz_snprintf(out, cap, "spec.toppings must be a list of strings"); break;
	case SPEC_TOO_MANY:
		pz_snprintf(out, cap, "spec.toppings has %u entries, at most %d are allowed", st->err_a, ORDER_TOPPINGS_MAX);
		break;
	case SPEC_BAD_TOPPING:
		pz_snprintf(out, cap, "spec.toppings[%u] must be 1-%d characters of a-z, 0-9 and '-', starting with a letter",
			st->err_a, ORDER_TOPPING_LEN_MAX);
		break;
	case SPEC_DUPLICATE:
		pz_snprintf(out, cap, "spec.toppings[%u] repeats spec.toppings[%u]", st->err_a, st->err_b);
		break;
	case SPEC_SIZE_LIMIT:
		pz_snprintf(out, cap, "a %s pizza holds at most %u toppings, this order has %u",
			order_size_name(st->size), st->err_b, st->err_a);
		break;
	default: pz_snprintf(out, cap, "spec is valid"); break;
	}
}

int order_read(const struct json_doc *d, int obj, struct order_key *key, struct order_state *st)
{
	int meta = json_get(d, obj, "metadata"), t, rc, status;
	char phase[16] = "", reason[32] = "", message[ORDER_MESSAGE_MAX] = "", oven[TABLE_NAME_MAX + 8] = "";
	int64_t obs = 0;
	int ready = 0;

	if (meta < 0)
		return PZ_EJSON;
	/* An object of another kind is not an order, whatever its stream says (custom resources
	 * always carry both fields). */
	t = json_get(d, obj, "kind");
	if (t >= 0 && !json_eq(d, t, ORDER_KIND))
		return PZ_EJSON;
	t = json_get(d, obj, "apiVersion");
	if (t >= 0 && !json_eq(d, t, ORDER_API_VERSION))
		return PZ_EJSON;
	if ((rc = copy_name(d, json_get(d, meta, "namespace"), key->ns, 0)) < 0 ||
	    (rc = copy_name(d, json_get(d, meta, "name"), key->name, 1)) < 0)
		return rc;
	t = json_get(d, meta, "uid");
	if (t < 0 || order_uid_parse(d->buf + d->tok[t].start, (size_t)(d->tok[t].end - d->tok[t].start), st->uid) < 0)
		return PZ_EJSON;
	st->generation = 0;
	if (json_int(d, json_get(d, meta, "generation"), &st->generation) < 0)
		st->generation = 0; /* CRDs always set it; treat its absence as generation 0 */
	order_validate(d, json_get(d, obj, "spec"), st);

	status = json_get(d, obj, "status");
	st->status_phase = PHASE_NONE;
	st->ready_status = 0;
	st->ready_since = 0;
	st->status_gen = 0;
	if (status >= 0) {
		/* Over-long values cannot be ours: they read as "different", and we rewrite them. */
		json_str(d, json_get(d, status, "phase"), phase, sizeof phase);
		json_str(d, json_get(d, status, "message"), message, sizeof message);
		json_str(d, json_get(d, status, "ovenPod"), oven, sizeof oven);
		json_int(d, json_get(d, status, "observedGeneration"), &obs);
		for (int p = PHASE_PENDING; p <= PHASE_FAILED; p++)
			if (strcmp(phase, phase_names[p]) == 0)
				st->status_phase = (uint8_t)p;
		st->status_gen = obs;
		int conds = json_get(d, status, "conditions");
		if (conds >= 0 && d->tok[conds].type == JSMN_ARRAY) {
			int i = conds + 1;
			for (int k = 0; k < d->tok[conds].size; k++, i = json_skip(d, i)) {
				if (!json_eq(d, json_get(d, i, "type"), "Ready"))
					continue;
				int s = json_get(d, i, "status");
				ready = json_eq(d, s, "True") ? 2 : json_eq(d, s, "False") ? 1 : 0;
				json_str(d, json_get(d, i, "reason"), reason, sizeof reason);
				char ltt[32];
				int lt = json_get(d, i, "lastTransitionTime");
				if (json_str(d, lt, ltt, sizeof ltt) == 20)
					st->ready_since = parse_rfc3339(ltt);
			}
		}
	}
	st->ready_status = (uint8_t)ready;
	st->status_hash = status_digest(phase, reason, message, oven, obs, ready);
	return 0;
}

int order_read_pod(const struct json_doc *d, int obj, struct order_key *key, uint8_t *phase,
	int64_t *generation, uint8_t *deleting, uint8_t owner_uid[16])
{
	int meta = json_get(d, obj, "metadata"), labels, t, owners;
	char gen[24];

	memset(owner_uid, 0, 16);
	labels = json_get(d, meta, "labels");
	if (meta < 0 || labels < 0)
		return PZ_EJSON;
	/* Pod list items carry no kind; a watch event's object does */
	t = json_get(d, obj, "kind");
	if (t >= 0 && !json_eq(d, t, "Pod"))
		return PZ_EJSON;
	if (copy_name(d, json_get(d, meta, "namespace"), key->ns, 0) < 0 ||
	    copy_name(d, json_get(d, labels, ORDER_LABEL_ORDER), key->name, 1) < 0)
		return PZ_EJSON;
	*generation = -1;
	t = json_get(d, labels, ORDER_LABEL_GENERATION);
	if (json_str(d, t, gen, sizeof gen) > 0) {
		int64_t g = 0;
		int ok = 1;
		for (const char *p = gen; *p; p++) {
			if (*p < '0' || *p > '9' || g > INT64_MAX / 10 - 9) {
				ok = 0;
				break;
			}
			g = g * 10 + (*p - '0');
		}
		if (ok)
			*generation = g;
	}
	*deleting = json_get(d, meta, "deletionTimestamp") >= 0 &&
		    d->tok[json_get(d, meta, "deletionTimestamp")].type == JSMN_STRING;
	owners = json_get(d, meta, "ownerReferences");
	if (owners >= 0 && d->tok[owners].type == JSMN_ARRAY) {
		int i = owners + 1;
		for (int k = 0; k < d->tok[owners].size; k++, i = json_skip(d, i)) {
			int ctl = json_get(d, i, "controller"), u = json_get(d, i, "uid");
			if (ctl < 0 || d->buf[d->tok[ctl].start] != 't' || u < 0)
				continue;
			uint8_t tmp[16];
			if (order_uid_parse(d->buf + d->tok[u].start, (size_t)(d->tok[u].end - d->tok[u].start), tmp) == 0)
				memcpy(owner_uid, tmp, 16); /* all or nothing: a half-parsed uid must not match */
		}
	}
	*phase = POD_UNKNOWN;
	t = json_path(d, obj, "status.phase");
	if (t < 0 || json_eq(d, t, "Pending"))
		*phase = POD_PENDING; /* a Pod just created has no status yet */
	else if (json_eq(d, t, "Running"))
		*phase = POD_RUNNING;
	else if (json_eq(d, t, "Succeeded"))
		*phase = POD_SUCCEEDED;
	else if (json_eq(d, t, "Failed"))
		*phase = POD_FAILED;
	return 0;
}

/* ---- deciding ---- */

static void want(struct order_decision *dc, const struct table_slot *s, uint8_t phase, uint8_t ready,
	const char *reason, int with_pod)
{
	char oven[TABLE_NAME_MAX + 8];
	dc->phase = phase;
	dc->ready = ready;
	dc->reason = reason;
	pz_snprintf(oven, sizeof oven, "%s%s", with_pod ? s->name : "", with_pod ? ORDER_POD_SUFFIX : "");
	dc->hash = status_digest(phase_names[phase], reason, dc->message, oven, s->o.generation, ready);
	dc->write_status = dc->hash != s->o.status_hash;
}

void order_decide_error(const struct table_slot *s, const char *message, struct order_decision *dc)
{
	uint8_t phase = s->o.status_phase != PHASE_NONE ? s->o.status_phase : PHASE_PENDING;
	dc->action = ACT_NONE;
	pz_snprintf(dc->message, sizeof dc->message, "%s", message);
	/* The oven name stays as last written: an error says nothing new about the Pod. */
	want(dc, s, phase, 1, "ReconcileError", phase != PHASE_FAILED || s->o.pod_phase != POD_NONE);
}

void order_decide(const struct table_slot *s, struct order_decision *dc)
{
	const struct order_state *o = &s->o;
	int pod_known = o->pod_phase != POD_NONE;
	int pod_current = pod_known && o->pod_owned && o->pod_gen == o->generation;

	dc->action = ACT_NONE;
	dc->message[0] = 0;
	if (o->spec_err) {
		/* An order edited into an invalid one must not keep an oven going. */
		if (pod_known && !o->pod_deleting)
			dc->action = ACT_DELETE_POD;
		order_spec_message(o, dc->message, sizeof dc->message);
		want(dc, s, PHASE_FAILED, 1, "InvalidSpec", 0);
		return;
	}
	if (pod_known && !pod_current) {
		/* Baked for an older generation, or left by a deleted order of the same name. */
		if (!o->pod_deleting)
			dc->action = ACT_DELETE_POD;
		pz_snprintf(dc->message, sizeof dc->message, "replacing the oven Pod for generation %lld",
			(long long)o->generation);
		want(dc, s, PHASE_PENDING, 1, "Rebaking", 1);
		return;
	}
	if (!pod_known) {
		/* A pizza baked (or burnt) for this generation stays so when its oven is cleaned away. */
		if (o->status_gen == o->generation && o->status_gen != 0 &&
		    (o->status_phase == PHASE_READY || o->status_phase == PHASE_FAILED)) {
			dc->write_status = 0;
			dc->phase = o->status_phase;
			dc->hash = o->status_hash;
			dc->reason = "";
			return;
		}
		dc->action = ACT_CREATE_POD;
		pz_snprintf(dc->message, sizeof dc->message, "waiting for the oven Pod to start");
		want(dc, s, PHASE_PENDING, 1, "OvenPending", 1);
		return;
	}
	switch (o->pod_phase) {
	case POD_PENDING:
		pz_snprintf(dc->message, sizeof dc->message, "waiting for the oven Pod to start");
		want(dc, s, PHASE_PENDING, 1, "OvenPending", 1);
		break;
	case POD_RUNNING:
		pz_snprintf(dc->message, sizeof dc->message, "baking a %s pizza with %u topping%s",
			order_size_name(o->size), o->ntoppings, o->ntoppings == 1 ? "" : "s");
		want(dc, s, PHASE_BAKING, 1, "Baking", 1);
		break;
	case POD_SUCCEEDED:
		pz_snprintf(dc->message, sizeof dc->message, "baked a %s pizza with %u topping%s",
			order_size_name(o->size), o->ntoppings, o->ntoppings == 1 ? "" : "s");
		want(dc, s, PHASE_READY, 2, "Baked", 1);
		break;
	case POD_FAILED:
		pz_snprintf(dc->message, sizeof dc->message, "oven Pod failed; change the order to bake again");
		want(dc, s, PHASE_FAILED, 1, "OvenFailed", 1);
		break;
	default:
		pz_snprintf(dc->message, sizeof dc->message, "oven Pod state is unknown");
		want(dc, s, PHASE_PENDING, 1, "OvenUnknown", 1);
		break;
	}
}

/* ---- writing ---- */

static void kv(struct json_w *w, const char *k, const char *v) { json_w_kstr(w, k, v); }

int order_toppings_text(const struct json_doc *d, int spec, char *out, size_t cap)
{
	size_t tl = 0;
	int t = json_get(d, spec, "toppings");

	out[0] = 0;
	if (t >= 0 && d->tok[t].type == JSMN_ARRAY) {
		int i = t + 1;
		for (int k = 0; k < d->tok[t].size; k++, i = json_skip(d, i)) {
			int len = d->tok[i].end - d->tok[i].start;
			if (len <= 0 || tl + (size_t)len + 2 > cap)
				return PZ_ETOOBIG; /* validated before; cannot happen on a valid spec */
			if (tl)
				out[tl++] = ',';
			memcpy(out + tl, d->buf + d->tok[i].start, (size_t)len);
			tl += (size_t)len;
			out[tl] = 0;
		}
	}
	return (int)tl;
}

int order_pod_body(struct json_w *w, const struct table_slot *s, const char *tops, const struct oven_config *oven)
{
	char pod[TABLE_NAME_MAX + 8], uid[37], gen[24], secs[16];

	pz_snprintf(pod, sizeof pod, "%s" ORDER_POD_SUFFIX, s->name);
	order_uid_format(s->o.uid, uid);
	pz_snprintf(gen, sizeof gen, "%lld", (long long)s->o.generation);
	pz_snprintf(secs, sizeof secs, "%d", oven->bake_seconds[s->o.size]);
	json_w_obj(w);
	kv(w, "apiVersion", "v1");
	kv(w, "kind", "Pod");
	json_w_key(w, "metadata");
	json_w_obj(w);
	kv(w, "name", pod);
	kv(w, "namespace", s->ns);
	json_w_key(w, "labels");
	json_w_obj(w);
	kv(w, "app.kubernetes.io/name", "pizza-oven");
	kv(w, ORDER_LABEL_MANAGED, ORDER_MANAGER);
	kv(w, ORDER_LABEL_ORDER, s->name);
	kv(w, ORDER_LABEL_GENERATION, gen);
	json_w_close(w);
	json_w_key(w, "ownerReferences");
	json_w_arr(w);
	json_w_obj(w);
	kv(w, "apiVersion", ORDER_API_VERSION);
	kv(w, "kind", ORDER_KIND);
	kv(w, "name", s->name);
	kv(w, "uid", uid);
	json_w_key(w, "controller");
	json_w_bool(w, 1);
	json_w_key(w, "blockOwnerDeletion");
	json_w_bool(w, 1);
	json_w_close(w);
	json_w_close(w);
	json_w_close(w); /* metadata */
	json_w_key(w, "spec");
	json_w_obj(w);
	kv(w, "restartPolicy", "Never");
	json_w_key(w, "automountServiceAccountToken");
	json_w_bool(w, 0);
	json_w_key(w, "securityContext");
	json_w_obj(w);
	json_w_key(w, "runAsNonRoot");
	json_w_bool(w, 1);
	json_w_kint(w, "runAsUser", 65534);
	json_w_key(w, "seccompProfile");
	json_w_obj(w);
	kv(w, "type", "RuntimeDefault");
	json_w_close(w);
	json_w_close(w);
	json_w_key(w, "containers");
	json_w_arr(w);
	json_w_obj(w);
	kv(w, "name", "oven");
	kv(w, "image", oven->image);
	json_w_key(w, "command");
	json_w_arr(w);
	json_w_cstr(w, "/bin/sh");
	json_w_cstr(w, "-c");
	json_w_cstr(w, oven->command);
	json_w_close(w);
	json_w_key(w, "env");
	json_w_arr(w);
	const char *env[][2] = { { "PIZZA_SIZE", order_size_name(s->o.size) }, { "PIZZA_TOPPINGS", tops },
		{ "BAKE_SECONDS", secs } };
	for (size_t e = 0; e < PZ_ARRAY_LEN(env); e++) {
		json_w_obj(w);
		kv(w, "name", env[e][0]);
		kv(w, "value", env[e][1]);
		json_w_close(w);
	}
	json_w_close(w);
	json_w_key(w, "securityContext");
	json_w_obj(w);
	json_w_key(w, "allowPrivilegeEscalation");
	json_w_bool(w, 0);
	json_w_key(w, "readOnlyRootFilesystem");
	json_w_bool(w, 1);
	json_w_key(w, "capabilities");
	json_w_obj(w);
	json_w_key(w, "drop");
	json_w_arr(w);
	json_w_cstr(w, "ALL");
	json_w_close(w);
	json_w_close(w);
	json_w_close(w);
	json_w_key(w, "resources");
	json_w_obj(w);
	json_w_key(w, "requests");
	json_w_obj(w);
	kv(w, "cpu", "10m");
	kv(w, "memory", "16Mi");
	json_w_close(w);
	json_w_key(w, "limits");
	json_w_obj(w);
	kv(w, "cpu", "100m");
	kv(w, "memory", "32Mi");
	json_w_close(w);
	json_w_close(w);
	json_w_close(w); /* container */
	json_w_close(w);
	json_w_close(w); /* spec */
	json_w_close(w);
	return json_w_end(w);
}

int order_status_patch(struct json_w *w, const struct table_slot *s, const struct order_decision *dc,
	int64_t now_wall)
{
	char oven[TABLE_NAME_MAX + 8], ltt[64];
	struct tm tm;
	time_t when = (time_t)now_wall;

	/* Keep the transition time while the condition's status stays the same. */
	if (s->o.ready_status == dc->ready && s->o.ready_since > 0)
		when = (time_t)s->o.ready_since;
	gmtime_r(&when, &tm);
	pz_snprintf(ltt, sizeof ltt, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	pz_snprintf(oven, sizeof oven, "%s" ORDER_POD_SUFFIX, s->name);
	json_w_obj(w);
	/* A server-side apply configuration: every field we own, and only those. Conditions are a
	 * list-map keyed by type (crd/), so another writer's condition is not ours to remove. */
	kv(w, "apiVersion", ORDER_API_VERSION);
	kv(w, "kind", ORDER_KIND);
	json_w_key(w, "metadata");
	json_w_obj(w);
	kv(w, "name", s->name);
	kv(w, "namespace", s->ns);
	json_w_close(w);
	json_w_key(w, "status");
	json_w_obj(w);
	kv(w, "phase", phase_names[dc->phase]);
	kv(w, "message", dc->message);
	json_w_key(w, "ovenPod");
	if (strcmp(dc->reason, "InvalidSpec") == 0)
		json_w_str(w, "", 0);
	else
		json_w_cstr(w, oven);
	json_w_kint(w, "observedGeneration", s->o.generation);
	json_w_key(w, "conditions");
	json_w_arr(w);
	json_w_obj(w);
	kv(w, "type", "Ready");
	kv(w, "status", dc->ready == 2 ? "True" : "False");
	kv(w, "reason", dc->reason);
	kv(w, "message", dc->message);
	kv(w, "lastTransitionTime", ltt);
	json_w_kint(w, "observedGeneration", s->o.generation);
	json_w_close(w);
	json_w_close(w);
	json_w_close(w);
	json_w_close(w);
	return json_w_end(w);
}
