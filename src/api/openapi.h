/* openapi.h — the OpenAPI 3.0.3 description of every route in docs/API.md.
 * Internal to src/api/ (docs_api.c serves it). */
#ifndef SM_API_OPENAPI_H
#define SM_API_OPENAPI_H

#include <jansson.h>

/* Builds the document (info.version = SM_VERSION). Returns a new reference,
 * or NULL when out of memory. Not thread-safe (call at start-up). */
json_t *openapi_build(void);

#endif
