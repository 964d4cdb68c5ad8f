/* uuid: random (version 4) UUIDs in canonical text form, as the config API uses them. */
#ifndef CONTRAIL_UUID_H
#define CONTRAIL_UUID_H

#include <stdbool.h>
#include <stdint.h>

#define UUID_LEN 36

/* Writes a new random UUID, canonical lower-case text, into OUT (UUID_LEN + 1 bytes). */
void uuid_generate(char out[UUID_LEN + 1]);

/* Whether S is a canonical UUID (8-4-4-4-12 hex digits, either case). */
bool uuid_is_valid(const char *s);

/* Splits canonical UUID S into its two 64-bit halves (the id_perms.uuid form).
 * Returns false if S is not valid. */
bool uuid_to_halves(const char *s, uint64_t *ms, uint64_t *ls);

/* Formats halves MS/LS as canonical text into OUT. */
void uuid_from_halves(uint64_t ms, uint64_t ls, char out[UUID_LEN + 1]);

#endif
