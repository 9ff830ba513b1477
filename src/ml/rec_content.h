/* rec_content.h — content similarity for recommendations: a product's
 * nearest neighbours among the dense vectors of the active search version.
 *
 * The vectors are those search uses (ml/vectors.h: LSI learned from the
 * catalogue, or an embeddings service's), so "similar" means similar in
 * name, brand, category and description, and a product nobody has bought
 * yet still has neighbours. The product's own row is the query of one
 * vindex_search call (ml/vindex.h: exact, or the approximate index when
 * the version has one); the product itself, zero vectors and neighbours
 * below REC_CONTENT_MIN cosine are left out. Inactive
 * products are not in the search version; recommend.c and the API check
 * activity again anyway. */
#ifndef SM_ML_REC_CONTENT_H
#define SM_ML_REC_CONTENT_H

#include <stdint.h>

#include "ml/recommend.h"
#include "ml/snapshot.h"

#define REC_CONTENT_MIN 0.3f /* cosine below which a neighbour is not "similar" */

/* The content neighbours of product `id` in snapshot `s`: up to `cap` ids
 * and cosine scores in (REC_CONTENT_MIN, 1], best first. Returns the count
 * (0 when the product has no vector: absent from the version, or empty
 * text) or SM_ENOMEM. Thread-safe. */
int rec_content_neighbours(const snapshot *s, int64_t id, int cap, int64_t *ids, float *scores);

/* A rec_content (recommend.h) answering from the active snapshot of
 * `data_dir` (borrowed; must outlive the use): pass it to rec_similar. */
rec_content rec_content_active(const char *data_dir);

#endif
