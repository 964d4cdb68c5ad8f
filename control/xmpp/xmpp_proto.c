/* xmpp_proto: splitter, decoder and encoders of the agent <-> control XMPP.  See xmpp_proto.h.
 *
 * The splitter is a byte-level scanner that knows just enough XML to find where a top-level
 * element ends (tags, quoted attribute values, comments, CDATA, processing instructions); it
 * resumes where it stopped, so a stanza arriving in many reads is scanned once.  Each complete
 * stanza is parsed by libxml2 inside a synthetic stream element that declares the stream and
 * client namespaces, so that "stream:error" resolves as it does on the wire. */
#include "xmpp_proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipaddr.h"
#include "hmap.h"
#include "mem.h"

static MEM_TYPE(mem_xmpp_proto, "xmpp_proto");

static char *
xstr(const char *s)
{
    return mem_strdup(&mem_xmpp_proto, s);
}

static void
xfree_str(void *p)
{
    mem_free(&mem_xmpp_proto, p);
}

/* Grows array *P of *N elements of SIZE bytes by one zeroed element; returns it. */
static void *
array_push(void *pp, size_t *n, size_t size)
{
    void **p = pp;
    *p = mem_realloc(&mem_xmpp_proto, *p, (*n + 1) * size);
    void *e = (char *) *p + *n * size;
    memset(e, 0, size);
    (*n)++;
    return e;
}

/* ---------------------------------------------------------------------------------------- */
/* Splitter */

enum {
    SP_FILL,            /* Between frames. */
    SP_FILL_C8,         /* Saw the first byte of U+0200. */
    SP_LT,              /* Just after '<'. */
    SP_NAME,            /* Reading a tag name. */
    SP_TAG,             /* Inside a start tag, after its name. */
    SP_ENDTAG,          /* Inside an end tag, after its name. */
    SP_CONTENT,         /* Element content. */
    SP_PI,              /* <? ... ?> */
    SP_BANG,            /* <! and what follows, until we know which construct it is. */
    SP_COMMENT,         /* <!-- ... --> */
    SP_CDATA,           /* <![CDATA[ ... ]]> */
    SP_CLOSED,          /* After </stream:stream>: everything is ignored. */
};

void
xmpp_splitter_init(struct xmpp_splitter *sp, size_t max)
{
    memset(sp, 0, sizeof *sp);
    sp->max = max ? max : XMPP_MAX_STANZA;
    sp->state = SP_FILL;
}

void
xmpp_splitter_destroy(struct xmpp_splitter *sp)
{
    mem_free(&mem_xmpp_proto, sp->buf);
    sp->buf = NULL;
    sp->len = sp->cap = sp->start = sp->pos = 0;
    mem_free(&mem_xmpp_proto, sp->open_names);
    sp->open_names = NULL;
    sp->open_cap = 0;
}

/* Remembers the name of the element opened at nesting DEPTH (1-based), so that its end tag
 * can be checked: a hash keeps this small. */
static void
sp_push_name(struct xmpp_splitter *sp, int depth)
{
    if ((size_t) depth > sp->open_cap) {
        sp->open_cap = sp->open_cap ? 2 * sp->open_cap : 16;
        while (sp->open_cap < (size_t) depth) {
            sp->open_cap *= 2;
        }
        sp->open_names = mem_realloc(&mem_xmpp_proto, sp->open_names,
                                     sp->open_cap * sizeof *sp->open_names);
    }
    sp->open_names[depth - 1] = hash_string(sp->name, 0);
}

size_t
xmpp_splitter_pending(const struct xmpp_splitter *sp)
{
    return sp->len - sp->start;
}

void
xmpp_splitter_feed(struct xmpp_splitter *sp, const void *data, size_t len)
{
    if (sp->state == SP_CLOSED) {
        return;
    }
    if (sp->start) {
        memmove(sp->buf, sp->buf + sp->start, sp->len - sp->start);
        sp->len -= sp->start;
        sp->pos -= sp->start;
        sp->frame_start = sp->frame_start >= sp->start ? sp->frame_start - sp->start : 0;
        sp->start = 0;
    }
    if (sp->len + len > sp->cap) {
        size_t cap = sp->cap ? sp->cap : 4096;
        while (cap < sp->len + len) {
            cap *= 2;
        }
        sp->buf = mem_realloc(&mem_xmpp_proto, sp->buf, cap);
        sp->cap = cap;
    }
    if (len) {
        memcpy(sp->buf + sp->len, data, len);
        sp->len += len;
    }
}

static int
sp_fail(struct xmpp_splitter *sp, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sp->error, sizeof sp->error, fmt, ap);
    va_end(ap);
    return err;
}

static bool
is_stream_name(const char *name)
{
    return !strcmp(name, "stream:stream");
}

static bool
is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void
sp_emit(struct xmpp_splitter *sp, struct xmpp_frame *f, enum xmpp_frame_type type)
{
    f->type = type;
    f->data = sp->buf + sp->frame_start;
    f->len = sp->pos - sp->frame_start;
    snprintf(f->name, sizeof f->name, "%s", sp->top);
    sp->start = sp->pos;
    sp->state = SP_FILL;
    sp->depth = 0;
}

int
xmpp_splitter_next(struct xmpp_splitter *sp, struct xmpp_frame *f)
{
    f->type = XMPP_FRAME_NONE;
    f->data = NULL;
    f->len = 0;
    f->name[0] = '\0';
    while (sp->pos < sp->len) {
        if (sp->state != SP_FILL && sp->state != SP_FILL_C8 && sp->state != SP_CLOSED
            && sp->pos - sp->frame_start >= sp->max) {
            return sp_fail(sp, EMSGSIZE, "stanza larger than %zu bytes", sp->max);
        }
        unsigned char c = (unsigned char) sp->buf[sp->pos];
        switch (sp->state) {
        case SP_CLOSED:
            sp->pos = sp->len;
            sp->start = sp->len;
            return 0;
        case SP_FILL:
            if (is_space(c)) {
                sp->start = ++sp->pos;
            } else if (c == 0xc8) {
                sp->state = SP_FILL_C8;
                sp->pos++;
            } else if (c == '<') {
                sp->frame_start = sp->pos++;
                sp->state = SP_LT;
                sp->depth = 0;
            } else {
                return sp_fail(sp, EBADMSG, "unexpected byte 0x%02x between stanzas", c);
            }
            break;
        case SP_FILL_C8:
            if (c != 0x80) {
                return sp_fail(sp, EBADMSG, "unexpected byte 0x%02x between stanzas", c);
            }
            sp->state = SP_FILL;
            sp->start = ++sp->pos;
            break;
        case SP_LT:
            sp->name_len = 0;
            sp->prev[0] = sp->prev[1] = 0;
            if (c == '?') {
                sp->state = SP_PI;
                sp->pos++;
            } else if (c == '!') {
                sp->state = SP_BANG;
                sp->pos++;
            } else if (c == '/') {
                sp->end_tag = true;
                sp->state = SP_NAME;
                sp->pos++;
            } else {
                sp->end_tag = false;
                sp->state = SP_NAME;
            }
            break;
        case SP_NAME:
            if (is_space(c) || c == '>' || c == '/' || c == '<' || c == '"' || c == '\''
                || c == '=') {
                sp->name[sp->name_len] = '\0';
                if (!sp->name_len) {
                    return sp_fail(sp, EBADMSG, "tag without a name");
                }
                sp->state = sp->end_tag ? SP_ENDTAG : SP_TAG;
                sp->quote = 0;
            } else {
                if (sp->name_len < sizeof sp->name - 1) {
                    sp->name[sp->name_len++] = (char) c;
                }
                sp->pos++;
            }
            break;
        case SP_TAG:
            if (sp->quote) {
                if (c == sp->quote) {
                    sp->quote = 0;
                }
                sp->pos++;
                break;
            }
            if (c == '"' || c == '\'') {
                sp->quote = c;
            } else if (c == '<') {
                return sp_fail(sp, EBADMSG, "'<' inside tag <%s>", sp->name);
            } else if (c == '>') {
                bool empty = sp->prev[1] == '/';
                sp->pos++;
                if (sp->depth == 0) {
                    snprintf(sp->top, sizeof sp->top, "%s", sp->name);
                    if (is_stream_name(sp->name)) {
                        if (sp->open_seen) {
                            return sp_fail(sp, EBADMSG, "second stream open");
                        }
                        sp->open_seen = true;
                        sp_emit(sp, f, XMPP_FRAME_OPEN);
                        return 0;
                    }
                    if (!sp->open_seen) {
                        return sp_fail(sp, EBADMSG, "<%s> before the stream open", sp->name);
                    }
                    if (empty) {
                        sp_emit(sp, f, XMPP_FRAME_STANZA);
                        return 0;
                    }
                    sp->depth = 1;
                    sp_push_name(sp, 1);
                } else if (!empty) {
                    if (sp->depth >= 1000) {
                        return sp_fail(sp, EBADMSG, "elements nested too deep");
                    }
                    sp->depth++;
                    sp_push_name(sp, sp->depth);
                }
                sp->state = SP_CONTENT;
                break;
            }
            sp->prev[1] = c;
            sp->pos++;
            break;
        case SP_ENDTAG:
            if (c == '<') {
                return sp_fail(sp, EBADMSG, "'<' inside end tag </%s>", sp->name);
            }
            sp->pos++;
            if (c != '>') {
                break;
            }
            if (sp->depth == 0) {
                if (is_stream_name(sp->name) && sp->open_seen) {
                    snprintf(sp->top, sizeof sp->top, "%s", sp->name);
                    sp_emit(sp, f, XMPP_FRAME_CLOSE);
                    sp->state = SP_CLOSED;
                    sp->closed = true;
                    return 0;
                }
                return sp_fail(sp, EBADMSG, "unexpected end tag </%s>", sp->name);
            }
            if (sp->open_names[sp->depth - 1] != hash_string(sp->name, 0)) {
                return sp_fail(sp, EBADMSG, "end tag </%s> does not match its element",
                               sp->name);
            }
            if (--sp->depth == 0) {
                sp_emit(sp, f, XMPP_FRAME_STANZA);
                return 0;
            }
            sp->state = SP_CONTENT;
            break;
        case SP_CONTENT: {
            const char *lt = memchr(sp->buf + sp->pos, '<', sp->len - sp->pos);
            if (!lt) {
                sp->pos = sp->len;
            } else {
                sp->pos = (size_t) (lt - sp->buf) + 1;
                sp->state = SP_LT;
            }
            break;
        }
        case SP_PI:
            sp->pos++;
            if (c == '>' && sp->prev[1] == '?') {
                if (sp->depth == 0) {
                    /* The XML declaration, before the stream open only. */
                    if (sp->open_seen) {
                        return sp_fail(sp, EBADMSG, "processing instruction between stanzas");
                    }
                    sp->state = SP_FILL;
                    sp->start = sp->pos;
                } else {
                    sp->state = SP_CONTENT;
                }
            }
            sp->prev[1] = c;
            break;
        case SP_BANG:
            if (sp->name_len < sizeof sp->name - 1) {
                sp->name[sp->name_len++] = (char) c;
            }
            sp->name[sp->name_len] = '\0';
            sp->pos++;
            if (!strcmp(sp->name, "--")) {
                sp->state = SP_COMMENT;
                sp->prev[0] = sp->prev[1] = 0;
            } else if (!strcmp(sp->name, "[CDATA[")) {
                if (sp->depth == 0) {
                    return sp_fail(sp, EBADMSG, "CDATA between stanzas");
                }
                sp->state = SP_CDATA;
                sp->prev[0] = sp->prev[1] = 0;
            } else if (strncmp("--", sp->name, sp->name_len)
                       && strncmp("[CDATA[", sp->name, sp->name_len)) {
                return sp_fail(sp, EBADMSG, "unsupported markup <!%s", sp->name);
            }
            break;
        case SP_COMMENT:
        case SP_CDATA: {
            unsigned char want = sp->state == SP_COMMENT ? '-' : ']';
            sp->pos++;
            if (c == '>' && sp->prev[0] == want && sp->prev[1] == want) {
                if (sp->depth == 0) {
                    sp->state = SP_FILL;
                    sp->start = sp->pos;
                } else {
                    sp->state = SP_CONTENT;
                }
            } else {
                sp->prev[0] = sp->prev[1];
                sp->prev[1] = c;
            }
            break;
        }
        }
    }
    if (sp->state != SP_FILL && sp->state != SP_FILL_C8 && sp->state != SP_CLOSED
        && sp->pos - sp->frame_start >= sp->max) {
        return sp_fail(sp, EMSGSIZE, "stanza larger than %zu bytes", sp->max);
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* UTF-8 and the stream open */

/* Whether S (LEN bytes) is valid UTF-8 without NUL and C0 controls other than TAB/CR/LF. */
static bool
utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (c < 0x20 && c != '\t' && c != '\r' && c != '\n') {
                return false;
            }
            i++;
            continue;
        }
        int n;
        unsigned cp;
        if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n >= len) {
            return false;
        }
        for (int k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)
            || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += n + 1;
    }
    return true;
}

/* Appends code point CP as UTF-8 to OUT (at least 4 bytes of room); returns bytes written. */
static size_t
utf8_put(unsigned cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char) cp;
        return 1;
    } else if (cp < 0x800) {
        out[0] = (char) (0xc0 | (cp >> 6));
        out[1] = (char) (0x80 | (cp & 0x3f));
        return 2;
    } else if (cp < 0x10000) {
        out[0] = (char) (0xe0 | (cp >> 12));
        out[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char) (0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char) (0xf0 | (cp >> 18));
    out[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char) (0x80 | (cp & 0x3f));
    return 4;
}

/* Unescapes attribute value V (LEN bytes) into a new string; NULL on a bad reference. */
static char *
attr_unescape(const char *v, size_t len)
{
    char *out = mem_zalloc(&mem_xmpp_proto, len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (v[i] == '<') {
            goto bad;
        }
        if (v[i] != '&') {
            out[o++] = v[i++];
            continue;
        }
        const char *semi = memchr(v + i, ';', len - i);
        if (!semi) {
            goto bad;
        }
        size_t rl = (size_t) (semi - (v + i)) + 1;
        const char *ref = v + i;
        static const struct { const char *name; char c; } named[] = {
            { "&lt;", '<' }, { "&gt;", '>' }, { "&amp;", '&' }, { "&quot;", '"' },
            { "&apos;", '\'' },
        };
        bool done = false;
        for (size_t k = 0; k < sizeof named / sizeof named[0]; k++) {
            if (rl == strlen(named[k].name) && !memcmp(ref, named[k].name, rl)) {
                out[o++] = named[k].c;
                done = true;
            }
        }
        if (!done) {
            if (rl < 4 || ref[1] != '#') {
                goto bad;
            }
            bool hex = ref[2] == 'x';
            unsigned long cp = 0;
            size_t digits = 0;
            for (size_t k = hex ? 3 : 2; k < rl - 1; k++, digits++) {
                char d = ref[k];
                int val;
                if (d >= '0' && d <= '9') {
                    val = d - '0';
                } else if (hex && d >= 'a' && d <= 'f') {
                    val = d - 'a' + 10;
                } else if (hex && d >= 'A' && d <= 'F') {
                    val = d - 'A' + 10;
                } else {
                    goto bad;
                }
                cp = cp * (hex ? 16 : 10) + (unsigned long) val;
                if (cp > 0x10ffff) {
                    goto bad;
                }
            }
            if (!digits || (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r')
                || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff) {
                goto bad;
            }
            /* A reference is at least 4 bytes and UTF-8 needs at most 4. */
            o += utf8_put((unsigned) cp, out + o);
        }
        i += rl;
    }
    out[o] = '\0';
    return out;
bad:
    xfree_str(out);
    return NULL;
}

void
xmpp_open_clear(struct xmpp_open *o)
{
    xfree_str(o->from);
    xfree_str(o->to);
    xfree_str(o->id);
    xfree_str(o->version);
    xfree_str(o->xmlns);
    memset(o, 0, sizeof *o);
    o->subcluster = "";
}

int
xmpp_open_decode(const char *text, size_t len, struct xmpp_open *o, char *err,
                 size_t err_size)
{
    memset(o, 0, sizeof *o);
    o->subcluster = "";
    if (!utf8_valid((const unsigned char *) text, len)) {
        snprintf(err, err_size, "stream open is not valid UTF-8");
        return EBADMSG;
    }
    static const char head[] = "<stream:stream";
    if (len < sizeof head || memcmp(text, head, sizeof head - 1) || text[len - 1] != '>') {
        snprintf(err, err_size, "not a stream open");
        return EBADMSG;
    }
    size_t i = sizeof head - 1;
    size_t end = len - 1;
    if (end > i && text[end - 1] == '/') {
        end--;
    }
    while (i < end) {
        if (is_space((unsigned char) text[i])) {
            i++;
            continue;
        }
        size_t ns = i;
        while (i < end && text[i] != '=' && !is_space((unsigned char) text[i])) {
            i++;
        }
        size_t nlen = i - ns;
        while (i < end && is_space((unsigned char) text[i])) {
            i++;
        }
        if (!nlen || i >= end || text[i] != '=') {
            snprintf(err, err_size, "malformed attribute in stream open");
            goto fail;
        }
        i++;
        while (i < end && is_space((unsigned char) text[i])) {
            i++;
        }
        if (i >= end || (text[i] != '"' && text[i] != '\'')) {
            snprintf(err, err_size, "unquoted attribute value in stream open");
            goto fail;
        }
        char q = text[i++];
        const char *vend = memchr(text + i, q, end - i);
        if (!vend) {
            snprintf(err, err_size, "unterminated attribute value in stream open");
            goto fail;
        }
        char *val = attr_unescape(text + i, (size_t) (vend - (text + i)));
        if (!val) {
            snprintf(err, err_size, "bad character reference in stream open");
            goto fail;
        }
        i = (size_t) (vend - text) + 1;
        if (i < end && !is_space((unsigned char) text[i])) {
            xfree_str(val);
            snprintf(err, err_size, "attributes of the stream open not separated");
            goto fail;
        }
        char **slot = NULL;
#define ATTR_IS(NAME) (nlen == sizeof NAME - 1 && !memcmp(text + ns, NAME, nlen))
        if (ATTR_IS("from")) {
            slot = &o->from;
        } else if (ATTR_IS("to")) {
            slot = &o->to;
        } else if (ATTR_IS("id")) {
            slot = &o->id;
        } else if (ATTR_IS("version")) {
            slot = &o->version;
        } else if (ATTR_IS("xmlns")) {
            slot = &o->xmlns;
        }
#undef ATTR_IS
        if (slot) {
            if (*slot) {
                xfree_str(val);
                snprintf(err, err_size, "repeated attribute in stream open");
                goto fail;
            }
            *slot = val;
        } else {
            xfree_str(val);
        }
    }
    if (o->xmlns && strcmp(o->xmlns, XMPP_NS_CLIENT)) {
        o->subcluster = o->xmlns;
    }
    return 0;
fail:
    xmpp_open_clear(o);
    return EBADMSG;
}

/* ---------------------------------------------------------------------------------------- */
/* Families, encapsulations, keys */

static const struct {
    const char *name;
    unsigned afi, safi;
} families[XMPP_FAM_N] = {
    [XMPP_FAM_INET] = { "inet", 1, 1 },
    [XMPP_FAM_INET6] = { "inet6", 2, 1 },
    [XMPP_FAM_ENET] = { "enet", 25, 242 },
    [XMPP_FAM_MCAST] = { "mcast", 1, 241 },
};

int
xmpp_family_from_afi_safi(unsigned afi, unsigned safi)
{
    for (int i = 0; i < XMPP_FAM_N; i++) {
        if (families[i].afi == afi && families[i].safi == safi) {
            return i;
        }
    }
    return -1;
}

void
xmpp_family_afi_safi(enum xmpp_family f, unsigned *afi, unsigned *safi)
{
    *afi = families[f].afi;
    *safi = families[f].safi;
}

const char *
xmpp_family_name(enum xmpp_family f)
{
    return (unsigned) f < XMPP_FAM_N ? families[f].name : "?";
}

int
xmpp_family_from_name(const char *s)
{
    for (int i = 0; i < XMPP_FAM_N; i++) {
        if (!strcmp(s, families[i].name)) {
            return i;
        }
    }
    return -1;
}

static const char *const encap_names[] = { "gre", "udp", "vxlan", "native", "mpls" };

unsigned
xmpp_encap_from_name(const char *s)
{
    for (size_t i = 0; i < sizeof encap_names / sizeof encap_names[0]; i++) {
        if (!strcmp(s, encap_names[i])) {
            return 1u << i;
        }
    }
    return 0;
}

char *
xmpp_encap_format(unsigned mask, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof encap_names / sizeof encap_names[0]; i++) {
        if (mask & (1u << i)) {
            int n = snprintf(buf + o, size - o, "%s%s", o ? "," : "", encap_names[i]);
            if (n < 0 || (size_t) n >= size - o) {
                break;
            }
            o += (size_t) n;
        }
    }
    return buf;
}

bool
xmpp_parse_mac(const char *s, uint8_t mac[6])
{
    unsigned v[6];
    char tail;
    if (strlen(s) != 17
        || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                  &tail) != 6) {
        return false;
    }
    for (int i = 0; i < 6; i++) {
        if (s[i * 3] == ' ' || s[i * 3 + 1] == ' ' || (i < 5 && s[i * 3 + 2] != ':')) {
            return false;
        }
        mac[i] = (uint8_t) v[i];
    }
    return true;
}

/* IPADDR's value as network-order bytes (4 or 16). */
static void
ip_to_bytes(const struct ipaddr *a, uint8_t out[16])
{
    memset(out, 0, 16);
    int n = a->family == 4 ? 4 : 16;
    ipaddr_u128 v = a->v;
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (uint8_t) (v & 0xff);
        v >>= 8;
    }
}

static void
ip_from_bytes(int family, const uint8_t in[16], struct ipaddr *a)
{
    a->family = family;
    a->v = 0;
    int n = family == 4 ? 4 : 16;
    for (int i = 0; i < n; i++) {
        a->v = (a->v << 8) | in[i];
    }
}

static void
ip_bytes_format(int family, const uint8_t in[16], char *buf)
{
    struct ipaddr a;
    ip_from_bytes(family, in, &a);
    ipaddr_format(&a, buf);
}

/* Parses a decimal number of at most MAX into *OUT; the whole string must be digits
 * (surrounding white space allowed). */
static bool
parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    while (is_space((unsigned char) *s)) {
        s++;
    }
    if (*s < '0' || *s > '9') {
        return false;
    }
    unsigned long long v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (unsigned) (*s - '0');
        if (v > max) {
            return false;
        }
        s++;
    }
    while (is_space((unsigned char) *s)) {
        s++;
    }
    if (*s) {
        return false;
    }
    *out = (uint32_t) v;
    return true;
}

/* Parses "ADDR/PLEN" of FAMILY (4, 6, or 0 for either) into bytes, clearing host bits when
 * MASK.  Returns false if malformed. */
static bool
parse_prefix(const char *s, int family, bool mask, int *fam_out, uint8_t addr[16],
             uint8_t *plen)
{
    struct ipaddr net;
    int len;
    if (strlen(s) >= 64 || !ipaddr_parse_prefix(s, false, &net, &len)
        || (family && net.family != family)) {
        return false;
    }
    if (mask) {
        net.v = ipaddr_prefix_first(&net, len);
    }
    ip_to_bytes(&net, addr);
    *plen = (uint8_t) len;
    *fam_out = net.family;
    return true;
}

void
xmpp_route_format_key(struct xmpp_route *r)
{
    char a[IPADDR_STRLEN];
    switch (r->family) {
    case XMPP_FAM_INET:
    case XMPP_FAM_INET6:
        ip_bytes_format(r->ip_family, r->addr, a);
        snprintf(r->key, sizeof r->key, "%s/%u", a, r->plen);
        break;
    case XMPP_FAM_ENET: {
        char et[16] = "";
        if (r->etag) {
            snprintf(et, sizeof et, "%u-", r->etag);
        }
        const uint8_t *m = r->mac;
        if (r->ip_family) {
            ip_bytes_format(r->ip_family, r->addr, a);
            snprintf(r->key, sizeof r->key, "%s%02x:%02x:%02x:%02x:%02x:%02x,%s/%u", et,
                     m[0], m[1], m[2], m[3], m[4], m[5], a, r->plen);
        } else {
            snprintf(r->key, sizeof r->key, "%s%02x:%02x:%02x:%02x:%02x:%02x", et,
                     m[0], m[1], m[2], m[3], m[4], m[5]);
        }
        break;
    }
    case XMPP_FAM_MCAST: {
        char g[INET_ADDRSTRLEN], s[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, r->group, g, sizeof g);
        inet_ntop(AF_INET, r->source, s, sizeof s);
        snprintf(r->key, sizeof r->key, "%s,%s", g, s);
        break;
    }
    default:
        r->key[0] = '\0';
    }
}

int
xmpp_route_set_key(struct xmpp_route *r, enum xmpp_family family, const char *key)
{
    if ((unsigned) family >= XMPP_FAM_N || strlen(key) >= XMPP_KEY_MAX) {
        return EINVAL;
    }
    char buf[XMPP_KEY_MAX];
    snprintf(buf, sizeof buf, "%s", key);
    r->family = family;
    r->ip_family = 0;
    memset(r->addr, 0, sizeof r->addr);
    r->plen = 0;
    memset(r->mac, 0, sizeof r->mac);
    r->etag = 0;
    memset(r->group, 0, sizeof r->group);
    memset(r->source, 0, sizeof r->source);
    switch (family) {
    case XMPP_FAM_INET:
    case XMPP_FAM_INET6: {
        /* "ADDR/PLEN[/NATIVE_VRF_ID]" */
        char *slash = strchr(buf, '/');
        char *second = slash ? strchr(slash + 1, '/') : NULL;
        uint32_t native;
        if (second) {
            if (!parse_u32(second + 1, UINT32_MAX, &native)) {
                return EINVAL;
            }
            *second = '\0';
        }
        if (!parse_prefix(buf, family == XMPP_FAM_INET ? 4 : 6, true, &r->ip_family, r->addr,
                          &r->plen)) {
            return EINVAL;
        }
        break;
    }
    case XMPP_FAM_ENET: {
        /* "[ETAG-]MAC[,IP/PLEN]" */
        char *p = buf;
        char *dash = strchr(p, '-');
        char *comma = strchr(p, ',');
        if (dash && (!comma || dash < comma)) {
            *dash = '\0';
            if (!parse_u32(p, UINT32_MAX, &r->etag)) {
                return EINVAL;
            }
            p = dash + 1;
        }
        comma = strchr(p, ',');
        if (comma) {
            *comma = '\0';
        }
        if (!xmpp_parse_mac(p, r->mac)) {
            return EINVAL;
        }
        if (comma && !parse_prefix(comma + 1, 0, false, &r->ip_family, r->addr, &r->plen)) {
            return EINVAL;
        }
        break;
    }
    case XMPP_FAM_MCAST: {
        /* "[RD:]GROUP,SOURCE": the group starts after the last ':' before the comma. */
        char *comma = strchr(buf, ',');
        if (!comma) {
            return EINVAL;
        }
        *comma = '\0';
        char *g = strrchr(buf, ':');
        g = g ? g + 1 : buf;
        if (inet_pton(AF_INET, g, r->group) != 1 || inet_pton(AF_INET, comma + 1, r->source) != 1) {
            return EINVAL;
        }
        r->ip_family = 4;
        r->plen = 32;
        memcpy(r->addr, r->group, 4);
        break;
    }
    default:
        return EINVAL;
    }
    xmpp_route_format_key(r);
    return 0;
}

static void
nexthop_clear(struct xmpp_nexthop *nh)
{
    xfree_str(nh->virtual_network);
    mem_free(&mem_xmpp_proto, nh->tags);
}

static void
nexthops_copy(struct xmpp_nexthop **dst, const struct xmpp_nexthop *src, size_t n)
{
    *dst = NULL;
    if (!n) {
        return;
    }
    *dst = mem_zalloc(&mem_xmpp_proto, n * sizeof **dst);
    for (size_t i = 0; i < n; i++) {
        struct xmpp_nexthop *d = &(*dst)[i];
        *d = src[i];
        d->virtual_network = xstr(src[i].virtual_network);
        d->tags = NULL;
        if (src[i].n_tags) {
            d->tags = mem_zalloc(&mem_xmpp_proto, src[i].n_tags * sizeof *d->tags);
            memcpy(d->tags, src[i].tags, src[i].n_tags * sizeof *d->tags);
        }
    }
}

void
xmpp_route_clear(struct xmpp_route *r)
{
    if (!r) {
        return;
    }
    xfree_str(r->vrf);
    for (size_t i = 0; i < r->n_nh; i++) {
        nexthop_clear(&r->nh[i]);
    }
    mem_free(&mem_xmpp_proto, r->nh);
    for (size_t i = 0; i < r->n_olist; i++) {
        nexthop_clear(&r->olist[i]);
    }
    mem_free(&mem_xmpp_proto, r->olist);
    xfree_str(r->virtual_network);
    mem_free(&mem_xmpp_proto, r->sgs);
    for (size_t i = 0; i < r->n_communities; i++) {
        xfree_str(r->communities[i]);
    }
    mem_free(&mem_xmpp_proto, r->communities);
    xfree_str(r->sub_protocol);
    memset(r, 0, sizeof *r);
}

void
xmpp_route_copy(struct xmpp_route *dst, const struct xmpp_route *src)
{
    *dst = *src;
    dst->vrf = xstr(src->vrf);
    nexthops_copy(&dst->nh, src->nh, src->n_nh);
    nexthops_copy(&dst->olist, src->olist, src->n_olist);
    dst->virtual_network = xstr(src->virtual_network);
    dst->sgs = NULL;
    if (src->n_sgs) {
        dst->sgs = mem_zalloc(&mem_xmpp_proto, src->n_sgs * sizeof *dst->sgs);
        memcpy(dst->sgs, src->sgs, src->n_sgs * sizeof *dst->sgs);
    }
    dst->communities = NULL;
    if (src->n_communities) {
        dst->communities = mem_zalloc(&mem_xmpp_proto,
                                      src->n_communities * sizeof *dst->communities);
        for (size_t i = 0; i < src->n_communities; i++) {
            dst->communities[i] = xstr(src->communities[i]);
        }
    }
    dst->sub_protocol = xstr(src->sub_protocol);
}

void
xmpp_route_set_vrf(struct xmpp_route *r, const char *vrf)
{
    xfree_str(r->vrf);
    r->vrf = xstr(vrf);
}

struct xmpp_nexthop *
xmpp_route_add_nexthop(struct xmpp_route *r)
{
    return array_push(&r->nh, &r->n_nh, sizeof *r->nh);
}

struct xmpp_nexthop *
xmpp_route_add_olist(struct xmpp_route *r)
{
    return array_push(&r->olist, &r->n_olist, sizeof *r->olist);
}

int
xmpp_nexthop_set_address(struct xmpp_nexthop *nh, const char *text)
{
    struct ipaddr a;
    if (strlen(text) >= sizeof nh->address || !ipaddr_parse(text, &a)) {
        return EINVAL;
    }
    nh->family = a.family;
    ip_to_bytes(&a, nh->addr);
    ipaddr_format(&a, nh->address);
    return 0;
}

void
xmpp_nexthop_set_vn(struct xmpp_nexthop *nh, const char *vn)
{
    xfree_str(nh->virtual_network);
    nh->virtual_network = xstr(vn);
}

void
xmpp_nexthop_add_tag(struct xmpp_nexthop *nh, uint32_t tag)
{
    uint32_t *t = array_push(&nh->tags, &nh->n_tags, sizeof *nh->tags);
    *t = tag;
}

void
xmpp_route_set_vn(struct xmpp_route *r, const char *vn)
{
    xfree_str(r->virtual_network);
    r->virtual_network = xstr(vn);
}

void
xmpp_route_set_sub_protocol(struct xmpp_route *r, const char *sp)
{
    xfree_str(r->sub_protocol);
    r->sub_protocol = xstr(sp);
}

void
xmpp_route_add_sg(struct xmpp_route *r, uint32_t sg)
{
    uint32_t *t = array_push(&r->sgs, &r->n_sgs, sizeof *r->sgs);
    *t = sg;
}

void
xmpp_route_add_community(struct xmpp_route *r, const char *c)
{
    char **t = array_push(&r->communities, &r->n_communities, sizeof *r->communities);
    *t = xstr(c);
}

/* ---------------------------------------------------------------------------------------- */
/* Decoder */

const char *
xmpp_event_name(enum xmpp_event_type t)
{
    static const char *names[] = {
        "none", "route-subscribe", "route-unsubscribe", "config-subscribe",
        "config-unsubscribe", "route-add", "route-delete", "eor", "route-update", "config",
        "stream-error",
    };
    return (unsigned) t < sizeof names / sizeof names[0] ? names[t] : "?";
}

void
xmpp_event_clear(struct xmpp_event *ev)
{
    xfree_str(ev->from);
    xfree_str(ev->to);
    xfree_str(ev->id);
    xfree_str(ev->node);
    xfree_str(ev->text);
    xfree_str(ev->vrf);
    for (size_t i = 0; i < ev->n_routes; i++) {
        xmpp_route_clear(&ev->routes[i]);
    }
    mem_free(&mem_xmpp_proto, ev->routes);
    mem_free(&mem_xmpp_proto, ev->deleted);
    xfree_str(ev->config);
    memset(ev, 0, sizeof *ev);
}

void
xmpp_decoder_init(struct xmpp_decoder *dec)
{
    memset(dec, 0, sizeof *dec);
}

static void
decoder_drop_pending(struct xmpp_decoder *dec)
{
    xmpp_route_clear(&dec->pending);
    xfree_str(dec->pending_node);
    dec->pending_node = NULL;
    dec->pending_has_item = false;
}

void
xmpp_decoder_destroy(struct xmpp_decoder *dec)
{
    decoder_drop_pending(dec);
}

static int
dec_fail(struct xmpp_decoder *dec, const char *condition, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
dec_fail(struct xmpp_decoder *dec, const char *condition, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dec->error, sizeof dec->error, fmt, ap);
    va_end(ap);
    dec->condition = condition;
    return EBADMSG;
}

#define BAD_FORMAT "bad-format"

static bool
name_is(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && !strcmp((const char *) n->name, name);
}

static xmlNode *
first_element(xmlNode *n)
{
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            return c;
        }
    }
    return NULL;
}

static xmlNode *
next_element(xmlNode *n)
{
    for (xmlNode *c = n->next; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            return c;
        }
    }
    return NULL;
}

static xmlNode *
child(xmlNode *n, const char *name)
{
    for (xmlNode *c = first_element(n); c; c = next_element(c)) {
        if (name_is(c, name)) {
            return c;
        }
    }
    return NULL;
}

#define FOR_EACH_CHILD(C, PARENT, NAME) \
    for (xmlNode *C = child(PARENT, NAME); C; C = next_named(C, NAME))

static xmlNode *
next_named(xmlNode *n, const char *name)
{
    for (xmlNode *c = next_element(n); c; c = next_element(c)) {
        if (name_is(c, name)) {
            return c;
        }
    }
    return NULL;
}

/* N's text content, white space trimmed, as a new string ("" for an empty element). */
static char *
node_text(xmlNode *n)
{
    xmlChar *t = xmlNodeGetContent(n);
    const char *s = t ? (const char *) t : "";
    while (is_space((unsigned char) *s)) {
        s++;
    }
    size_t len = strlen(s);
    while (len && is_space((unsigned char) s[len - 1])) {
        len--;
    }
    char *out = mem_strndup(&mem_xmpp_proto, s, len);
    xmlFree(t);
    return out;
}

/* The text of child NAME of N, or NULL when there is no such child. */
static char *
child_text(xmlNode *n, const char *name)
{
    xmlNode *c = child(n, name);
    return c ? node_text(c) : NULL;
}

static char *
prop(xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *) name);
    if (!v) {
        return NULL;
    }
    char *out = xstr((const char *) v);
    xmlFree(v);
    return out;
}

/* Reads child NAME of N as a number no greater than MAX into *OUT (left alone when absent).
 * Returns 0 or EBADMSG. */
static int
child_u32(struct xmpp_decoder *dec, xmlNode *n, const char *name, uint32_t max, uint32_t *out)
{
    char *t = child_text(n, name);
    if (!t) {
        return 0;
    }
    bool ok = parse_u32(t, max, out);
    int err = ok ? 0 : dec_fail(dec, BAD_FORMAT, "<%s>: bad number \"%.40s\"", name, t);
    xfree_str(t);
    return err;
}

static int
parse_nexthop(struct xmpp_decoder *dec, xmlNode *x, struct xmpp_nexthop *nh)
{
    char *addr = child_text(x, "address");
    if (!addr || xmpp_nexthop_set_address(nh, addr)) {
        int e = dec_fail(dec, BAD_FORMAT, "next-hop: %s address \"%.60s\"",
                         addr ? "bad" : "missing", addr ? addr : "");
        xfree_str(addr);
        return e;
    }
    xfree_str(addr);
    char *mac = child_text(x, "mac");
    if (mac && *mac) {
        if (!xmpp_parse_mac(mac, nh->mac)) {
            int e = dec_fail(dec, BAD_FORMAT, "next-hop: bad mac \"%.40s\"", mac);
            xfree_str(mac);
            return e;
        }
        nh->has_mac = true;
    }
    xfree_str(mac);
    char *label = child_text(x, "label");
    if (label) {
        char *dash = strchr(label, '-');
        bool ok;
        if (dash) {
            *dash = '\0';
            ok = parse_u32(label, UINT32_MAX, &nh->label)
                 && parse_u32(dash + 1, UINT32_MAX, &nh->label_last)
                 && nh->label <= nh->label_last;
            nh->label_range = true;
            *dash = '-';
        } else {
            ok = parse_u32(label, UINT32_MAX, &nh->label);
            nh->label_last = nh->label;
        }
        if (!ok) {
            int e = dec_fail(dec, BAD_FORMAT, "next-hop: bad label \"%.40s\"", label);
            xfree_str(label);
            return e;
        }
        xfree_str(label);
    }
    if (child_u32(dec, x, "l3-label", UINT32_MAX, &nh->l3_label)
        || child_u32(dec, x, "local-sequence-number", UINT32_MAX, &nh->local_seq)) {
        return EBADMSG;
    }
    xmlNode *encaps = child(x, "tunnel-encapsulation-list");
    FOR_EACH_CHILD(e, encaps, "tunnel-encapsulation") {
        char *t = node_text(e);
        unsigned bit = xmpp_encap_from_name(t);
        if (bit) {
            nh->encap |= bit;
        } else {
            nh->n_unknown_encap++;
        }
        xfree_str(t);
    }
    nh->virtual_network = child_text(x, "virtual-network");
    xmlNode *tags = child(x, "tag-list");
    FOR_EACH_CHILD(t, tags, "tag") {
        char *s = node_text(t);
        uint32_t v;
        bool ok = parse_u32(s, UINT32_MAX, &v);
        if (!ok) {
            int e = dec_fail(dec, BAD_FORMAT, "next-hop: bad tag \"%.40s\"", s);
            xfree_str(s);
            return e;
        }
        xfree_str(s);
        xmpp_nexthop_add_tag(nh, v);
    }
    return 0;
}

/* Reads the key from ENTRY's <nlri> into R when it carries one.  Returns 0 (with *FOUND) or
 * EBADMSG. */
static int
parse_nlri(struct xmpp_decoder *dec, xmlNode *entry, enum xmpp_family family,
           struct xmpp_route *r, bool *found)
{
    *found = false;
    xmlNode *nlri = child(entry, "nlri");
    if (!nlri) {
        return 0;
    }
    uint32_t af = 0, safi = 0;
    if (child_u32(dec, nlri, "af", 0xffff, &af) || child_u32(dec, nlri, "safi", 0xff, &safi)) {
        return EBADMSG;
    }
    unsigned want_afi, want_safi;
    xmpp_family_afi_safi(family, &want_afi, &want_safi);
    if ((af && af != want_afi) || (safi && safi != want_safi)) {
        return dec_fail(dec, BAD_FORMAT, "nlri af/safi %u/%u in a %s item", af, safi,
                        xmpp_family_name(family));
    }
    char key[XMPP_KEY_MAX * 2];
    switch (family) {
    case XMPP_FAM_INET:
    case XMPP_FAM_INET6: {
        char *a = child_text(nlri, "address");
        if (!a) {
            return 0;
        }
        snprintf(key, sizeof key, "%s", a);
        xfree_str(a);
        break;
    }
    case XMPP_FAM_ENET: {
        char *mac = child_text(nlri, "mac");
        if (!mac) {
            return 0;
        }
        char *a = child_text(nlri, "address");
        uint32_t etag = 0;
        if (child_u32(dec, nlri, "ethernet-tag", UINT32_MAX, &etag)) {
            xfree_str(mac);
            xfree_str(a);
            return EBADMSG;
        }
        char et[16] = "";
        if (etag) {
            snprintf(et, sizeof et, "%u-", etag);
        }
        snprintf(key, sizeof key, "%s%s%s%s", et, mac, a && *a ? "," : "", a ? a : "");
        xfree_str(mac);
        xfree_str(a);
        break;
    }
    case XMPP_FAM_MCAST: {
        char *g = child_text(nlri, "group");
        char *s = child_text(nlri, "source");
        if (!g) {
            xfree_str(s);
            return 0;
        }
        snprintf(key, sizeof key, "%s,%s", g, s && *s ? s : "0.0.0.0");
        xfree_str(g);
        xfree_str(s);
        break;
    }
    default:
        return 0;
    }
    if (xmpp_route_set_key(r, family, key)) {
        return dec_fail(dec, BAD_FORMAT, "bad %s nlri \"%.80s\"", xmpp_family_name(family), key);
    }
    if (family == XMPP_FAM_MCAST) {
        char *sl = child_text(nlri, "source-label");
        if (sl && !parse_u32(sl, 0xfffff, &r->source_label)) {
            xfree_str(sl);
            return dec_fail(dec, BAD_FORMAT, "bad source-label");
        }
        xfree_str(sl);
    }
    *found = true;
    return 0;
}

/* Reads the attributes of ENTRY into R (whose key is set). */
static int
parse_entry(struct xmpp_decoder *dec, xmlNode *entry, struct xmpp_route *r)
{
    xmlNode *nhs = child(entry, "next-hops");
    FOR_EACH_CHILD(x, nhs, "next-hop") {
        if (parse_nexthop(dec, x, xmpp_route_add_nexthop(r))) {
            return EBADMSG;
        }
    }
    /* The multicast schema has a single <next-hop> directly in some versions. */
    xmlNode *single = child(entry, "next-hop");
    if (single && parse_nexthop(dec, single, xmpp_route_add_nexthop(r))) {
        return EBADMSG;
    }
    xmlNode *olist = child(entry, "olist");
    FOR_EACH_CHILD(x, olist, "next-hop") {
        if (parse_nexthop(dec, x, xmpp_route_add_olist(r))) {
            return EBADMSG;
        }
    }
    r->virtual_network = child_text(entry, "virtual-network");
    r->sub_protocol = child_text(entry, "sub-protocol");
    xmlNode *sgl = child(entry, "security-group-list");
    FOR_EACH_CHILD(sg, sgl, "security-group") {
        char *s = node_text(sg);
        uint32_t v;
        bool ok = parse_u32(s, UINT32_MAX, &v);
        if (!ok) {
            int e = dec_fail(dec, BAD_FORMAT, "bad security-group \"%.40s\"", s);
            xfree_str(s);
            return e;
        }
        xfree_str(s);
        xmpp_route_add_sg(r, v);
    }
    xmlNode *cl = child(entry, "community-tag-list");
    FOR_EACH_CHILD(c, cl, "community-tag") {
        char *s = node_text(c);
        xmpp_route_add_community(r, s);
        xfree_str(s);
    }
    if (child_u32(dec, entry, "sequence-number", UINT32_MAX, &r->seq)
        || child_u32(dec, entry, "local-preference", UINT32_MAX, &r->local_pref)
        || child_u32(dec, entry, "med", UINT32_MAX, &r->med)
        || child_u32(dec, entry, "version", UINT32_MAX, &r->version)) {
        return EBADMSG;
    }
    xmlNode *mob = child(entry, "mobility");
    if (mob) {
        r->has_mobility = true;
        char *seqno = prop(mob, "seqno");
        char *sticky = prop(mob, "sticky");
        bool ok = !seqno || parse_u32(seqno, UINT32_MAX, &r->mobility_seq);
        r->sticky = sticky && (!strcmp(sticky, "true") || !strcmp(sticky, "1"));
        xfree_str(seqno);
        xfree_str(sticky);
        if (!ok) {
            return dec_fail(dec, BAD_FORMAT, "bad mobility seqno");
        }
    }
    return 0;
}

/* Splits "AFI/SAFI/REST" into the family and REST (pointer into NODE).  Returns 0 or
 * EBADMSG. */
static int
split_node(struct xmpp_decoder *dec, const char *node, enum xmpp_family *family,
           const char **rest)
{
    char head[32];
    const char *s1 = strchr(node, '/');
    const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    if (!s2 || (size_t) (s2 - node) >= sizeof head) {
        return dec_fail(dec, BAD_FORMAT, "bad node \"%.80s\"", node);
    }
    memcpy(head, node, (size_t) (s2 - node));
    head[s2 - node] = '\0';
    head[s1 - node] = '\0';
    uint32_t afi, safi;
    if (!parse_u32(head, 0xffff, &afi) || !parse_u32(head + (s1 - node) + 1, 0xff, &safi)) {
        return dec_fail(dec, BAD_FORMAT, "bad afi/safi in node \"%.80s\"", node);
    }
    int f = xmpp_family_from_afi_safi(afi, safi);
    if (f < 0) {
        return dec_fail(dec, "feature-not-implemented", "unknown afi/safi %u/%u in node \"%.80s\"",
                        afi, safi, node);
    }
    *family = (enum xmpp_family) f;
    *rest = s2 + 1;
    return 0;
}

static bool
resource_is(const char *jid, const char *res)
{
    const char *slash = jid ? strchr(jid, '/') : NULL;
    return slash && !strcmp(slash + 1, res);
}

static bool
is_config_node(const char *node)
{
    return !strncmp(node, "virtual-router:", 15) || !strncmp(node, "virtual-machine:", 16);
}

static struct xmpp_route *
event_add_route(struct xmpp_event *ev, bool deleted)
{
    size_t n = ev->n_routes;
    struct xmpp_route *r = array_push(&ev->routes, &ev->n_routes, sizeof *ev->routes);
    bool *d = array_push(&ev->deleted, &n, sizeof *ev->deleted);
    *d = deleted;
    return r;
}

/* The collection that completes a pending publish. */
static int
decode_collection(struct xmpp_decoder *dec, xmlNode *coll, struct xmpp_event *ev)
{
    char *vrf = prop(coll, "node");
    xmlNode *assoc = child(coll, "associate");
    xmlNode *dissoc = child(coll, "dissociate");
    xmlNode *op = assoc ? assoc : dissoc;
    char *opnode = op ? prop(op, "node") : NULL;
    int err = 0;
    if (!vrf || !*vrf) {
        err = dec_fail(dec, BAD_FORMAT, "collection without node");
    } else if (!op || (assoc && dissoc) || !opnode) {
        err = dec_fail(dec, BAD_FORMAT, "collection %.80s: needs one associate or dissociate "
                       "with a node", vrf);
    } else if (!dec->pending_node) {
        err = dec_fail(dec, BAD_FORMAT, "collection %.80s without a publish before it", vrf);
    } else if (strcmp(opnode, dec->pending_node)) {
        err = dec_fail(dec, BAD_FORMAT, "%s node \"%.80s\" does not match the publish node "
                       "\"%.80s\"", assoc ? "associate" : "dissociate", opnode,
                       dec->pending_node);
    } else {
        enum xmpp_family family;
        const char *rest;
        err = split_node(dec, dec->pending_node, &family, &rest);
        size_t vlen = strlen(vrf);
        if (!err && (strncmp(rest, vrf, vlen) || rest[vlen] != '/')) {
            err = dec_fail(dec, BAD_FORMAT, "publish node \"%.80s\" is not in collection "
                           "\"%.80s\"", dec->pending_node, vrf);
        }
        if (!err) {
            struct xmpp_route *r = &dec->pending;
            if (!dec->pending_has_item || !r->key[0]) {
                /* No nlri in the item: the key is the rest of the node. */
                if (xmpp_route_set_key(r, family, rest + vlen + 1)) {
                    err = dec_fail(dec, BAD_FORMAT, "bad %s key in node \"%.80s\"",
                                   xmpp_family_name(family), dec->pending_node);
                }
            }
            if (!err && assoc && r->family != family) {
                err = dec_fail(dec, BAD_FORMAT, "item family does not match node");
            }
            if (!err && assoc) {
                if (!dec->pending_has_item) {
                    err = dec_fail(dec, BAD_FORMAT, "associate of \"%.80s\" without an item",
                                   dec->pending_node);
                } else if (!r->n_nh) {
                    err = dec_fail(dec, BAD_FORMAT, "route %.80s without next-hop", r->key);
                }
            }
            if (!err) {
                ev->type = assoc ? XMPP_EV_ROUTE_ADD : XMPP_EV_ROUTE_DELETE;
                ev->family = family;
                struct xmpp_route *out = event_add_route(ev, !assoc);
                *out = *r;
                memset(r, 0, sizeof *r);
                out->family = family;
                xmpp_route_set_vrf(out, vrf);
                ev->node = xstr(dec->pending_node);
                ev->vrf = xstr(vrf);
            }
        }
    }
    decoder_drop_pending(dec);
    xfree_str(vrf);
    xfree_str(opnode);
    return err;
}

static int
decode_publish(struct xmpp_decoder *dec, xmlNode *pub, struct xmpp_event *ev)
{
    char *node = prop(pub, "node");
    if (!node || !*node) {
        xfree_str(node);
        return dec_fail(dec, BAD_FORMAT, "publish without node");
    }
    xmlNode *item = child(pub, "item");
    if (!item) {
        /* A publish without item is the agent's End-of-RIB. */
        ev->type = XMPP_EV_EOR;
        ev->node = node;
        return 0;
    }
    if (!strcmp(node, XMPP_EOR_NODE)) {
        ev->type = XMPP_EV_EOR;
        ev->node = node;
        return 0;
    }
    enum xmpp_family family;
    const char *rest;
    if (split_node(dec, node, &family, &rest)) {
        xfree_str(node);
        return EBADMSG;
    }
    dec->pending_node = node;
    dec->pending_has_item = true;
    struct xmpp_route *r = &dec->pending;
    r->family = family;
    xmlNode *entry = child(item, "entry");
    if (entry) {
        bool found;
        if (parse_nlri(dec, entry, family, r, &found) || parse_entry(dec, entry, r)) {
            decoder_drop_pending(dec);
            return EBADMSG;
        }
    }
    ev->type = XMPP_EV_NONE;
    return 0;
}

static int
decode_iq(struct xmpp_decoder *dec, xmlNode *iq, struct xmpp_event *ev)
{
    xmlNode *pubsub = child(iq, "pubsub");
    if (!pubsub) {
        xmlNode *config = child(iq, "config");
        if (config) {
            xmlBuffer *b = xmlBufferCreate();
            xmlNodeDump(b, iq->doc, config, 0, 0);
            ev->type = XMPP_EV_CONFIG;
            ev->config = xstr((const char *) xmlBufferContent(b));
            xmlBufferFree(b);
            return 0;
        }
        char *type = prop(iq, "type");
        bool answer = type && (!strcmp(type, "result") || !strcmp(type, "error"));
        xfree_str(type);
        if (answer) {
            ev->type = XMPP_EV_NONE;
            return 0;
        }
        return dec_fail(dec, "feature-not-implemented", "iq without pubsub or config");
    }
    xmlNode *req = first_element(pubsub);
    if (!req) {
        return dec_fail(dec, BAD_FORMAT, "empty pubsub");
    }
    const char *what = (const char *) req->name;
    if (!strcmp(what, "collection")) {
        return decode_collection(dec, req, ev);
    }
    if (dec->pending_node) {
        int e = dec_fail(dec, BAD_FORMAT, "publish of \"%.80s\" not followed by its collection",
                         dec->pending_node);
        decoder_drop_pending(dec);
        return e;
    }
    if (!strcmp(what, "publish")) {
        return decode_publish(dec, req, ev);
    }
    bool sub = !strcmp(what, "subscribe");
    if (!sub && strcmp(what, "unsubscribe")) {
        return dec_fail(dec, "feature-not-implemented", "unsupported pubsub request <%.40s>",
                        what);
    }
    char *node = prop(req, "node");
    if (!node || !*node) {
        xfree_str(node);
        return dec_fail(dec, BAD_FORMAT, "%s without node", what);
    }
    ev->node = node;
    bool config = resource_is(ev->to, XMPP_RES_CONFIG)
                  || (!resource_is(ev->to, XMPP_RES_BGP) && is_config_node(node));
    if (config) {
        ev->type = sub ? XMPP_EV_CONFIG_SUBSCRIBE : XMPP_EV_CONFIG_UNSUBSCRIBE;
        return 0;
    }
    if (!sub) {
        ev->type = XMPP_EV_ROUTE_UNSUBSCRIBE;
        return 0;
    }
    ev->type = XMPP_EV_ROUTE_SUBSCRIBE;
    xmlNode *options = child(req, "options");
    if (!options || !child(options, "instance-id")) {
        return dec_fail(dec, BAD_FORMAT, "subscribe %.80s without instance-id", node);
    }
    if (child_u32(dec, options, "instance-id", UINT32_MAX, &ev->instance_id)) {
        return EBADMSG;
    }
    char *nr = child_text(options, "no-ribout");
    ev->no_ribout = nr && (!strcmp(nr, "true") || !strcmp(nr, "1"));
    xfree_str(nr);
    return 0;
}

static int
decode_message(struct xmpp_decoder *dec, xmlNode *msg, struct xmpp_event *ev)
{
    xmlNode *event = child(msg, "event");
    if (!event) {
        return dec_fail(dec, "feature-not-implemented", "message without event");
    }
    xmlNode *items = child(event, "items");
    if (!items) {
        ev->type = XMPP_EV_EOR;
        return 0;
    }
    char *node = prop(items, "node");
    if (!node) {
        return dec_fail(dec, BAD_FORMAT, "items without node");
    }
    ev->node = node;
    if (!strcmp(node, XMPP_EOR_NODE)) {
        ev->type = XMPP_EV_EOR;
        return 0;
    }
    enum xmpp_family family;
    const char *vrf;
    if (split_node(dec, node, &family, &vrf)) {
        return EBADMSG;
    }
    if (!*vrf || strchr(vrf, '/')) {
        return dec_fail(dec, BAD_FORMAT, "bad items node \"%.80s\"", node);
    }
    ev->type = XMPP_EV_ROUTE_UPDATE;
    ev->family = family;
    ev->vrf = xstr(vrf);
    for (xmlNode *c = first_element(items); c; c = next_element(c)) {
        bool retract = name_is(c, "retract");
        if (!retract && !name_is(c, "item")) {
            return dec_fail(dec, BAD_FORMAT, "unexpected <%.40s> in items", c->name);
        }
        char *id = prop(c, "id");
        struct xmpp_route *r = event_add_route(ev, retract);
        xmpp_route_set_vrf(r, vrf);
        r->family = family;
        int err = 0;
        if (!id) {
            err = dec_fail(dec, BAD_FORMAT, "%s without id", retract ? "retract" : "item");
        } else if (xmpp_route_set_key(r, family, id)) {
            /* The nlri may still carry a key the agent's parser accepts. */
            xmlNode *entry = retract ? NULL : child(c, "entry");
            bool found = false;
            if (!entry || parse_nlri(dec, entry, family, r, &found) || !found) {
                err = dec_fail(dec, BAD_FORMAT, "bad %s id \"%.80s\"",
                               xmpp_family_name(family), id);
            }
        }
        xfree_str(id);
        if (err) {
            return err;
        }
        if (!retract) {
            xmlNode *entry = child(c, "entry");
            bool found;
            if (!entry) {
                return dec_fail(dec, BAD_FORMAT, "item %.80s without entry", r->key);
            }
            if (parse_nlri(dec, entry, family, r, &found) || parse_entry(dec, entry, r)) {
                return EBADMSG;
            }
        }
    }
    return 0;
}

static int
decode_stream_error(struct xmpp_decoder *dec, xmlNode *err, struct xmpp_event *ev)
{
    ev->type = XMPP_EV_STREAM_ERROR;
    for (xmlNode *c = first_element(err); c; c = next_element(c)) {
        if (name_is(c, "text")) {
            if (!ev->text) {
                ev->text = node_text(c);
            }
        } else if (!ev->node) {
            ev->node = xstr((const char *) c->name);
        }
    }
    if (!ev->node) {
        ev->node = xstr("undefined-condition");
    }
    return 0;
}

static const char wrap_head[] = "<stream:stream xmlns='" XMPP_NS_CLIENT "' xmlns:stream='"
                                XMPP_NS_STREAM "'>";
static const char wrap_tail[] = "</stream:stream>";

int
xmpp_decode_stanza(struct xmpp_decoder *dec, const char *data, size_t len,
                   struct xmpp_event *ev)
{
    memset(ev, 0, sizeof *ev);
    dec->error[0] = '\0';
    dec->condition = NULL;
    if (len > INT32_MAX - 256) {
        return dec_fail(dec, "policy-violation", "stanza too large");
    }
    size_t n = sizeof wrap_head - 1 + len + sizeof wrap_tail - 1;
    char *buf = mem_zalloc(&mem_xmpp_proto, n + 1);
    memcpy(buf, wrap_head, sizeof wrap_head - 1);
    memcpy(buf + sizeof wrap_head - 1, data, len);
    memcpy(buf + sizeof wrap_head - 1 + len, wrap_tail, sizeof wrap_tail - 1);
    xmlDoc *doc = xmlReadMemory(buf, (int) n, NULL, "UTF-8",
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING
                                | XML_PARSE_NOCDATA);
    mem_free(&mem_xmpp_proto, buf);
    if (!doc) {
        decoder_drop_pending(dec);
        return dec_fail(dec, "not-well-formed", "stanza is not well-formed XML");
    }
    xmlNode *root = xmlDocGetRootElement(doc);
    xmlNode *st = first_element(root);
    int err;
    if (!st || next_element(st)) {
        err = dec_fail(dec, "not-well-formed", "not one stanza");
    } else {
        ev->from = prop(st, "from");
        ev->to = prop(st, "to");
        ev->id = prop(st, "id");
        bool stream_ns = st->ns && st->ns->href
                         && !strcmp((const char *) st->ns->href, XMPP_NS_STREAM);
        if (stream_ns && name_is(st, "error")) {
            err = decode_stream_error(dec, st, ev);
        } else if (dec->pending_node && !name_is(st, "iq")) {
            err = dec_fail(dec, BAD_FORMAT, "publish of \"%.80s\" not followed by its "
                           "collection", dec->pending_node);
            decoder_drop_pending(dec);
        } else if (name_is(st, "iq") && !stream_ns) {
            err = decode_iq(dec, st, ev);
        } else if (name_is(st, "message") && !stream_ns) {
            err = decode_message(dec, st, ev);
        } else {
            err = dec_fail(dec, "unsupported-stanza-type", "unsupported stanza <%.40s>",
                           st->name);
        }
    }
    xmlFreeDoc(doc);
    return err;
}

/* ---------------------------------------------------------------------------------------- */
/* Encoders */

void
xmpp_escape(struct evbuffer *out, const char *s)
{
    if (!s) {
        return;
    }
    const char *run = s;
    for (const char *p = s; *p; p++) {
        const char *rep = NULL;
        unsigned char c = (unsigned char) *p;
        switch (c) {
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '&': rep = "&amp;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
                rep = "";
            }
        }
        if (rep) {
            evbuffer_add(out, run, (size_t) (p - run));
            evbuffer_add(out, rep, strlen(rep));
            run = p + 1;
        }
    }
    evbuffer_add(out, run, strlen(run));
}

static void
put(struct evbuffer *out, const char *s)
{
    evbuffer_add(out, s, strlen(s));
}

static void
tag_text(struct evbuffer *out, const char *name, const char *text)
{
    evbuffer_add_printf(out, "<%s>", name);
    xmpp_escape(out, text);
    evbuffer_add_printf(out, "</%s>", name);
}

static void
tag_u32(struct evbuffer *out, const char *name, uint32_t v)
{
    evbuffer_add_printf(out, "<%s>%u</%s>", name, v, name);
}

void
xmpp_encode_open(struct evbuffer *out, const char *from, const char *to, const char *xmlns,
                 const char *id)
{
    put(out, "<?xml version='1.0'?><stream:stream from='");
    xmpp_escape(out, from);
    put(out, "' to='");
    xmpp_escape(out, to);
    if (id) {
        put(out, "' id='");
        xmpp_escape(out, id);
    }
    put(out, "' version='1.0' xml:lang='en' xmlns='");
    xmpp_escape(out, xmlns && *xmlns ? xmlns : XMPP_NS_CLIENT);
    put(out, "' xmlns:stream='" XMPP_NS_STREAM "'>");
}

void
xmpp_encode_close(struct evbuffer *out)
{
    put(out, "</stream:stream>");
}

void
xmpp_encode_stream_error(struct evbuffer *out, const char *condition, const char *text)
{
    put(out, "<stream:error><");
    xmpp_escape(out, condition);
    put(out, " xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>");
    if (text && *text) {
        put(out, "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>");
        xmpp_escape(out, text);
        put(out, "</text>");
    }
    put(out, "</stream:error>");
}

void
xmpp_encode_keepalive(struct evbuffer *out)
{
    put(out, XMPP_KEEPALIVE);
}

static void
iq_head(struct evbuffer *out, const char *from, const char *to, const char *id_prefix,
        unsigned seq)
{
    put(out, "<iq type='set' from='");
    xmpp_escape(out, from);
    put(out, "' to='");
    xmpp_escape(out, to);
    evbuffer_add_printf(out, "' id='%s%u'>", id_prefix, seq);
}

void
xmpp_encode_route_subscribe(struct evbuffer *out, const char *from, const char *vrf,
                            uint32_t instance_id, bool no_ribout, bool subscribe, unsigned seq)
{
    iq_head(out, from, XMPP_CONTROL_JID "/" XMPP_RES_BGP,
            subscribe ? "subscribe" : "unsubscribe", seq);
    put(out, "<pubsub xmlns='" XMPP_NS_PUBSUB "'>");
    put(out, subscribe ? "<subscribe node='" : "<unsubscribe node='");
    xmpp_escape(out, vrf);
    if (subscribe) {
        evbuffer_add_printf(out, "'><options><instance-id>%u</instance-id>", instance_id);
        if (no_ribout) {
            put(out, "<no-ribout>true</no-ribout>");
        }
        put(out, "</options></subscribe>");
    } else {
        put(out, "'/>");
    }
    put(out, "</pubsub></iq>");
}

void
xmpp_encode_config_subscribe(struct evbuffer *out, const char *from, const char *node,
                             bool subscribe, unsigned seq)
{
    iq_head(out, from, XMPP_CONTROL_JID "/" XMPP_RES_CONFIG,
            subscribe ? "subscribe" : "unsubscribe", seq);
    put(out, "<pubsub xmlns='" XMPP_NS_PUBSUB "'>");
    put(out, subscribe ? "<subscribe node='" : "<unsubscribe node='");
    xmpp_escape(out, node);
    put(out, "'/></pubsub></iq>");
}

static void
encode_nexthop(struct evbuffer *out, enum xmpp_family family, const struct xmpp_nexthop *nh)
{
    put(out, "<next-hop>");
    tag_u32(out, "af", nh->family == 6 ? 2 : 1);
    tag_text(out, "address", nh->address);
    if (nh->has_mac) {
        const uint8_t *m = nh->mac;
        evbuffer_add_printf(out, "<mac>%02x:%02x:%02x:%02x:%02x:%02x</mac>",
                            m[0], m[1], m[2], m[3], m[4], m[5]);
    }
    if (nh->label_range) {
        evbuffer_add_printf(out, "<label>%u-%u</label>", nh->label, nh->label_last);
    } else {
        tag_u32(out, "label", nh->label);
    }
    if (nh->l3_label) {
        tag_u32(out, "l3-label", nh->l3_label);
    }
    if (nh->encap) {
        put(out, "<tunnel-encapsulation-list>");
        for (size_t i = 0; i < sizeof encap_names / sizeof encap_names[0]; i++) {
            if (nh->encap & (1u << i)) {
                tag_text(out, "tunnel-encapsulation", encap_names[i]);
            }
        }
        put(out, "</tunnel-encapsulation-list>");
    }
    if (nh->virtual_network) {
        tag_text(out, "virtual-network", nh->virtual_network);
    }
    if (nh->n_tags) {
        put(out, "<tag-list>");
        for (size_t i = 0; i < nh->n_tags; i++) {
            tag_u32(out, "tag", nh->tags[i]);
        }
        put(out, "</tag-list>");
    }
    if (nh->local_seq) {
        tag_u32(out, "local-sequence-number", nh->local_seq);
    }
    put(out, "</next-hop>");
    (void) family;
}

static void
encode_entry(struct evbuffer *out, const struct xmpp_route *r)
{
    unsigned afi, safi;
    xmpp_family_afi_safi(r->family, &afi, &safi);
    evbuffer_add_printf(out, "<entry><nlri><af>%u</af><safi>%u</safi>", afi, safi);
    char a[IPADDR_STRLEN];
    switch (r->family) {
    case XMPP_FAM_INET:
    case XMPP_FAM_INET6:
        tag_text(out, "address", r->key);
        break;
    case XMPP_FAM_ENET: {
        const uint8_t *m = r->mac;
        tag_u32(out, "ethernet-tag", r->etag);
        evbuffer_add_printf(out, "<mac>%02x:%02x:%02x:%02x:%02x:%02x</mac>",
                            m[0], m[1], m[2], m[3], m[4], m[5]);
        if (r->ip_family) {
            ip_bytes_format(r->ip_family, r->addr, a);
            evbuffer_add_printf(out, "<address>%s/%u</address>", a, r->plen);
        }
        break;
    }
    case XMPP_FAM_MCAST: {
        char g[INET_ADDRSTRLEN], s[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, r->group, g, sizeof g);
        inet_ntop(AF_INET, r->source, s, sizeof s);
        evbuffer_add_printf(out, "<group>%s</group><source>%s</source>", g, s);
        if (r->source_label) {
            tag_u32(out, "source-label", r->source_label);
        }
        break;
    }
    default:
        break;
    }
    put(out, "</nlri><next-hops>");
    for (size_t i = 0; i < r->n_nh; i++) {
        encode_nexthop(out, r->family, &r->nh[i]);
    }
    put(out, "</next-hops>");
    tag_u32(out, "version", r->version ? r->version : 1);
    if (r->virtual_network) {
        tag_text(out, "virtual-network", r->virtual_network);
    }
    if (r->n_sgs) {
        put(out, "<security-group-list>");
        for (size_t i = 0; i < r->n_sgs; i++) {
            tag_u32(out, "security-group", r->sgs[i]);
        }
        put(out, "</security-group-list>");
    }
    if (r->n_communities) {
        put(out, "<community-tag-list>");
        for (size_t i = 0; i < r->n_communities; i++) {
            tag_text(out, "community-tag", r->communities[i]);
        }
        put(out, "</community-tag-list>");
    }
    tag_u32(out, "sequence-number", r->seq);
    if (r->has_mobility) {
        evbuffer_add_printf(out, "<mobility seqno='%u' sticky='%s'/>", r->mobility_seq,
                            r->sticky ? "true" : "false");
    }
    if (r->local_pref) {
        tag_u32(out, "local-preference", r->local_pref);
    }
    if (r->med) {
        tag_u32(out, "med", r->med);
    }
    if (r->sub_protocol) {
        tag_text(out, "sub-protocol", r->sub_protocol);
    }
    if (r->n_olist) {
        put(out, "<olist>");
        for (size_t i = 0; i < r->n_olist; i++) {
            encode_nexthop(out, r->family, &r->olist[i]);
        }
        put(out, "</olist>");
    }
    put(out, "</entry>");
}

static void
publish_node(struct evbuffer *out, const struct xmpp_route *r)
{
    unsigned afi, safi;
    xmpp_family_afi_safi(r->family, &afi, &safi);
    evbuffer_add_printf(out, "%u/%u/", afi, safi);
    xmpp_escape(out, r->vrf);
    put(out, "/");
    xmpp_escape(out, r->key);
}

void
xmpp_encode_publish(struct evbuffer *out, const char *from, const struct xmpp_route *r,
                    bool add, unsigned seq)
{
    const char *to = XMPP_CONTROL_JID "/" XMPP_RES_BGP;
    iq_head(out, from, to, "pubsub", seq);
    put(out, "<pubsub xmlns='" XMPP_NS_PUBSUB "'><publish node='");
    publish_node(out, r);
    put(out, "'><item>");
    encode_entry(out, r);
    put(out, "</item></publish></pubsub></iq>");
    iq_head(out, from, to, "collection", seq);
    put(out, "<pubsub xmlns='" XMPP_NS_PUBSUB "'><collection node='");
    xmpp_escape(out, r->vrf);
    put(out, add ? "'><associate node='" : "'><dissociate node='");
    publish_node(out, r);
    put(out, "'/></collection></pubsub></iq>");
}

void
xmpp_encode_publish_eor(struct evbuffer *out, const char *from, unsigned seq)
{
    iq_head(out, from, XMPP_CONTROL_JID "/" XMPP_RES_BGP, "pubsub", seq);
    put(out, "<pubsub xmlns='" XMPP_NS_PUBSUB "'><publish node='" XMPP_EOR_NODE
        "'/></pubsub></iq>");
}

static void
message_head(struct evbuffer *out, const char *from, const char *to)
{
    put(out, "<message from='");
    xmpp_escape(out, from);
    put(out, "' to='");
    xmpp_escape(out, to);
    put(out, "'><event xmlns='" XMPP_NS_PUBSUB "'>");
}

void
xmpp_encode_eor(struct evbuffer *out, const char *from, const char *to)
{
    message_head(out, from, to);
    put(out, "<items node='" XMPP_EOR_NODE "'></items></event></message>");
}

void
xmpp_encode_item(struct evbuffer *out, const struct xmpp_route *r)
{
    put(out, "<item id='");
    xmpp_escape(out, r->key);
    put(out, "'>");
    encode_entry(out, r);
    put(out, "</item>");
}

static void
items_head(struct evbuffer *out, const char *to, enum xmpp_family family, const char *vrf)
{
    unsigned afi, safi;
    xmpp_family_afi_safi(family, &afi, &safi);
    put(out, "<message from='" XMPP_CONTROL_JID "' to='");
    xmpp_escape(out, to);
    put(out, "/" XMPP_RES_BGP "'><event xmlns='" XMPP_NS_PUBSUB "'>");
    evbuffer_add_printf(out, "<items node='%u/%u/", afi, safi);
    xmpp_escape(out, vrf);
    put(out, "'>");
}

void
xmpp_encode_items_head(struct evbuffer *out, const char *to, enum xmpp_family family,
                       const char *vrf)
{
    items_head(out, to, family, vrf);
}

void
xmpp_encode_items_tail(struct evbuffer *out)
{
    put(out, "</items></event></message>");
}

void
xmpp_encode_retract(struct evbuffer *out, const char *key)
{
    put(out, "<retract id='");
    xmpp_escape(out, key);
    put(out, "'/>");
}

size_t
xmpp_encode_routes(struct evbuffer *out, const char *to, enum xmpp_family family,
                   const char *vrf, const struct xmpp_route *const *reach, size_t n_reach,
                   const struct xmpp_route *const *unreach, size_t n_unreach)
{
    size_t msgs = 0;
    for (size_t i = 0; i < n_reach; i += XMPP_MAX_REACH) {
        items_head(out, to, family, vrf);
        for (size_t k = i; k < n_reach && k < i + XMPP_MAX_REACH; k++) {
            xmpp_encode_item(out, reach[k]);
        }
        put(out, "</items></event></message>");
        msgs++;
    }
    for (size_t i = 0; i < n_unreach; i += XMPP_MAX_UNREACH) {
        items_head(out, to, family, vrf);
        for (size_t k = i; k < n_unreach && k < i + XMPP_MAX_UNREACH; k++) {
            put(out, "<retract id='");
            xmpp_escape(out, unreach[k]->key);
            put(out, "'/>");
        }
        put(out, "</items></event></message>");
        msgs++;
    }
    return msgs;
}

void
xmpp_encode_config(struct evbuffer *out, const char *to, const char *update_xml,
                   const char *delete_xml)
{
    put(out, "<iq type='set' from='" XMPP_CONTROL_JID "' to='");
    xmpp_escape(out, to);
    put(out, "/" XMPP_RES_CONFIG "'><config>");
    if (update_xml) {
        put(out, "<update>");
        put(out, update_xml);
        put(out, "</update>");
    }
    if (delete_xml) {
        put(out, "<delete>");
        put(out, delete_xml);
        put(out, "</delete>");
    }
    put(out, "</config></iq>");
}

void
xmpp_encode_config_element(struct evbuffer *out, const char *to, const char *config_xml)
{
    put(out, "<iq type='set' from='" XMPP_CONTROL_JID "' to='");
    xmpp_escape(out, to);
    put(out, "/" XMPP_RES_CONFIG "'>");
    put(out, config_xml);
    put(out, "</iq>");
}
