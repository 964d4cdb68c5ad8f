/* json_util: JSON text in and out, with the config schema's unsigned 64-bit integers.
 *
 * jansson holds integers as signed 64-bit, but the schema has unsignedLong fields
 * (id_perms.uuid.uuid_mslong / uuid_lslong carry the two halves of a uuid) whose values pass
 * 2^63.  Such fields are held as the same 64 bits, signed, in memory; this module prints them
 * unsigned and reads unsigned text back into the signed form, so that the wire shows what the
 * original's does.  The field names come from the schema (schema_load registers them). */
#ifndef CONTRAIL_JSON_UTIL_H
#define CONTRAIL_JSON_UTIL_H

#include <jansson.h>
#include <stddef.h>

/* Treats integer values of object members named KEY as unsigned 64-bit. */
void json_util_add_unsigned_key(const char *key);

/* Writes J as compact JSON through CB (as json_dump_callback).  Returns 0 or -1. */
int json_util_dump(const json_t *, json_dump_callback_t cb, void *aux);

/* Writes S (LEN bytes) as a JSON string, quotes and escapes included, through CB. */
int json_util_dump_string(const char *s, size_t len, json_dump_callback_t cb, void *aux);

/* Parses LEN bytes of BUF (as json_loadb with JSON_REJECT_DUPLICATES), accepting unsigned
 * 64-bit values for the registered keys.  Returns a new reference or NULL with ERR set. */
json_t *json_util_loadb(const char *buf, size_t len, json_error_t *err);

#endif
