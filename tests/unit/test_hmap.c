/* Unit tests of lib/hmap and lib/list.h. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hmap.h"
#include "list.h"
#include "mem.h"

struct elem {
    struct hmap_node node;
    struct list lnode;
    int key;
    int seen;
};

static uint32_t
key_hash(int key)
{
    return hash_bytes(&key, sizeof key, 0);
}

static struct elem *
find(const struct hmap *h, int key)
{
    struct elem *e;
    HMAP_FOR_EACH_WITH_HASH (e, node, key_hash(key), h) {
        if (e->key == key) {
            return e;
        }
    }
    return NULL;
}

static void
test_hash(void)
{
    CHECK(hash_string("abc", 0) == hash_string("abc", 0));
    CHECK(hash_string("abc", 0) != hash_string("abd", 0));
    CHECK(hash_string("abc", 0) != hash_string("abc", 1));
    CHECK(hash_string("abc", 7) == hash_bytes("abc", 3, 7));
    CHECK(hash_string("", 0) == hash_bytes("", 0, 0));
}

static void
test_empty(void)
{
    struct hmap h;
    hmap_init(&h);
    CHECK_EQ_INT(hmap_count(&h), 0);
    CHECK(hmap_first(&h) == NULL);
    CHECK(hmap_first_with_hash(&h, 1234) == NULL);
    CHECK(find(&h, 1) == NULL);
    int n = 0;
    struct elem *e;
    HMAP_FOR_EACH (e, node, &h) {
        n++;
    }
    CHECK_EQ_INT(n, 0);
    hmap_destroy(&h);
    hmap_destroy(NULL);
}

static void
test_insert_remove(void)
{
    struct hmap h;
    hmap_init(&h);
    struct elem a = { .key = 1 }, b = { .key = 2 }, c = { .key = 3 };
    hmap_insert(&h, &a.node, key_hash(a.key));
    hmap_insert(&h, &b.node, key_hash(b.key));
    hmap_insert(&h, &c.node, key_hash(c.key));
    CHECK_EQ_INT(hmap_count(&h), 3);
    CHECK(find(&h, 1) == &a);
    CHECK(find(&h, 2) == &b);
    CHECK(find(&h, 3) == &c);
    CHECK(find(&h, 4) == NULL);
    hmap_remove(&h, &b.node);
    CHECK_EQ_INT(hmap_count(&h), 2);
    CHECK(find(&h, 2) == NULL);
    CHECK(find(&h, 1) == &a);
    CHECK(find(&h, 3) == &c);
    hmap_remove(&h, &a.node);
    hmap_remove(&h, &c.node);
    CHECK_EQ_INT(hmap_count(&h), 0);
    CHECK(hmap_first(&h) == NULL);
    hmap_destroy(&h);
}

static void
test_same_hash(void)
{
    /* Nodes with one hash (colliding keys): the caller tells them apart. */
    struct hmap h;
    hmap_init(&h);
    struct elem e[5];
    for (int i = 0; i < 5; i++) {
        e[i].key = i;
        hmap_insert(&h, &e[i].node, 42);
    }
    /* And nodes with hashes in the same bucket but different hash values. */
    struct elem other[3];
    for (int i = 0; i < 3; i++) {
        other[i].key = 100 + i;
        hmap_insert(&h, &other[i].node, 42 + (uint32_t) (i + 1) * 16 * 1024);
    }
    int n = 0;
    struct elem *x;
    HMAP_FOR_EACH_WITH_HASH (x, node, 42, &h) {
        CHECK(x->key < 5);
        n++;
    }
    CHECK_EQ_INT(n, 5);
    hmap_remove(&h, &e[2].node);
    n = 0;
    HMAP_FOR_EACH_WITH_HASH (x, node, 42, &h) {
        CHECK(x->key != 2);
        n++;
    }
    CHECK_EQ_INT(n, 4);
    hmap_destroy(&h);
}

static void
test_many(void)
{
    enum { N = 20000 };
    struct hmap h;
    hmap_init(&h);
    struct elem *e = calloc(N, sizeof *e);
    size_t initial_mask = h.mask;
    for (int i = 0; i < N; i++) {
        e[i].key = i;
        hmap_insert(&h, &e[i].node, key_hash(i));
    }
    CHECK_EQ_INT(hmap_count(&h), N);
    CHECK(h.mask > initial_mask);
    CHECK(hmap_count(&h) <= 2 * (h.mask + 1));    /* Grew as documented. */
    int missing = 0;
    for (int i = 0; i < N; i++) {
        missing += find(&h, i) != &e[i];
    }
    CHECK_EQ_INT(missing, 0);
    CHECK(find(&h, N) == NULL);

    /* Iteration visits each node exactly once. */
    struct elem *x;
    int n = 0;
    HMAP_FOR_EACH (x, node, &h) {
        x->seen++;
        n++;
    }
    CHECK_EQ_INT(n, N);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        bad += e[i].seen != 1;
    }
    CHECK_EQ_INT(bad, 0);

    /* Safe removal of every other node while iterating. */
    n = 0;
    HMAP_FOR_EACH_SAFE (x, node, &h) {
        if (x->key % 2) {
            hmap_remove(&h, &x->node);
        }
        n++;
    }
    CHECK_EQ_INT(n, N);
    CHECK_EQ_INT(hmap_count(&h), N / 2);
    missing = 0;
    for (int i = 0; i < N; i++) {
        missing += (find(&h, i) != NULL) != !(i % 2);
    }
    CHECK_EQ_INT(missing, 0);

    /* Remove all while iterating. */
    HMAP_FOR_EACH_SAFE (x, node, &h) {
        hmap_remove(&h, &x->node);
    }
    CHECK_EQ_INT(hmap_count(&h), 0);
    CHECK(hmap_first(&h) == NULL);
    /* Reuse after emptying. */
    hmap_insert(&h, &e[7].node, key_hash(7));
    CHECK(find(&h, 7) == &e[7]);
    CHECK_EQ_INT(hmap_count(&h), 1);
    hmap_destroy(&h);
    free(e);
}

static void
test_strings(void)
{
    struct sn {
        struct hmap_node node;
        char name[16];
    } items[100];
    struct hmap h;
    hmap_init(&h);
    for (int i = 0; i < 100; i++) {
        snprintf(items[i].name, sizeof items[i].name, "name-%d", i);
        hmap_insert(&h, &items[i].node, hash_string(items[i].name, 0));
    }
    struct sn *s;
    int found = 0;
    HMAP_FOR_EACH_WITH_HASH (s, node, hash_string("name-57", 0), &h) {
        found += !strcmp(s->name, "name-57");
    }
    CHECK_EQ_INT(found, 1);
    hmap_destroy(&h);
}

static void
test_list(void)
{
    struct list l = LIST_INITIALIZER(&l);
    CHECK(list_is_empty(&l));
    struct elem e[6];
    for (int i = 0; i < 6; i++) {
        e[i].key = i;
        list_push_back(&l, &e[i].lnode);
    }
    CHECK(!list_is_empty(&l));
    int order[6], n = 0;
    struct elem *x;
    LIST_FOR_EACH (x, lnode, &l) {
        order[n++] = x->key;
    }
    CHECK_EQ_INT(n, 6);
    int ok = 1;
    for (int i = 0; i < 6; i++) {
        ok &= order[i] == i;
    }
    CHECK(ok);

    /* Insert before an element. */
    struct elem mid = { .key = 99 };
    list_insert(&e[3].lnode, &mid.lnode);
    n = 0;
    LIST_FOR_EACH (x, lnode, &l) {
        order[n % 6] = x->key;
        if (n == 3) {
            CHECK_EQ_INT(x->key, 99);
        }
        n++;
    }
    CHECK_EQ_INT(n, 7);

    /* Safe removal during iteration; a removed element is self-linked. */
    LIST_FOR_EACH_SAFE (x, lnode, &l) {
        if (x->key % 2 || x->key == 99) {
            list_remove(&x->lnode);
        }
    }
    CHECK(mid.lnode.next == &mid.lnode && mid.lnode.prev == &mid.lnode);
    n = 0;
    LIST_FOR_EACH (x, lnode, &l) {
        CHECK(x->key % 2 == 0);
        n++;
    }
    CHECK_EQ_INT(n, 3);
    LIST_FOR_EACH_SAFE (x, lnode, &l) {
        list_remove(&x->lnode);
    }
    CHECK(list_is_empty(&l));

    struct list l2;
    list_init(&l2);
    CHECK(list_is_empty(&l2));
    n = 0;
    LIST_FOR_EACH (x, lnode, &l2) {
        n++;
    }
    CHECK_EQ_INT(n, 0);
}

int
main(void)
{
    test_hash();
    test_empty();
    test_insert_remove();
    test_same_hash();
    test_many();
    test_strings();
    test_list();
    json_t *j = mem_to_json();
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "hmap_buckets"),
                                                    "live")), 0);
    json_decref(j);
    return check_finish();
}
