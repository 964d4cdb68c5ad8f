/* Fuzz target: the BGP message codec on arbitrary bytes.  The input is a stream of messages;
 * each is checked and decoded as its header says, with 2- and 4-octet AS and both iBGP and
 * eBGP rules.  A decoded UPDATE is encoded again and must decode to the same routes. */
#include "fuzz_common.h"
#include "bgp_msg.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

static void
reencode(const struct bgp_codec *codec, const struct bgp_update *u)
{
    if (u->treat_as_withdraw || !u->n_reach) {
        return;
    }
    /* All NLRIs of one family go out in one message (the first family only). */
    int f = u->reach[0].p.family;
    size_t i = 0;
    while (i < u->n_reach && u->reach[i].p.family == f) {
        i++;
    }
    uint8_t buf[BGP_MAX_MSG];
    size_t done;
    size_t n = bgp_update_encode_reach(codec, f, &u->attrs, u->reach, i, buf, &done);
    uint16_t len;
    uint8_t type;
    struct bgp_error err;
    if (bgp_msg_check_header(buf, n, &len, &type, &err) || len != n) {
        abort();
    }
    struct bgp_update v;
    if (bgp_update_decode(codec, buf + BGP_HEADER_LEN, n - BGP_HEADER_LEN, &v, &err)) {
        abort();
    }
    if (v.n_reach != done || (done && memcmp(&v.reach[0].p, &u->reach[0].p,
                                             sizeof v.reach[0].p))) {
        abort();
    }
    bgp_update_clear(&v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct bgp_codec codecs[] = {
        { .as4 = true, .ibgp = true }, { .as4 = false, .ibgp = false },
    };
    for (size_t ci = 0; ci < 2; ci++) {
        const uint8_t *p = data;
        size_t left = size;
        while (left >= BGP_HEADER_LEN) {
            uint16_t len;
            uint8_t type;
            struct bgp_error err;
            if (bgp_msg_check_header(p, left, &len, &type, &err) || len > left) {
                break;
            }
            const uint8_t *body = p + BGP_HEADER_LEN;
            size_t blen = len - BGP_HEADER_LEN;
            switch (type) {
            case BGP_MSG_OPEN: {
                struct bgp_open o;
                if (!bgp_open_decode(body, blen, &o, &err)) {
                    uint8_t buf[BGP_MAX_MSG];
                    struct bgp_open o2;
                    /* Families we do not know are not re-encoded: only known ones compare. */
                    size_t n = bgp_open_encode(&o, buf);
                    if (bgp_open_decode(buf + BGP_HEADER_LEN, n - BGP_HEADER_LEN, &o2, &err)
                        || o2.asn != o.asn
                        || (o.families && o2.families != o.families)) {
                        abort();
                    }
                }
                break;
            }
            case BGP_MSG_UPDATE: {
                struct bgp_update u;
                if (!bgp_update_decode(&codecs[ci], body, blen, &u, &err)) {
                    reencode(&codecs[ci], &u);
                }
                bgp_update_clear(&u);
                break;
            }
            case BGP_MSG_NOTIFICATION: {
                struct bgp_error out;
                bgp_notification_decode(body, blen, &out, &err);
                break;
            }
            case BGP_MSG_ROUTE_REFRESH: {
                int fam;
                bgp_route_refresh_decode(body, blen, &fam, &err);
                break;
            }
            }
            p += len;
            left -= len;
        }
    }
    return 0;
}
