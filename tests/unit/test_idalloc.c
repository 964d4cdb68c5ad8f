/* Unit tests of lib/idalloc. */
#include <stdlib.h>

#include "check.h"
#include "idalloc.h"

static void
test_order(void)
{
    struct idalloc a;
    idalloc_init(&a, 1, 10);
    uint32_t id;
    for (uint32_t want = 1; want <= 10; want++) {
        CHECK(idalloc_alloc(&a, &id));
        CHECK_EQ_INT(id, want);
        CHECK(idalloc_is_used(&a, id));
    }
    CHECK_EQ_INT(a.used, 10);
    /* Full. */
    CHECK(!idalloc_alloc(&a, &id));
    CHECK(!idalloc_reserve(&a, 5));
    /* Free one: it is the one handed out next. */
    idalloc_free(&a, 4);
    CHECK(!idalloc_is_used(&a, 4));
    CHECK_EQ_INT(a.used, 9);
    CHECK(idalloc_alloc(&a, &id));
    CHECK_EQ_INT(id, 4);
    CHECK(!idalloc_alloc(&a, &id));
    idalloc_destroy(&a);
}

static void
test_reserve(void)
{
    struct idalloc a;
    idalloc_init(&a, 100, 50);
    CHECK(idalloc_reserve(&a, 100));
    CHECK(idalloc_reserve(&a, 101));
    CHECK(idalloc_reserve(&a, 149));
    CHECK(!idalloc_reserve(&a, 101));      /* Already used. */
    CHECK(!idalloc_reserve(&a, 99));       /* Below the range. */
    CHECK(!idalloc_reserve(&a, 150));      /* Above the range. */
    CHECK(!idalloc_reserve(&a, 0));
    CHECK(!idalloc_reserve(&a, UINT32_MAX));
    CHECK_EQ_INT(a.used, 3);
    uint32_t id;
    CHECK(idalloc_alloc(&a, &id));
    CHECK_EQ_INT(id, 102);                 /* Skips the reserved ones. */
    CHECK(!idalloc_is_used(&a, 99));
    CHECK(!idalloc_is_used(&a, 150));
    CHECK(idalloc_is_used(&a, 149));
    /* Freeing out-of-range or unused ids changes nothing. */
    idalloc_free(&a, 5);
    idalloc_free(&a, 1000);
    idalloc_free(&a, 120);
    CHECK_EQ_INT(a.used, 4);
    idalloc_free(&a, 149);
    CHECK_EQ_INT(a.used, 3);
    idalloc_free(&a, 149);
    CHECK_EQ_INT(a.used, 3);
    idalloc_destroy(&a);
}

static void
test_reuse(void)
{
    /* Freed ids are reused, lowest first. */
    struct idalloc a;
    idalloc_init(&a, 0, 8);
    uint32_t id;
    for (int i = 0; i < 8; i++) {
        CHECK(idalloc_alloc(&a, &id));
    }
    idalloc_free(&a, 2);
    idalloc_free(&a, 6);
    CHECK(idalloc_alloc(&a, &id));
    CHECK_EQ_INT(id, 2);
    CHECK(idalloc_alloc(&a, &id));
    CHECK_EQ_INT(id, 6);
    CHECK(!idalloc_alloc(&a, &id));
    idalloc_destroy(&a);

    /* The lowest free id is always the one handed out (the original's IndexAllocator). */
    idalloc_init(&a, 1, 5);
    CHECK(idalloc_alloc(&a, &id));
    CHECK_EQ_INT(id, 1);
    CHECK(idalloc_alloc(&a, &id));
    CHECK_EQ_INT(id, 2);
    CHECK(idalloc_alloc(&a, &id));
    CHECK_EQ_INT(id, 3);
    idalloc_free(&a, 1);
    CHECK(idalloc_alloc(&a, &id));
    CHECK_EQ_INT(id, 1);
    CHECK(idalloc_alloc(&a, &id));
    CHECK_EQ_INT(id, 4);
    idalloc_free(&a, 3);
    idalloc_free(&a, 2);
    CHECK(idalloc_alloc(&a, &id));
    CHECK_EQ_INT(id, 2);
    CHECK(idalloc_alloc(&a, &id));
    CHECK_EQ_INT(id, 3);
    CHECK(idalloc_alloc(&a, &id));
    CHECK_EQ_INT(id, 5);
    CHECK(!idalloc_alloc(&a, &id));
    /* Reserving below the lowest free id does not disturb it. */
    idalloc_free(&a, 4);
    idalloc_free(&a, 2);
    CHECK(idalloc_reserve(&a, 2));
    CHECK(idalloc_alloc(&a, &id));
    CHECK_EQ_INT(id, 4);
    CHECK(!idalloc_alloc(&a, &id));
    idalloc_destroy(&a);
}

static void
test_large(void)
{
    /* Many words: skipping full words must not skip free ids, and the count must match. */
    enum { N = 64 * 40 + 17 };
    struct idalloc a;
    idalloc_init(&a, 1000, N);
    uint32_t id;
    int ok = 1;
    for (uint32_t i = 0; i < N; i++) {
        ok &= idalloc_alloc(&a, &id) && id == 1000 + i;
    }
    CHECK(ok);
    CHECK(!idalloc_alloc(&a, &id));
    /* Free a scattered set, including the last partial word and word boundaries. */
    static const uint32_t freed[] = { 0, 63, 64, 127, 128, 1000, 64 * 40, N - 1 };
    for (size_t i = 0; i < sizeof freed / sizeof freed[0]; i++) {
        idalloc_free(&a, 1000 + freed[i]);
    }
    CHECK_EQ_INT(a.used, N - 8);
    /* They come back lowest first. */
    for (size_t i = 0; i < 8; i++) {
        CHECK(idalloc_alloc(&a, &id));
        CHECK_EQ_INT(id, 1000 + freed[i]);
    }
    CHECK(!idalloc_alloc(&a, &id));
    idalloc_destroy(&a);

    /* The sizes the API server uses: network ids 1 .. 2^24. */
    idalloc_init(&a, 1, 1u << 24);
    CHECK(idalloc_reserve(&a, 1u << 24));
    CHECK(idalloc_alloc(&a, &id));
    CHECK_EQ_INT(id, 1);
    CHECK(!idalloc_reserve(&a, (1u << 24) + 1));
    idalloc_destroy(&a);
}

static void
test_tiny(void)
{
    struct idalloc a;
    uint32_t id = 77;
    idalloc_init(&a, 5, 1);
    CHECK(idalloc_alloc(&a, &id));
    CHECK_EQ_INT(id, 5);
    CHECK(!idalloc_alloc(&a, &id));
    idalloc_free(&a, 5);
    CHECK(idalloc_alloc(&a, &id));
    CHECK_EQ_INT(id, 5);
    idalloc_destroy(&a);

    idalloc_init(&a, 5, 0);
    CHECK(!idalloc_alloc(&a, &id));
    CHECK(!idalloc_reserve(&a, 5));
    CHECK(!idalloc_is_used(&a, 5));
    idalloc_destroy(&a);
}

int
main(void)
{
    test_order();
    test_reserve();
    test_reuse();
    test_large();
    test_tiny();
    return check_finish();
}
