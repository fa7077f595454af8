/*
 * sync.c - watch events into the table (see sync.h).
 */
#include "sync.h"
#include "log.h"
#include "order.h"
#include "pz.h"

#include <string.h>

static void maybe_relist_after_free(struct sync *sy, int64_t now)
{
	if (sy->overflow) {
		sy->overflow = 0;
		log_line(LOG_INFO, "msg=\"a table slot freed after orders were refused; re-listing orders\"");
		watch_request_relist(sy->orders, now);
	}
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
		log_line(LOG_WARN, "msg=\"order skipped\" error=\"%s\" hint=\"%s\"", pz_strerror(rc),
			rc == PZ_ETOOBIG ? "namespace or name longer than 63 characters" : "metadata unreadable");
		return;
	}
	i = table_find(sy->table, key.ns, key.name);
	if (type == WATCH_DELETED) {
		if (i >= 0) {
			table_remove(sy->table, i);
			log_line(LOG_INFO, "msg=\"order deleted\" ns=%s name=%s result=forgotten", key.ns, key.name);
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
				log_line(LOG_ERROR, "msg=\"reconcile table full\" ns=%s name=%s max_orders=%u refused_total=%llu "
					"hint=\"raise --max-orders; refused orders are picked up by a re-list when a slot frees\"",
					key.ns, key.name, sy->table->capacity, (unsigned long long)sy->table_full);
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
		if (s->state == SLOT_EMPTY || s->o.seen_epoch == w->epoch)
			continue;
		table_remove(sy->table, (int)i);
		removed++;
	}
	log_line(LOG_INFO, "msg=\"orders listed\" tracked=%u removed_stale=%d resource_version=%s",
		sy->table->count, removed, w->rv);
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
	log_line(LOG_INFO, "msg=\"oven pods listed\" resource_version=%s", w->rv);
}

const struct watch_handler sync_order_handler = { on_order, on_orders_listed };
const struct watch_handler sync_pod_handler = { on_pod, on_pods_listed };
