/* fuzz_common.h: helpers shared by the libFuzzer targets. */
#ifndef CONTRAIL_FUZZ_COMMON_H
#define CONTRAIL_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The real config schema, loaded once (abort if it cannot be). */
static inline struct schema *
fuzz_schema(void)
{
    static struct schema *s;
    if (!s) {
        char err[512];
        if (schema_load(schema_default_path(), &s, err, sizeof err)) {
            fprintf(stderr, "fuzz: cannot load schema: %s\n", err);
            abort();
        }
    }
    return s;
}

/* DATA as a new NUL-terminated string (free with free()). */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) {
        abort();
    }
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
