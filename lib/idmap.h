/* idmap.h - request id -> task slot, for answers that name their task
 * (the spool protocol answers in any order).  Open addressing with
 * linear probing and backward-shift deletion: no tombstones, so a long
 * run of inserts and removals never degrades it. */
#ifndef SPOOL_IDMAP_H
#define SPOOL_IDMAP_H

#include "util.h"

#include <stdlib.h>

#define IDMAP_NONE UINT32_MAX

struct idmap_cell {
	uint64_t id; /* 0: empty (request ids start at 1) */
	uint32_t slot;
};

struct idmap {
	struct idmap_cell *c;
	size_t mask; /* capacity - 1; capacity a power of two */
	size_t n;
};

static inline size_t idmap_hash(uint64_t id)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdULL;
	id ^= id >> 33;
	return (size_t)id;
}

static inline void idmap_init(struct idmap *m)
{
	m->mask = 63;
	m->n = 0;
	m->c = xcalloc(m->mask + 1, sizeof(*m->c));
}

static inline void idmap_release(struct idmap *m)
{
	free(m->c);
	m->c = NULL;
	m->mask = m->n = 0;
}

static inline void idmap_put_cell(struct idmap *m, uint64_t id, uint32_t slot)
{
	size_t i = idmap_hash(id) & m->mask;
	while (m->c[i].id)
		i = (i + 1) & m->mask;
	m->c[i].id = id;
	m->c[i].slot = slot;
}

static inline void idmap_put(struct idmap *m, uint64_t id, uint32_t slot)
{
	if (2 * (m->n + 1) > m->mask + 1) {
		struct idmap_cell *old = m->c;
		size_t cap = m->mask + 1;
		m->mask = cap * 2 - 1;
		m->c = xcalloc(cap * 2, sizeof(*m->c));
		for (size_t i = 0; i < cap; i++)
			if (old[i].id)
				idmap_put_cell(m, old[i].id, old[i].slot);
		free(old);
	}
	idmap_put_cell(m, id, slot);
	m->n++;
}

static inline uint32_t idmap_get(const struct idmap *m, uint64_t id)
{
	if (!id)
		return IDMAP_NONE;
	for (size_t i = idmap_hash(id) & m->mask; m->c[i].id;
	     i = (i + 1) & m->mask)
		if (m->c[i].id == id)
			return m->c[i].slot;
	return IDMAP_NONE;
}

static inline void idmap_del(struct idmap *m, uint64_t id)
{
	size_t i = idmap_hash(id) & m->mask;
	while (m->c[i].id && m->c[i].id != id)
		i = (i + 1) & m->mask;
	if (!m->c[i].id)
		return;
	m->n--;
	/* Shift later cells of the probe run back into the hole. */
	for (size_t j = (i + 1) & m->mask; m->c[j].id; j = (j + 1) & m->mask) {
		size_t home = idmap_hash(m->c[j].id) & m->mask;
		/* Cell j may move to i if its home is not in (i, j]. */
		bool stays = i <= j ? (home > i && home <= j)
				    : (home > i || home <= j);
		if (stays)
			continue;
		m->c[i] = m->c[j];
		i = j;
	}
	m->c[i].id = 0;
}

#endif
