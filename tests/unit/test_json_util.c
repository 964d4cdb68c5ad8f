/* Unit tests of lib/json_util: JSON in and out with unsigned 64-bit schema fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json_util.h"
#include "mem.h"

struct buf {
    char s[8192];
    size_t len;
    int fail_after;             /* Calls before the callback fails (0: never). */
    int calls;
};

static int
to_buf(const char *p, size_t size, void *aux)
{
    struct buf *b = aux;
    b->calls++;
    if (b->fail_after && b->calls >= b->fail_after) {
        return -1;
    }
    if (b->len + size >= sizeof b->s) {
        return -1;
    }
    memcpy(b->s + b->len, p, size);
    b->len += size;
    b->s[b->len] = '\0';
    return 0;
}

static const char *
dump(const json_t *j)
{
    static struct buf b;
    memset(&b, 0, sizeof b);
    if (json_util_dump(j, to_buf, &b)) {
        return "(dump failed)";
    }
    return b.s;
}

static json_t *
load(const char *text)
{
    json_error_t err;
    return json_util_loadb(text, strlen(text), &err);
}

/* Loads TEXT and dumps it again. */
static const char *
round_trip(const char *text)
{
    json_t *j = load(text);
    if (!j) {
        return "(load failed)";
    }
    const char *s = dump(j);
    json_decref(j);
    return s;
}

static void
test_plain(void)
{
    /* Before any key is registered, it is json_loadb with duplicates refused. */
    json_error_t err;
    json_t *j = load("{\"a\": 1, \"b\": [true, false, null]}");
    CHECK(json_is_object(j));
    json_decref(j);
    CHECK(load("{\"a\": 1, \"a\": 2}") == NULL);
    CHECK(load("{\"a\": ") == NULL);
    CHECK(load("") == NULL);
    /* LEN bounds the input: trailing bytes beyond it are not read. */
    j = json_util_loadb("[1]garbage", 3, &err);
    CHECK(json_is_array(j));
    json_decref(j);
    j = json_util_loadb("[1]garbage", 10, &err);
    CHECK(j == NULL);
    CHECK(err.text[0] != '\0');

    /* Dump: compact, jansson-compatible output. */
    CHECK_STREQ(round_trip("{\"a\": 1, \"b\": [true, false, null], \"c\": {}, \"d\": []}"),
                "{\"a\":1,\"b\":[true,false,null],\"c\":{},\"d\":[]}");
    CHECK_STREQ(round_trip("[-5, 0, 9223372036854775807, -9223372036854775808]"),
                "[-5,0,9223372036854775807,-9223372036854775808]");
    CHECK_STREQ(round_trip("[1.5, -0.25, 2.0, 1e300, 1e16]"),
                "[1.5,-0.25,2.0,1.0000000000000001e+300,10000000000000000.0]");
    CHECK_STREQ(round_trip("[\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f/\"]"),
                "[\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f/\"]");
    CHECK_STREQ(round_trip("[\"h\\u00e9llo \\u20ac \\ud83d\\ude00\"]"),
                "[\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"]");
    CHECK_STREQ(round_trip("{\"k\\\"ey\": \"v\"}"), "{\"k\\\"ey\":\"v\"}");
    CHECK_STREQ(round_trip("\"scalar\""), "(load failed)");     /* Objects/arrays only. */

    /* Strings with NUL bytes (built in memory) are escaped. */
    j = json_stringn("a\0b", 3);
    CHECK_STREQ(dump(j), "\"a\\u0000b\"");
    json_decref(j);
    j = json_integer(7);
    CHECK_STREQ(dump(j), "7");
    json_decref(j);
    j = json_real(0.1);
    const char *s = dump(j);
    json_t *back = json_loads(s, JSON_DECODE_ANY, &err);
    CHECK(back && json_real_value(back) == 0.1);
    json_decref(back);
    json_decref(j);

    /* A failing callback makes the dump fail, wherever it fails. */
    j = load("{\"a\": [1, \"x\\ny\", {\"b\": null}], \"c\": 2.5}");
    for (int k = 1; k < 30; k++) {
        struct buf b;
        memset(&b, 0, sizeof b);
        b.fail_after = k;
        int rc = json_util_dump(j, to_buf, &b);
        CHECK(rc == -1 || b.calls < k);
    }
    json_decref(j);
}

static void
test_unsigned(void)
{
    json_util_add_unsigned_key("uuid_mslong");
    json_util_add_unsigned_key("uuid_lslong");
    json_util_add_unsigned_key("uuid_mslong");      /* Twice is once. */

    json_t *j = load("{\"uuid_mslong\": 18446744073709551615}");
    CHECK(j != NULL);
    CHECK(json_integer_value(json_object_get(j, "uuid_mslong")) == -1);
    CHECK_STREQ(dump(j), "{\"uuid_mslong\":18446744073709551615}");
    json_decref(j);

    /* The boundaries. */
    CHECK_STREQ(round_trip("{\"uuid_mslong\": 9223372036854775807}"),
                "{\"uuid_mslong\":9223372036854775807}");
    j = load("{\"uuid_mslong\": 9223372036854775808}");
    CHECK(j && json_integer_value(json_object_get(j, "uuid_mslong")) == INT64_MIN);
    CHECK_STREQ(dump(j), "{\"uuid_mslong\":9223372036854775808}");
    json_decref(j);
    CHECK_STREQ(round_trip("{\"uuid_mslong\": 0}"), "{\"uuid_mslong\":0}");
    /* Past 2^64: refused, as any too-large integer. */
    CHECK(load("{\"uuid_mslong\": 18446744073709551616}") == NULL);
    CHECK(load("{\"uuid_mslong\": 99999999999999999999999}") == NULL);
    /* Other keys keep jansson's signed range. */
    CHECK(load("{\"other\": 18446744073709551615}") == NULL);
    CHECK_STREQ(round_trip("{\"other\": -1}"), "{\"other\":-1}");
    /* A negative value on an unsigned key prints as its unsigned bit pattern. */
    CHECK_STREQ(round_trip("{\"uuid_lslong\": -1}"), "{\"uuid_lslong\":18446744073709551615}");

    /* Nested, with whitespace around the colon, several in one document. */
    const char *doc = "{\"id_perms\": {\"uuid\": {\"uuid_mslong\"  :\n\t 12345678901234567890,"
                      " \"uuid_lslong\":18000000000000000000}}, \"x\": [{\"uuid_lslong\": "
                      "17000000000000000000}], \"name\": \"uuid_mslong\"}";
    j = load(doc);
    CHECK(j != NULL);
    CHECK_STREQ(dump(j), "{\"id_perms\":{\"uuid\":{\"uuid_mslong\":12345678901234567890,"
                "\"uuid_lslong\":18000000000000000000}},\"x\":[{\"uuid_lslong\":"
                "17000000000000000000}],\"name\":\"uuid_mslong\"}");
    json_decref(j);

    /* Only member values are rewritten: the key's text inside a string stays as it is. */
    CHECK_STREQ(round_trip("{\"s\": \"\\\"uuid_mslong\\\": 18446744073709551615\"}"),
                "{\"s\":\"\\\"uuid_mslong\\\": 18446744073709551615\"}");
    /* A string value is not a number. */
    CHECK_STREQ(round_trip("{\"uuid_mslong\": \"18446744073709551615\"}"),
                "{\"uuid_mslong\":\"18446744073709551615\"}");
    /* Duplicates are still refused. */
    CHECK(load("{\"uuid_mslong\": 18446744073709551615, \"uuid_mslong\": 1}") == NULL);
    /* Truncated documents fail cleanly wherever they stop. */
    const char *full = "{\"uuid_mslong\": 18446744073709551615}";
    int ok = 1;
    for (size_t n = 0; n < strlen(full); n++) {
        json_error_t err;
        json_t *t = json_util_loadb(full, n, &err);
        ok &= t == NULL;
        json_decref(t);
    }
    CHECK(ok);
}

int
main(void)
{
    int64_t live0 = mem_type_string.live;
    test_plain();
    test_unsigned();
    CHECK_EQ_INT(mem_type_string.live, live0);
    return check_finish();
}
