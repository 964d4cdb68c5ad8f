/* vr_msg: encoding and decoding of vRouter control messages (vr_proto.h).
 *
 * Each object of the model is described once, as a table of fields (attribute type, name,
 * kind, place in the C struct); one generic encoder and one decoder walk those tables, so the
 * daemon, the tools and the tests share the same code and a new field is one table line.
 * Shared by the vRouter daemon and the tools in compute/utils. */
#ifndef CONTRAIL_VR_MSG_H
#define CONTRAIL_VR_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vr_proto.h"

enum vr_field_kind {
    VR_FK_U8, VR_FK_U16, VR_FK_U32, VR_FK_U64, VR_FK_IP, VR_FK_MAC, VR_FK_STRING,
    VR_FK_BYTES, VR_FK_U32LIST, VR_FK_U64LIST,
};

#define VR_FF_KEY 0x1           /* Part of the object's key (GET, DEL, dump markers). */
#define VR_FF_RO 0x2            /* Read-only: reported by the vRouter, ignored on ADD. */

struct vr_field {
    uint16_t id;                /* Attribute type. */
    const char *name;
    uint8_t kind;               /* enum vr_field_kind */
    uint8_t flags;              /* VR_FF_* */
    uint16_t offset;            /* Of the value in the object struct. */
    uint16_t size;              /* Bytes (STRING, BYTES) or elements (lists) available. */
    uint16_t count_offset;      /* BYTES, lists: offset of the uint32_t length/count. */
};

struct vr_obj_desc {
    uint16_t obj;               /* enum vr_obj */
    const char *name;
    size_t size;                /* sizeof the request struct */
    const struct vr_field *fields;
    size_t n_fields;
};

/* The description of object OBJ, or NULL for an unknown object type. */
const struct vr_obj_desc *vr_obj_desc(uint16_t obj);
const char *vr_op_name(uint8_t op);

/* A field of D by attribute type, or NULL. */
const struct vr_field *vr_obj_field(const struct vr_obj_desc *d, uint16_t id);

/* ---- Building messages ---- */

struct vr_msgbuf {
    uint8_t *data;
    size_t len, cap;
    bool overflow;              /* Something did not fit: the message is unusable. */
};

/* Starts a message in STORAGE (CAP bytes, at least VR_MSG_HDR_LEN). */
void vr_msg_begin(struct vr_msgbuf *, uint8_t *storage, size_t cap, uint8_t op, uint16_t obj,
                  uint16_t flags, uint32_t seq);
void vr_msg_put(struct vr_msgbuf *, uint16_t type, const void *value, size_t len);
void vr_msg_put_u32(struct vr_msgbuf *, uint16_t type, uint32_t value);
void vr_msg_put_string(struct vr_msgbuf *, uint16_t type, const char *s);
/* Opens a nested attribute TYPE; returns its position for vr_msg_nest_end(). */
size_t vr_msg_nest_begin(struct vr_msgbuf *, uint16_t type);
void vr_msg_nest_end(struct vr_msgbuf *, size_t pos);
/* Puts object OBJ (struct at S) as nested attribute TYPE: all fields, or only the key fields
 * when KEYS_ONLY; WITH_RO includes the read-only fields.  Unset IPs are left out. */
void vr_msg_put_object(struct vr_msgbuf *, uint16_t type, uint16_t obj, const void *s,
                       bool keys_only, bool with_ro);
/* Puts the fields of S at the top level (a request body). */
void vr_msg_put_fields(struct vr_msgbuf *, uint16_t obj, const void *s, uint64_t which);
/* Position of the message's end, to roll back a partly written object. */
static inline size_t vr_msg_mark(const struct vr_msgbuf *b) { return b->len; }
static inline void vr_msg_rollback(struct vr_msgbuf *b, size_t mark)
{
    b->len = mark;
    b->overflow = false;
}
/* Writes the length into the header.  Returns 0, or EMSGSIZE if something did not fit. */
int vr_msg_finish(struct vr_msgbuf *);

/* ---- Reading messages ---- */

struct vr_msg_hdr {
    uint16_t magic;
    uint8_t version, op;
    uint16_t obj, flags;
    uint32_t seq, len;
};

/* Reads the header at BUF (N bytes available).  Returns 0; EAGAIN when fewer than
 * VR_MSG_HDR_LEN bytes are there; EBADMSG when the magic or the length is impossible (the
 * stream cannot be resynchronised).  The version is checked by the caller. */
int vr_msg_parse_hdr(const uint8_t *buf, size_t n, struct vr_msg_hdr *);

struct vr_attr_iter {
    const uint8_t *p, *end;
    int error;                  /* EBADMSG after a truncated attribute. */
};

static inline void
vr_attr_iter_init(struct vr_attr_iter *it, const uint8_t *p, size_t len)
{
    it->p = p;
    it->end = p + len;
    it->error = 0;
}

/* The next attribute: true with its TYPE, VALUE and LEN; false at the end or on a truncated
 * attribute (it->error set). */
bool vr_attr_next(struct vr_attr_iter *, uint16_t *type, const uint8_t **value, uint16_t *len);

/* Decodes the attributes (ATTRS, LEN bytes) of object OBJ into the struct at S (zeroed
 * first).  *PRESENT gets bit i set for each field i of the table that was present.
 * Returns 0, or EINVAL with a message naming the attribute in ERR. */
int vr_msg_decode_object(uint16_t obj, const uint8_t *attrs, size_t len, void *s,
                         uint64_t *present, char *err, size_t errlen);

/* Bit of the field with attribute type ID in a PRESENT mask of OBJ (0 if unknown). */
uint64_t vr_field_bit(uint16_t obj, uint16_t id);

/* ---- Helpers ---- */

/* Formats an address ("-" when unset) into BUF (at least 46 bytes); returns BUF. */
char *vr_ip_format(const struct vr_ip *, char *buf, size_t len);
/* Parses an IPv4 or IPv6 address.  Returns false if S is not one. */
bool vr_ip_parse(const char *s, struct vr_ip *);
/* Parses "aa:bb:cc:dd:ee:ff" (also single-digit groups).  Returns false on error. */
bool vr_mac_parse(const char *s, uint8_t mac[6]);
/* Formats MAC as the original tools do ("0:0:5e:0:1:0") into BUF (18 bytes). */
char *vr_mac_format(const uint8_t mac[6], char *buf);
/* The drop reason's counter name ("discard") and display text ("Discards"). */
const char *vr_drop_name(unsigned int reason);
const char *vr_drop_text(unsigned int reason);

#endif
