/* Fuzz target: the XMPP splitter and decoder on arbitrary bytes, as a session sees them.  The
 * input is fed in pieces (the first byte picks the piece size) after a stream open; every frame
 * is decoded with one decoder (publish/collection state spans stanzas).  A decoded route is
 * encoded again as a publish and must decode to the same key. */
#include <event2/buffer.h>

#include "fuzz_common.h"
#include "xmpp_proto.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

static void
reencode(const struct xmpp_route *r)
{
    if (!r->vrf || !*r->vrf || strchr(r->vrf, '/') || !r->n_nh) {
        return;
    }
    struct evbuffer *b = evbuffer_new();
    xmpp_encode_open(b, "fuzz", XMPP_CONTROL_JID, NULL, NULL);
    xmpp_encode_publish(b, "fuzz", r, true, 1);
    size_t n = evbuffer_get_length(b);
    struct xmpp_splitter sp;
    struct xmpp_decoder dec;
    xmpp_splitter_init(&sp, 0);
    xmpp_decoder_init(&dec);
    xmpp_splitter_feed(&sp, evbuffer_pullup(b, -1), n);
    bool found = false;
    for (;;) {
        struct xmpp_frame f;
        if (xmpp_splitter_next(&sp, &f)) {
            abort();
        }
        if (f.type == XMPP_FRAME_NONE) {
            break;
        }
        if (f.type != XMPP_FRAME_STANZA) {
            continue;
        }
        struct xmpp_event ev;
        if (xmpp_decode_stanza(&dec, f.data, f.len, &ev)) {
            fprintf(stderr, "re-encoded route does not decode: %s\n", dec.error);
            abort();
        }
        if (ev.type == XMPP_EV_ROUTE_ADD) {
            if (strcmp(ev.routes[0].key, r->key) || ev.routes[0].n_nh != r->n_nh) {
                abort();
            }
            found = true;
        }
        xmpp_event_clear(&ev);
    }
    if (!found) {
        abort();
    }
    xmpp_decoder_destroy(&dec);
    xmpp_splitter_destroy(&sp);
    evbuffer_free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size) {
        return 0;
    }
    size_t piece = (size_t) data[0] % 64 + 1;
    data++;
    size--;
    static const char open[] = "<stream:stream from='a' xmlns:stream='"
                               XMPP_NS_STREAM "'>";
    struct xmpp_splitter sp;
    struct xmpp_decoder dec;
    xmpp_splitter_init(&sp, 65536);
    xmpp_decoder_init(&dec);
    xmpp_splitter_feed(&sp, open, sizeof open - 1);
    bool bad = false;
    for (size_t off = 0; off <= size && !bad; off += piece) {
        size_t n = size - off < piece ? size - off : piece;
        xmpp_splitter_feed(&sp, data + off, n);
        for (;;) {
            struct xmpp_frame f;
            if (xmpp_splitter_next(&sp, &f)) {
                bad = true;
                break;
            }
            if (f.type == XMPP_FRAME_NONE) {
                break;
            }
            if (f.type == XMPP_FRAME_OPEN) {
                struct xmpp_open o;
                char err[128];
                xmpp_open_decode(f.data, f.len, &o, err, sizeof err);
                xmpp_open_clear(&o);
                continue;
            }
            if (f.type != XMPP_FRAME_STANZA) {
                continue;
            }
            struct xmpp_event ev;
            if (!xmpp_decode_stanza(&dec, f.data, f.len, &ev)) {
                for (size_t i = 0; i < ev.n_routes; i++) {
                    if (ev.type == XMPP_EV_ROUTE_ADD) {
                        reencode(&ev.routes[i]);
                    }
                }
            }
            xmpp_event_clear(&ev);
        }
        if (n == 0) {
            break;
        }
    }
    xmpp_decoder_destroy(&dec);
    xmpp_splitter_destroy(&sp);
    return 0;
}
