/*
 * sync.c - watch events into the table (see sync.h).
 */
#include "sync.h"
#include "log.h"
#include "order.h"
#include "pz.h"
#include "toppings.h"

#include <string.h>

static void maybe_relist_after_free(struct sync *sy, int64_t now)
{
	if (sy->overflow) {
		sy->overflow = 0;
		log_begin(LOG_INFO, "a table slot freed after orders were refused; re-listing orders");
		log_end();
		watch_request_relist(sy->orders, now);
	}
}

/* The spec's toppings into st's interned ids, so a reconcile can bake from this very event. When
 * they cannot all be interned, toppings_known stays 0 and the reconcile reads the spec with a GET. */
static void intern_toppings(const struct json_doc *d, int obj, struct order_state *st)
{
	int spec = json_get(d, obj, "spec"), t = spec >= 0 ? json_get(d, spec, "toppings") : -1, i;

	st->toppings_known = 0;
	memset(st->topping_ids, 0, sizeof st->topping_ids);
	if (st->spec_err)
		return; /* an invalid order is never baked */
	if (t >= 0 && d->tok[t].type == JSMN_ARRAY) {
		i = t + 1;
		for (int k = 0; k < d->tok[t].size; k++, i = json_skip(d, i)) {
			if (k >= (int)sizeof st->topping_ids ||
			    !(st->topping_ids[k] = toppings_intern(d->buf + d->tok[i].start,
				      (size_t)(d->tok[i].end - d->tok[i].start)))) {
				for (int j = 0; j < k; j++)
					toppings_release(st->topping_ids[j]);
				memset(st->topping_ids, 0, sizeof st->topping_ids);
				return;
			}
		}
	}
	st->toppings_known = 1;
}

static void release_toppings(struct order_state *o)
{
	for (size_t k = 0; k < sizeof o->topping_ids; k++)
		toppings_release(o->topping_ids[k]);
	memset(o->topping_ids, 0, sizeof o->topping_ids);
	o->toppings_known = 0;
}

static void on_order(void *arg, struct watch *w, enum watch_event type, const struct json_doc *d, int obj)
{
	struct sync *sy = arg;
	struct order_key key;
	struct order_state st;
	struct table_slot *s;
	int64_t now = pz_now_ms();
	int i, rc;

	memset(&st, 0, sizeof st);
	rc = order_read(d, obj, &key, &st);
	if (rc < 0) {
		sy->bad_objects++;
		log_begin(LOG_WARN, "order skipped");
		log_err(rc);
		log_str("hint", rc == PZ_ETOOBIG ? "namespace or name longer than 63 characters" : "metadata unreadable");
		log_end();
		return;
	}
	i = table_find(sy->table, key.ns, key.name);
	if (type == WATCH_DELETED) {
		if (i >= 0) {
			release_toppings(&sy->table->slot[i].o);
			table_remove(sy->table, i);
			log_begin(LOG_INFO, "order deleted");
			log_object(key.ns, key.name, NULL);
			log_str("result", "forgotten");
			log_end();
			maybe_relist_after_free(sy, now);
		}
		return;
	}
	if (i < 0) {
		i = table_insert(sy->table, key.ns, key.name, now);
		if (i < 0) {
			sy->table_full++;
			sy->overflow = 1;
			if (now - sy->full_logged_ms >= SYNC_FULL_LOG_INTERVAL_MS || sy->full_logged_ms == 0) {
				sy->full_logged_ms = now;
				log_begin(LOG_ERROR, "reconcile table full");
				log_object(key.ns, key.name, NULL);
				log_int("max_orders", sy->table->capacity);
				log_int("refused_total", (long long)sy->table_full);
				log_str("hint", "raise --max-orders; refused orders are picked up by a re-list when a slot frees");
				log_end();
			}
			return;
		}
		s = &sy->table->slot[i];
	} else {
		s = &sy->table->slot[i];
		/* Same order, nothing we act on changed (typically the echo of our own status write):
		 * no reconcile needed. */
		if (memcmp(s->o.uid, st.uid, 16) == 0 && s->o.generation == st.generation &&
		    s->o.status_hash == st.status_hash && s->o.spec_err == st.spec_err && s->o.size == st.size &&
		    s->o.ntoppings == st.ntoppings) {
			s->o.seen_epoch = w->epoch;
			s->o.status_phase = st.status_phase;
			s->o.status_gen = st.status_gen;
			return;
		}
		if (memcmp(s->o.uid, st.uid, 16) != 0)
			s->o.pod_owned = 0; /* a new order under an old name: its Pod, if any, is stale */
	}
	st.pod_phase = s->o.pod_phase;
	st.pod_gen = s->o.pod_gen;
	st.pod_deleting = s->o.pod_deleting;
	st.pod_owned = s->o.pod_owned;
	st.pod_epoch = s->o.pod_epoch;
	st.failures = s->o.failures;
	st.seen_epoch = w->epoch;
	intern_toppings(d, obj, &st);
	release_toppings(&s->o);
	s->o = st;
	table_enqueue(sy->table, i, now);
}

static void on_orders_listed(void *arg, struct watch *w)
{
	struct sync *sy = arg;
	int64_t now = pz_now_ms();
	int removed = 0;

	/* Orders deleted while we were not watching: not in the fresh list. */
	for (uint32_t i = 0; i < sy->table->high_water; i++) {
		struct table_slot *s = &sy->table->slot[i];
		if (s->state == SLOT_EMPTY || s->gone || s->o.seen_epoch == w->epoch)
			continue;
		release_toppings(&s->o);
		table_remove(sy->table, (int)i);
		removed++;
	}
	log_begin(LOG_INFO, "orders listed");
	log_int("tracked", sy->table->count);
	log_int("removed_stale", removed);
	log_str("resource_version", w->rv);
	log_end();
	if (removed)
		maybe_relist_after_free(sy, now);
}

static void on_pod(void *arg, struct watch *w, enum watch_event type, const struct json_doc *d, int obj)
{
	struct sync *sy = arg;
	struct order_key key;
	uint8_t phase, deleting, owner[16];
	int64_t gen;
	struct table_slot *s;
	int i;

	if (order_read_pod(d, obj, &key, &phase, &gen, &deleting, owner) < 0)
		return; /* not an oven of ours (the selector makes this rare) */
	i = table_find(sy->table, key.ns, key.name);
	if (i < 0)
		return; /* an orphan: garbage collection removes it with its order */
	s = &sy->table->slot[i];
	if (type == WATCH_DELETED) {
		s->o.pod_phase = POD_NONE;
		s->o.pod_deleting = 0;
	} else {
		s->o.pod_phase = phase;
		s->o.pod_gen = gen;
		s->o.pod_deleting = deleting;
		s->o.pod_owned = memcmp(owner, s->o.uid, 16) == 0;
		s->o.pod_epoch = w->epoch;
	}
	table_enqueue(sy->table, i, pz_now_ms());
}

static void on_pods_listed(void *arg, struct watch *w)
{
	struct sync *sy = arg;
	int64_t now = pz_now_ms();

	for (uint32_t i = 0; i < sy->table->high_water; i++) {
		struct table_slot *s = &sy->table->slot[i];
		if (s->state == SLOT_EMPTY || s->o.pod_phase == POD_NONE || s->o.pod_epoch == w->epoch)
			continue;
		s->o.pod_phase = POD_NONE; /* its Pod vanished while we were not watching */
		table_enqueue(sy->table, (int)i, now);
	}
	log_begin(LOG_INFO, "oven pods listed");
	log_str("resource_version", w->rv);
	log_end();
}

const struct watch_handler sync_order_handler = { on_order, on_orders_listed };
const struct watch_handler sync_pod_handler = { on_pod, on_pods_listed };
