/*
 * order.h - what a PizzaOrder means: reading orders and oven Pods into struct order_state,
 * validating specs, deciding what a reconcile must do, and writing the Pod and status bodies.
 *
 * Everything here is pure (no I/O, no clock reads: time is passed in), so every rule is unit-tested
 * on recorded objects. reconcile.c carries the decisions out against the API server.
 */
#ifndef PZ_ORDER_H
#define PZ_ORDER_H

#include "json.h"
#include "table.h"

#include <stddef.h>
#include <stdint.h>

#define ORDER_GROUP "pizzeria.example.com"
#define ORDER_API_VERSION ORDER_GROUP "/v1"
#define ORDER_KIND "PizzaOrder"
#define ORDER_LABEL_ORDER ORDER_GROUP "/order"
#define ORDER_LABEL_GENERATION ORDER_GROUP "/generation"
#define ORDER_LABEL_MANAGED "app.kubernetes.io/managed-by"
#define ORDER_MANAGER "pizza-controller"
#define ORDER_POD_SUFFIX "-oven"
/* Status is written with server-side apply under this field manager (forced: the controller is
 * the authority on these fields), so conditions owned by other writers survive our writes. */
#define ORDER_STATUS_APPLY_QUERY "?fieldManager=pizza-controller&force=true"
#define ORDER_STATUS_APPLY_TYPE "application/apply-patch+yaml"

/* Toppings: the CRD allows 10 of up to 32 characters; a pizza of a given size holds fewer. */
#define ORDER_TOPPINGS_MAX 10
#define ORDER_TOPPING_LEN_MAX 32
/* Room for every topping joined with commas, for the oven's environment. */
#define ORDER_TOPPINGS_TEXT_MAX (ORDER_TOPPINGS_MAX * (ORDER_TOPPING_LEN_MAX + 1))
#define ORDER_MESSAGE_MAX 160

enum pizza_size { SIZE_NONE, SIZE_SMALL, SIZE_MEDIUM, SIZE_LARGE };
enum spec_error {
	SPEC_OK,
	SPEC_MISSING,          /* no spec object */
	SPEC_NO_SIZE,
	SPEC_BAD_SIZE,
	SPEC_TOPPINGS_TYPE,    /* toppings is not a list of strings */
	SPEC_TOO_MANY,         /* err_a: count */
	SPEC_BAD_TOPPING,      /* err_a: index */
	SPEC_DUPLICATE,        /* err_a: index, err_b: index of the first one */
	SPEC_SIZE_LIMIT        /* err_a: count, err_b: limit for the size */
};
enum order_phase { PHASE_NONE, PHASE_PENDING, PHASE_BAKING, PHASE_READY, PHASE_FAILED };
enum pod_phase { POD_NONE, POD_PENDING, POD_RUNNING, POD_SUCCEEDED, POD_FAILED, POD_UNKNOWN };
enum order_action { ACT_NONE, ACT_CREATE_POD, ACT_DELETE_POD };

/* Settings for oven Pods, from flags. */
struct oven_config {
	const char *image;
	const char *command;       /* run with /bin/sh -c; sees PIZZA_SIZE, PIZZA_TOPPINGS, BAKE_SECONDS */
	int bake_seconds[4];       /* by enum pizza_size */
};

struct order_key {
	char ns[TABLE_NAME_MAX];
	char name[TABLE_NAME_MAX];
};

struct order_decision {
	enum order_action action;
	int write_status;          /* 0: the observed status is already what we want */
	uint8_t phase;             /* enum order_phase */
	uint8_t ready;             /* 1 False, 2 True */
	const char *reason;
	char message[ORDER_MESSAGE_MAX];
	uint32_t hash;             /* digest of the wanted status, compared with the observed one */
};

const char *order_size_name(int size);
const char *order_phase_name(int phase);

/* Reads an order (the object token `obj` of d) into key and st: identity, generation, the spec's
 * verdict and a digest of its status. Pod fields of st are left alone.
 * Returns 0, PZ_EJSON (not an order we can read: another kind or apiVersion, no name, a name or
 * namespace that is not a DNS name, bad uid) or PZ_ETOOBIG (a name over TABLE_NAME_MAX). */
int order_read(const struct json_doc *d, int obj, struct order_key *key, struct order_state *st);

/* 1 when s is an RFC 1123 label (dots = 0: namespaces) or subdomain (dots = 1: object names), the
 * only names order_read and order_read_pod accept: they go into request paths unescaped. */
int order_dns_name_ok(const char *s, int dots);

/* Validates the spec object token (may be -1). Fills size, count and the error fields of st. */
void order_validate(const struct json_doc *d, int spec, struct order_state *st);

/* Reads an oven Pod: the order it belongs to (from its label), its phase, generation label,
 * deletion state and whether its controller reference is `uid`. Returns 0, or PZ_EJSON when the
 * Pod is not one of ours. owner_uid receives the controller reference's uid (zero if none). */
int order_read_pod(const struct json_doc *d, int obj, struct order_key *key, uint8_t *phase,
	int64_t *generation, uint8_t *deleting, uint8_t owner_uid[16]);

/* What a reconcile of slot s must do now. */
void order_decide(const struct table_slot *s, struct order_decision *out);

/* The status a failed reconcile shows: Ready=False, reason ReconcileError, the given (bounded)
 * message, the phase kept. dc->write_status is 0 when the order already shows exactly this, so a
 * failure that repeats writes its status once, not on every retry. */
void order_decide_error(const struct table_slot *s, const char *message, struct order_decision *dc);

/* Human-readable reason for an invalid spec. */
void order_spec_message(const struct order_state *st, char *out, size_t cap);

/* The spec's toppings as raw JSON string bytes joined with commas (the oven's PIZZA_TOPPINGS), from
 * the `spec` token of d. Returns the length or PZ_ETOOBIG. */
int order_toppings_text(const struct json_doc *d, int spec, char *out, size_t cap);

/* The oven Pod for s; tops: its toppings as order_toppings_text writes them. */
int order_pod_body(struct json_w *w, const struct table_slot *s, const char *tops, const struct oven_config *oven);

/* The server-side apply configuration for the status subresource (ORDER_STATUS_APPLY): apiVersion,
 * kind, name, namespace and the status fields this controller owns. now_wall: epoch seconds for
 * lastTransitionTime. */
int order_status_patch(struct json_w *w, const struct table_slot *s, const struct order_decision *dc,
	int64_t now_wall);

/* Parses / formats a Kubernetes uid (RFC 4122 text, 36 characters). */
int order_uid_parse(const char *text, size_t len, uint8_t out[16]);
void order_uid_format(const uint8_t uid[16], char out[37]);

#endif
