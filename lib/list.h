/* list: intrusive doubly linked list (the Open vSwitch shape), header-only. */
#ifndef CONTRAIL_LIST_H
#define CONTRAIL_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "hmap.h"

struct list {
    struct list *prev, *next;
};

#define LIST_INITIALIZER(L) { L, L }

static inline void list_init(struct list *l) { l->prev = l->next = l; }
static inline bool list_is_empty(const struct list *l) { return l->next == l; }

/* Inserts ELEM just before BEFORE (at the tail when BEFORE is the list head). */
static inline void
list_insert(struct list *before, struct list *elem)
{
    elem->prev = before->prev;
    elem->next = before;
    before->prev->next = elem;
    before->prev = elem;
}

static inline void list_push_back(struct list *l, struct list *e) { list_insert(l, e); }

static inline void
list_remove(struct list *elem)
{
    elem->prev->next = elem->next;
    elem->next->prev = elem->prev;
    elem->prev = elem->next = elem;
}

/* Removes and returns the first element; the list must not be empty. */
static inline struct list *
list_pop_front(struct list *l)
{
    struct list *e = l->next;
    list_remove(e);
    return e;
}

/* Moves every element of FROM to the tail of TO, in order; FROM becomes empty. */
static inline void
list_splice_back(struct list *to, struct list *from)
{
    if (list_is_empty(from)) {
        return;
    }
    from->next->prev = to->prev;
    from->prev->next = to;
    to->prev->next = from->next;
    to->prev = from->prev;
    list_init(from);
}

/* Iterates; the current element may be removed.  ITER must be a plain identifier. */
#define LIST_FOR_EACH_SAFE(ITER, MEMBER, LIST)                                              \
    for (struct list *ln_##ITER = (LIST)->next, *lnx_##ITER;                                \
         ln_##ITER != (LIST)                                                                \
         && (lnx_##ITER = ln_##ITER->next,                                                  \
             (ITER) = CONTAINER_OF(ln_##ITER, __typeof__(*(ITER)), MEMBER), 1);             \
         ln_##ITER = lnx_##ITER)
#define LIST_FOR_EACH(ITER, MEMBER, LIST) LIST_FOR_EACH_SAFE(ITER, MEMBER, LIST)

#endif
