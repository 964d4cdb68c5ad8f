/* Unit tests of lib/mem. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mem.h"

static MEM_TYPE(mem_type_test, "test_type");
static MEM_TYPE(mem_type_other, "test_other");

static void
count_types(const struct mem_type *t, void *aux)
{
    int *n = aux;
    if (!strcmp(t->name, "test_type") || !strcmp(t->name, "test_other")) {
        (*n)++;
    }
}

static void
test_accounting(void)
{
    CHECK_EQ_INT(mem_type_test.live, 0);
    unsigned char *p = mem_zalloc(&mem_type_test, 100);
    int zero = 1;
    for (int i = 0; i < 100; i++) {
        zero &= p[i] == 0;
    }
    CHECK(zero);
    CHECK_EQ_INT(mem_type_test.live, 1);
    CHECK(mem_type_test.bytes >= 100);  /* Usable size: at least what was asked. */
    CHECK_EQ_INT(mem_type_test.total, 1);

    void *q = mem_zalloc(&mem_type_test, 28);
    CHECK_EQ_INT(mem_type_test.live, 2);
    CHECK(mem_type_test.bytes >= 128);
    CHECK_EQ_INT(mem_type_test.total, 2);

    /* Realloc keeps the contents and accounts the new size. */
    memset(p, 0xab, 100);
    p = mem_realloc(&mem_type_test, p, 1000);
    CHECK(p[0] == 0xab && p[99] == 0xab);
    CHECK_EQ_INT(mem_type_test.live, 2);
    CHECK(mem_type_test.bytes >= 1028);
    p = mem_realloc(&mem_type_test, p, 10);
    CHECK(p[9] == 0xab);
    CHECK(mem_type_test.bytes >= 38 && mem_type_test.bytes < 1000);
    CHECK_EQ_INT(mem_type_test.total, 2);

    /* Realloc of NULL allocates. */
    void *r = mem_realloc(&mem_type_other, NULL, 16);
    CHECK(r != NULL);
    CHECK_EQ_INT(mem_type_other.live, 1);
    CHECK(mem_type_other.bytes >= 16);

    mem_free(&mem_type_test, p);
    mem_free(&mem_type_test, q);
    mem_free(&mem_type_other, r);
    mem_free(&mem_type_test, NULL);
    CHECK_EQ_INT(mem_type_test.live, 0);
    CHECK_EQ_INT(mem_type_test.bytes, 0);
    CHECK_EQ_INT(mem_type_test.total, 2);
    CHECK_EQ_INT(mem_type_other.live, 0);
    CHECK_EQ_INT(mem_type_other.bytes, 0);

    /* Zero-sized allocations are real, distinct and accounted. */
    void *z1 = mem_zalloc(&mem_type_test, 0), *z2 = mem_zalloc(&mem_type_test, 0);
    CHECK(z1 && z2 && z1 != z2);
    CHECK_EQ_INT(mem_type_test.live, 2);
    mem_free(&mem_type_test, z1);
    mem_free(&mem_type_test, z2);
    CHECK_EQ_INT(mem_type_test.live, 0);

    int n = 0;
    mem_foreach(count_types, &n);
    CHECK_EQ_INT(n, 2);
}

static void
test_strings(void)
{
    int64_t live0 = mem_type_string.live, bytes0 = mem_type_string.bytes;
    char *s = xstrdup("hello");
    CHECK_STREQ(s, "hello");
    CHECK_EQ_INT(mem_type_string.live, live0 + 1);
    CHECK(mem_type_string.bytes >= bytes0 + 6);
    xfree(s);
    CHECK_EQ_INT(mem_type_string.live, live0);
    CHECK_EQ_INT(mem_type_string.bytes, bytes0);
    CHECK(xstrdup(NULL) == NULL);
    CHECK_EQ_INT(mem_type_string.live, live0);

    char *e = mem_strdup(&mem_type_test, "");
    CHECK_STREQ(e, "");
    mem_free(&mem_type_test, e);

    char *d = mem_strndup(&mem_type_test, "abcdef", 3);
    CHECK_STREQ(d, "abc");
    CHECK(mem_type_test.bytes >= 4);
    mem_free(&mem_type_test, d);
    /* strndup copies exactly N bytes, NUL bytes included, and terminates. */
    d = mem_strndup(&mem_type_test, "ab\0cd", 5);
    CHECK(d[0] == 'a' && d[2] == '\0' && d[3] == 'c' && d[5] == '\0');
    mem_free(&mem_type_test, d);

    char *f = mem_asprintf(&mem_type_test, "%s-%d-%05.1f", "x", 42, 3.14159);
    CHECK_STREQ(f, "x-42-003.1");
    mem_free(&mem_type_test, f);
    f = mem_asprintf(&mem_type_test, "%s", "");
    CHECK_STREQ(f, "");
    mem_free(&mem_type_test, f);
    /* A long result. */
    char big[5000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    f = mem_asprintf(&mem_type_test, "<%s>", big);
    CHECK_EQ_INT(strlen(f), sizeof big + 1);
    CHECK(f[0] == '<' && f[sizeof big] == '>');
    mem_free(&mem_type_test, f);
    CHECK_EQ_INT(mem_type_test.live, 0);
    CHECK_EQ_INT(mem_type_test.bytes, 0);
}

static void
test_json(void)
{
    mem_init_json();
    json_t *j = mem_to_json();
    json_t *t = json_object_get(j, "test_type");
    CHECK(json_is_object(t));
    CHECK_EQ_INT(json_integer_value(json_object_get(t, "live")), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(t, "total")), mem_type_test.total);
    CHECK(json_is_integer(json_object_get(t, "bytes")));
    CHECK(json_is_object(json_object_get(j, "string")));

    /* jansson's allocations are accounted to "json" once mem_init_json() ran. */
    json_t *js = json_object_get(j, "json");
    CHECK(json_is_object(js));
    CHECK(json_integer_value(json_object_get(js, "live")) > 0);

    char *s = mem_json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK(s != NULL && s[0] == '{');
    json_error_t jerr;
    json_t *back = json_loads(s, 0, &jerr);
    CHECK(json_is_object(back));
    CHECK(json_is_object(json_object_get(back, "test_type")));
    json_decref(back);
    xfree(s);

    /* A big document goes through the growing buffer intact. */
    json_t *arr = json_array();
    for (int i = 0; i < 3000; i++) {
        json_array_append_new(arr, json_integer(i));
    }
    s = mem_json_dumps(arr, JSON_COMPACT);
    back = json_loads(s, 0, &jerr);
    CHECK(json_equal(arr, back));
    json_decref(back);
    json_decref(arr);
    xfree(s);

    json_t *str = json_string("a\"b");
    s = mem_json_dumps(str, JSON_ENCODE_ANY);
    CHECK_STREQ(s, "\"a\\\"b\"");
    xfree(s);
    /* A scalar without JSON_ENCODE_ANY cannot be dumped: an empty string, not NULL. */
    s = mem_json_dumps(str, 0);
    CHECK_STREQ(s, "");
    xfree(s);
    json_decref(str);
    json_decref(j);
}

int
main(void)
{
    test_accounting();
    test_strings();
    test_json();
    return check_finish();
}
