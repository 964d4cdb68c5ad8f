/* Unit tests of lib/uuid. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "uuid.h"

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void
test_generate(void)
{
    enum { N = 2000 };
    char (*ids)[UUID_LEN + 1] = calloc(N, sizeof *ids);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        uuid_generate(ids[i]);
        const char *u = ids[i];
        bad += strlen(u) != UUID_LEN || !uuid_is_valid(u) || u[14] != '4'
               || !strchr("89ab", u[19]);
        for (int k = 0; k < UUID_LEN; k++) {
            bad += isupper((unsigned char) u[k]) != 0;
        }
    }
    CHECK_EQ_INT(bad, 0);
    qsort(ids, N, sizeof *ids, cmp_str);
    int dups = 0;
    for (int i = 1; i < N; i++) {
        dups += !strcmp(ids[i - 1], ids[i]);
    }
    CHECK_EQ_INT(dups, 0);
    free(ids);
}

static void
test_valid(void)
{
    CHECK(uuid_is_valid("123e4567-e89b-12d3-a456-426614174000"));
    CHECK(uuid_is_valid("123E4567-E89B-12D3-A456-426614174000"));
    CHECK(uuid_is_valid("00000000-0000-0000-0000-000000000000"));
    CHECK(!uuid_is_valid(NULL));
    CHECK(!uuid_is_valid(""));
    CHECK(!uuid_is_valid("123e4567-e89b-12d3-a456-42661417400"));     /* Short. */
    CHECK(!uuid_is_valid("123e4567-e89b-12d3-a456-4266141740000"));   /* Long. */
    CHECK(!uuid_is_valid("123e4567xe89b-12d3-a456-426614174000"));    /* Separator. */
    CHECK(!uuid_is_valid("123e4567-e89b-12d3-a456-42661417400g"));    /* Not hex. */
    CHECK(!uuid_is_valid("123e4567e89b12d3a456426614174000"));        /* No dashes. */
    CHECK(!uuid_is_valid("{23e4567-e89b-12d3-a456-426614174000"));
    CHECK(!uuid_is_valid("123e4567-e89b-12d3-a456-42661417400 "));
}

static void
test_halves(void)
{
    uint64_t ms = 0, ls = 0;
    CHECK(uuid_to_halves("123e4567-e89b-12d3-a456-426614174000", &ms, &ls));
    CHECK(ms == 0x123e4567e89b12d3ull);
    CHECK(ls == 0xa456426614174000ull);
    char out[UUID_LEN + 1];
    uuid_from_halves(ms, ls, out);
    CHECK_STREQ(out, "123e4567-e89b-12d3-a456-426614174000");

    /* Upper case input gives the same halves; output is lower case. */
    CHECK(uuid_to_halves("123E4567-E89B-12D3-A456-426614174ABC", &ms, &ls));
    CHECK(ls == 0xa456426614174abcull);
    uuid_from_halves(ms, ls, out);
    CHECK_STREQ(out, "123e4567-e89b-12d3-a456-426614174abc");

    uuid_from_halves(0, 0, out);
    CHECK_STREQ(out, "00000000-0000-0000-0000-000000000000");
    uuid_from_halves(UINT64_MAX, UINT64_MAX, out);
    CHECK_STREQ(out, "ffffffff-ffff-ffff-ffff-ffffffffffff");
    CHECK(uuid_to_halves(out, &ms, &ls) && ms == UINT64_MAX && ls == UINT64_MAX);

    ms = ls = 7;
    CHECK(!uuid_to_halves("not-a-uuid", &ms, &ls));
    CHECK(ms == 7 && ls == 7);

    /* Random round trips. */
    int bad = 0;
    for (int i = 0; i < 500; i++) {
        char u[UUID_LEN + 1], v[UUID_LEN + 1];
        uuid_generate(u);
        bad += !uuid_to_halves(u, &ms, &ls);
        uuid_from_halves(ms, ls, v);
        bad += strcmp(u, v) != 0;
    }
    CHECK_EQ_INT(bad, 0);
}

int
main(void)
{
    test_generate();
    test_valid();
    test_halves();
    return check_finish();
}
