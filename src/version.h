/* version.h — the program's version, reported by `smartmarket version`,
 * /health/detailed/ and the OpenAPI document. */
#ifndef SM_VERSION_H
#define SM_VERSION_H
#define SM_VERSION "0.1.0"
#endif
