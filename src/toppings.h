/*
 * toppings.h - interned topping names, so an order's table slot holds its spec's toppings in
 * ORDER_TOPPINGS_MAX bytes and a reconcile can bake its oven Pod from the newest watch event it saw,
 * without a GET of the order (2 requests per new order instead of 3).
 *
 * Real menus have dozens of distinct toppings; TOPPINGS_MAX ids (1..255, 0 = none) cover them with
 * room to spare in ~13 KiB, reserved at start-up as static storage (resident only when touched).
 * Each id is reference-counted by the slots that hold it and freed at zero. When the dictionary is
 * full (a hostile or unusual cluster with hundreds of distinct names) or a name is longer than an
 * entry, interning fails: that order falls back to reading its spec with a GET, so nothing is lost,
 * it only costs one request.
 *
 * Names are kept as the raw bytes of their JSON string (escapes included), exactly what goes back
 * into the Pod's JSON body.
 */
#ifndef PZ_TOPPINGS_H
#define PZ_TOPPINGS_H

#include <stddef.h>
#include <stdint.h>

#define TOPPINGS_MAX 255
/* Raw JSON bytes of one name: 32 characters (the CRD's maxLength) with room for a few escapes. */
#define TOPPING_RAW_MAX 48

/* Returns an id (1..TOPPINGS_MAX) holding one more reference to name, or 0 when it cannot be
 * interned (dictionary full, or too long). */
uint8_t toppings_intern(const char *name, size_t len);
/* Drops one reference (id 0 is ignored). */
void toppings_release(uint8_t id);
/* The raw bytes of id; *len receives their length. id must be held. */
const char *toppings_get(uint8_t id, size_t *len);
/* Distinct names held now (for metrics and tests). */
unsigned toppings_count(void);

#endif
