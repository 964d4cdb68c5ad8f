/* Unit tests for the schema transformer's route-target allocator (config/schema/st_rtalloc). */
#include "check.h"
#include "mem.h"
#include "st_rtalloc.h"

static void
test_alloc_and_release(void)
{
    struct st_rtalloc a;
    st_rtalloc_init(&a);
    CHECK_EQ_INT(st_rtalloc_alloc(&a, "d:p:red:red"), 8000000);
    CHECK_EQ_INT(st_rtalloc_alloc(&a, "d:p:blue:blue"), 8000001);
    CHECK_EQ_INT(st_rtalloc_alloc(&a, "d:p:red:red"), 8000000);     /* Stable. */
    CHECK_EQ_INT(st_rtalloc_get(&a, "d:p:blue:blue"), 8000001);
    CHECK_STREQ(st_rtalloc_owner(&a, 8000001), "d:p:blue:blue");
    CHECK_EQ_INT(st_rtalloc_get(&a, "nobody"), 0);

    /* A released number held by its route-target object is not handed out again... */
    st_rtalloc_hold(&a, 8000000, true);
    st_rtalloc_release(&a, "d:p:red:red");
    CHECK(st_rtalloc_owner(&a, 8000000) == NULL);
    CHECK(st_rtalloc_in_use(&a, 8000000));
    CHECK_EQ_INT(st_rtalloc_alloc(&a, "d:p:green:green"), 8000002);
    /* ...until the object goes. */
    st_rtalloc_hold(&a, 8000000, false);
    CHECK(!st_rtalloc_in_use(&a, 8000000));
    CHECK_EQ_INT(st_rtalloc_alloc(&a, "d:p:cyan:cyan"), 8000000);
    CHECK_EQ_INT(a.n_owned, 3);
    st_rtalloc_destroy(&a);
}

/* Rebuild: numbers held by objects and claimed by their owners; no number twice. */
static void
test_rebuild(void)
{
    struct st_rtalloc a;
    st_rtalloc_init(&a);
    st_rtalloc_hold(&a, 8000005, true);
    st_rtalloc_hold(&a, 8000001, true);
    st_rtalloc_hold(&a, 8000000, true);
    CHECK(st_rtalloc_claim(&a, "ri-a", 8000005));
    CHECK(st_rtalloc_claim(&a, "ri-a", 8000005));          /* Same claim again: fine. */
    CHECK(!st_rtalloc_claim(&a, "ri-b", 8000005));         /* Taken. */
    CHECK(!st_rtalloc_claim(&a, "ri-a", 8000001));         /* Owner has one already. */
    CHECK(!st_rtalloc_claim(&a, "ri-c", 7999999));         /* Out of range. */
    CHECK(st_rtalloc_claim(&a, "ri-b", 8000007));          /* Unheld number: reserved. */
    /* New owners get numbers nobody holds: 8000002 (0 and 1 are held by objects). */
    CHECK_EQ_INT(st_rtalloc_alloc(&a, "ri-c"), 8000002);
    CHECK_EQ_INT(st_rtalloc_alloc(&a, "ri-d"), 8000003);
    CHECK_EQ_INT(st_rtalloc_alloc(&a, "ri-e"), 8000004);
    CHECK_EQ_INT(st_rtalloc_alloc(&a, "ri-f"), 8000006);
    CHECK_EQ_INT(st_rtalloc_alloc(&a, "ri-g"), 8000008);
    st_rtalloc_clear(&a);
    CHECK(!st_rtalloc_in_use(&a, 8000005));
    CHECK_EQ_INT(st_rtalloc_alloc(&a, "ri-a"), 8000000);
    st_rtalloc_destroy(&a);
}

static void
test_parse(void)
{
    uint32_t asn = 0;
    CHECK_EQ_INT(st_rtalloc_parse("target:64512:8000003", &asn), 8000003);
    CHECK_EQ_INT(asn, 64512);
    CHECK_EQ_INT(st_rtalloc_parse("target:64512:100", NULL), 0);         /* User range. */
    CHECK_EQ_INT(st_rtalloc_parse("target:10.1.1.1:8000003", NULL), 0);
    CHECK_EQ_INT(st_rtalloc_parse("target:64512:8000003x", NULL), 0);
    CHECK_EQ_INT(st_rtalloc_parse("route:64512:8000003", NULL), 0);
    CHECK_EQ_INT(st_rtalloc_parse("target:64512:24777216", NULL), 0);    /* Past the range. */
}

int
main(void)
{
    test_alloc_and_release();
    test_rebuild();
    test_parse();
    return check_finish();
}
