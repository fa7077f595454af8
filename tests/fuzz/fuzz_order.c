/*
 * fuzz_order.c - libFuzzer target for the PizzaOrder rules (src/order.h) on arbitrary JSON.
 *
 * Input layout: byte 0 sets the oven Pod fields of the slot (phase, deleting, owned, generation
 * match), the rest is a JSON document: an order, a Pod, or a watch event whose "object" is one.
 * order_read and order_read_pod run on the document (and on its "object"). When order_read accepts
 * it, a table slot is built from the result and the writers run into fixed buffers:
 *   - order_decide leaves a NUL-terminated message and a phase, reason and action in range;
 *   - order_status_patch and order_pod_body, when they succeed, write JSON that parses;
 *   - the status patch, merged into an order, reads back with the digest the decision carries, so a
 *     status we wrote is never seen as "different" and rewritten for ever;
 *   - the Pod body reads back with order_read_pod as a Pod of this order: same namespace and name,
 *     the order's uid as controller, the order's generation.
 */
#include "json.h"
#include "fuzz.h"
#include "order.h"
#include "pz.h"
#include "table.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The Pod body the way reconcile builds it: toppings joined from the spec, then the body. */
static int make_pod_body(struct json_w *w, const struct table_slot *s, const struct json_doc *d, int spec,
	const struct oven_config *oven)
{
	char tops[ORDER_TOPPINGS_TEXT_MAX + 1];
	int rc = order_toppings_text(d, spec, tops, sizeof tops);
	return rc < 0 ? rc : order_pod_body(w, s, tops, oven);
}

/* An order is ~100 tokens; 1024 leaves room for managedFields and whatever the fuzzer adds. */
#define TOKENS_MAX 1024
/* 2026-09-21, a fixed clock: the writers take time as an argument, and the digest ignores it. */
#define NOW_WALL INT64_C(1790000000)
/* The Pod body is ~1.5 KiB with ten 32-byte toppings and 63-byte names; a status patch ~600 bytes. */
#define POD_BODY_MAX 8192
#define PATCH_MAX 4096


static jsmntok_t tok[TOKENS_MAX], tok2[TOKENS_MAX];

static const struct oven_config oven = {
	.image = "registry.example/pizza-oven:1",
	.command = "sleep \"$BAKE_SECONDS\"; echo \"$PIZZA_SIZE with $PIZZA_TOPPINGS\"",
	.bake_seconds = { 0, 30, 45, 60 },
};

static int str_is(const struct json_doc *d, int i, const char *want)
{
	char got[ORDER_MESSAGE_MAX + 8];
	return json_str(d, i, got, sizeof got) >= 0 && strcmp(got, want) == 0;
}

static void check_name(const char *s)
{
	size_t n = strnlen(s, TABLE_NAME_MAX);
	CHECK(n > 0 && n < TABLE_NAME_MAX);
}

/* Merges the patch's status into {"metadata":..} of the slot and reads it back as an order. */
/* patch: patch_len bytes of JSON and a NUL. */
static void status_round_trip(const struct table_slot *s, const struct order_decision *dc, const char *patch,
	size_t patch_len)
{
	static char doc[PATCH_MAX + 512];
	char uid[37];
	struct json_w w;
	struct json_doc d;
	struct order_key k;
	struct order_state st;
	int n;

	order_uid_format(s->o.uid, uid);
	json_w_init(&w, doc, sizeof doc - patch_len);
	json_w_obj(&w);
	json_w_key(&w, "metadata");
	json_w_obj(&w);
	json_w_kstr(&w, "namespace", s->ns);
	json_w_kstr(&w, "name", s->name);
	json_w_kstr(&w, "uid", uid);
	json_w_kint(&w, "generation", s->o.generation);
	json_w_close(&w);
	json_w_close(&w);
	n = json_w_end(&w);
	CHECK(n > 2 && doc[n - 1] == '}' && patch[0] == '{');
	doc[n - 1] = ',';                              /* {"metadata":{..}, */
	memcpy(doc + n, patch + 1, patch_len);         /* "status":{..}} and the patch's NUL */
	n += (int)patch_len - 1;
	CHECK(json_parse(&d, doc, (size_t)n, tok2, TOKENS_MAX) > 0);
	memset(&st, 0, sizeof st);
	CHECK(order_read(&d, 0, &k, &st) == 0);
	CHECK(strcmp(k.ns, s->ns) == 0 && strcmp(k.name, s->name) == 0);
	CHECK(memcmp(st.uid, s->o.uid, 16) == 0);
	CHECK(st.status_phase == dc->phase);
	CHECK(st.ready_status == dc->ready);
	CHECK(st.status_gen == s->o.generation);
	CHECK(st.status_hash == dc->hash);
}

static void pod_round_trip(const struct table_slot *s, const char *body, size_t len)
{
	struct json_doc d;
	struct order_key k;
	uint8_t phase, deleting, owner[16];
	int64_t gen;

	CHECK(json_parse(&d, body, len, tok2, TOKENS_MAX) > 0);
	CHECK(order_read_pod(&d, 0, &k, &phase, &gen, &deleting, owner) == 0);
	CHECK(strcmp(k.ns, s->ns) == 0 && strcmp(k.name, s->name) == 0);
	CHECK(memcmp(owner, s->o.uid, 16) == 0);
	CHECK(phase == POD_PENDING && deleting == 0);
	/* Kubernetes generations start at 1 and count edits; the label reader takes up to 18 digits. */
	if (s->o.generation >= 0 && s->o.generation < INT64_C(100000000000000000))
		CHECK(gen == s->o.generation);
}

static void writers(const struct json_doc *d, int obj, const struct order_key *key,
	const struct order_state *st, uint8_t pod_bits)
{
	static char patch[PATCH_MAX], body[POD_BODY_MAX];
	static const uint8_t pod_phases[] = { POD_NONE, POD_PENDING, POD_RUNNING, POD_SUCCEEDED, POD_FAILED,
		POD_UNKNOWN, POD_NONE, POD_RUNNING };
	struct table_slot s;
	struct order_decision dc;
	struct json_w w;
	struct json_doc pd;
	int n;

	memset(&s, 0, sizeof s);
	memcpy(s.ns, key->ns, sizeof s.ns);
	memcpy(s.name, key->name, sizeof s.name);
	s.state = SLOT_RUNNING;
	s.o = *st;
	s.o.pod_phase = pod_phases[pod_bits & 7];
	s.o.pod_deleting = (pod_bits >> 3) & 1;
	s.o.pod_owned = (pod_bits >> 4) & 1;
	s.o.pod_gen = (pod_bits >> 5) & 1 ? s.o.generation : s.o.generation - 1;

	memset(&dc, 0, sizeof dc);
	order_decide(&s, &dc);
	CHECK(dc.action == ACT_NONE || dc.action == ACT_CREATE_POD || dc.action == ACT_DELETE_POD);
	CHECK(memchr(dc.message, 0, sizeof dc.message) != NULL);
	CHECK(dc.phase <= PHASE_FAILED && dc.ready <= 2 && dc.reason != NULL);
	if (dc.action == ACT_CREATE_POD)
		CHECK(s.o.pod_phase == POD_NONE && s.o.spec_err == SPEC_OK);

	json_w_init(&w, patch, sizeof patch);
	n = order_status_patch(&w, &s, &dc, NOW_WALL);
	CHECK(n >= 0 || n == PZ_ETOOBIG);
	if (n >= 0) {
		CHECK(json_parse(&pd, patch, (size_t)n, tok2, TOKENS_MAX) > 0);
		CHECK(str_is(&pd, json_path(&pd, 0, "status.message"), dc.message));
		CHECK(str_is(&pd, json_path(&pd, 0, "status.phase"), order_phase_name(dc.phase)));
		if (dc.reason[0]) /* a decision that wants a status (not "leave the baked one alone") */
			status_round_trip(&s, &dc, patch, (size_t)n);
	}

	json_w_init(&w, body, sizeof body);
	n = make_pod_body(&w, &s, d, json_get(d, obj, "spec"), &oven);
	CHECK(n >= 0 || n == PZ_ETOOBIG);
	if (st->spec_err == SPEC_OK)
		CHECK(n >= 0); /* a valid spec always gives a Pod */
	if (n >= 0)
		pod_round_trip(&s, body, (size_t)n);
}

static void read_object(const struct json_doc *d, int obj, uint8_t pod_bits)
{
	struct order_key key;
	struct order_state st;
	uint8_t phase = 0xff, deleting = 0xff, owner[16];
	int64_t gen;
	int rc;

	memset(&key, 0, sizeof key);
	rc = order_read_pod(d, obj, &key, &phase, &gen, &deleting, owner);
	CHECK(rc == 0 || rc == PZ_EJSON);
	if (rc == 0) {
		check_name(key.ns);
		check_name(key.name);
		CHECK(phase >= POD_PENDING && phase <= POD_UNKNOWN && deleting <= 1 && gen >= -1);
	}

	memset(&key, 0, sizeof key);
	memset(&st, 0, sizeof st);
	rc = order_read(d, obj, &key, &st);
	CHECK(rc == 0 || rc == PZ_EJSON || rc == PZ_ETOOBIG);
	if (rc < 0)
		return;
	check_name(key.ns);
	check_name(key.name);
	CHECK(st.size <= SIZE_LARGE && st.ntoppings <= ORDER_TOPPINGS_MAX);
	CHECK(st.spec_err <= SPEC_SIZE_LIMIT && st.status_phase <= PHASE_FAILED && st.ready_status <= 2);
	if (st.spec_err == SPEC_OK)
		CHECK(st.size != SIZE_NONE);
	writers(d, obj, &key, &st, pod_bits);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_doc d;
	char *buf;
	int ev;

	if (size < 1)
		return 0;
	buf = malloc(size - 1 ? size - 1 : 1);
	CHECK(buf);
	memcpy(buf, data + 1, size - 1);
	if (json_parse(&d, buf, size - 1, tok, TOKENS_MAX) > 0) {
		read_object(&d, 0, data[0]);
		ev = json_get(&d, 0, "object");
		if (ev >= 0)
			read_object(&d, ev, data[0]);
	}
	free(buf);
	return 0;
}
