/* Unit tests of lib/base64: RFC 4648 test vectors both ways, binary data, bad input. */
#include <string.h>

#include "base64.h"
#include "check.h"
#include "mem.h"

int
main(void)
{
    static const char *const vectors[][2] = {
        { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
        { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
        { "/contrail/", "L2NvbnRyYWlsLw==" },
    };
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        char *e = base64_encode(vectors[i][0], strlen(vectors[i][0]));
        CHECK_STREQ(e, vectors[i][1]);
        xfree(e);
        size_t len = 99;
        char *d = base64_decode(vectors[i][1], &len);
        CHECK_STREQ(d, vectors[i][0]);
        CHECK_EQ_INT(len, strlen(vectors[i][0]));
        xfree(d);
    }
    /* Without padding, and every byte value. */
    char *d = base64_decode("Zm9vYg", NULL);
    CHECK_STREQ(d, "foob");
    xfree(d);
    unsigned char all[256];
    for (int i = 0; i < 256; i++) {
        all[i] = (unsigned char) i;
    }
    char *e = base64_encode(all, sizeof all);
    size_t len = 0;
    d = base64_decode(e, &len);
    CHECK_EQ_INT(len, 256);
    CHECK(d && !memcmp(d, all, sizeof all));
    xfree(e);
    xfree(d);
    /* Not base64. */
    CHECK(base64_decode("Zm9v!", NULL) == NULL);
    CHECK(base64_decode("Z", NULL) == NULL);
    CHECK(base64_decode("Zg===", NULL) == NULL);
    CHECK(base64_decode("Zm 9v", NULL) == NULL);
    return check_finish();
}
