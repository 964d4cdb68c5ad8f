/* Fuzz target: schema_load on an arbitrary file (the schema is not outside input, but a
 * damaged data file must give an error, not a crash or a leak). */
#include <unistd.h>

#include "fuzz_common.h"

static char path[64];

static void
remove_file(void)
{
    unlink(path);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    atexit(remove_file);
    snprintf(path, sizeof path, "/tmp/fuzz_schema.%d.json", (int) getpid());
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        abort();
    }
    fwrite(data, 1, size, f);
    fclose(f);
    struct schema *s = NULL;
    char err[512] = "";
    if (schema_load(path, &s, err, sizeof err)) {
        if (!err[0] || s) {
            abort();
        }
        return 0;
    }
    for (size_t i = 0; i < s->n_idents; i++) {
        const struct schema_ident *id = s->ident_list[i];
        if (schema_ident(s, id->name) != id) {
            abort();
        }
    }
    schema_destroy(s);
    return 0;
}
