/* bgp_mcast: the control node's multicast (ERM-VPN) distribution trees for its agents (the
 * original's McastTreeManager / McastSGEntry / McastForwarder, local level; reference §3.9).
 *
 * Every agent that wants the traffic of a group G from source S in a routing instance
 * publishes a multicast route (XMPP 1/241) with its address, a block of MPLS labels it has
 * reserved ("A-B") and its tunnel encapsulations: a forwarder.  For each (instance, G, S)
 * this module arranges the forwarders in a tree over which the computes replicate packets
 * hop by hop (edge replication, no underlay multicast):
 *   - the forwarders are sorted by address (then agent name) and laid out breadth first as a
 *     tree of degree BGP_MCAST_DEGREE: forwarder i's parent is (i - 1) / 4, its children
 *     4i + 1 .. 4i + 4.  The same set of forwarders always gives the same tree, whatever
 *     the order in which they joined, as in the original;
 *   - each forwarder gets ONE label of its own block for this tree.  Blocks are the agent's:
 *     every tree of an agent that advertises the same range [first, last] allocates from the
 *     same block, so one agent's trees get distinct labels.  A forwarder keeps its label as
 *     long as it stays with the same block (the original released and reallocated every
 *     label on each rebuild; keeping them spares the agents churn).  When the block is
 *     exhausted the forwarder gets no label and is left out of the tree; it joins when a
 *     label of its block frees up;
 *   - each forwarder's olist is its parent and its children: their address, the label THEY
 *     were given for this tree and their encapsulations.  So A lists B iff B lists A.
 * Only the local tree is built: the global tree among control nodes (Local/GlobalTreeRoute
 * over BGP) is not.
 *
 * Changes are coalesced: mutators only mark the (G,S) entries dirty; bgp_mcast_flush (called
 * by the integrator at the end of a loop turn, or by the event this module schedules on the
 * event_base given to bgp_mcast_create) rebuilds each dirty tree once, O(N log N) in its
 * forwarders, and reports through ops->update every forwarder whose own label or olist
 * changed, and a final "gone" for each removed forwarder that had been reported.
 *
 * Addresses, groups and sources are IPv4 in network byte order (4 bytes, as struct
 * xmpp_route's group/source and struct xmpp_nexthop's addr).  Encapsulations are an opaque
 * bitmask that is handed back unchanged (the integrator passes XMPP_ENCAP_* bits).
 * Single-threaded: call from the event loop's thread only. */
#ifndef CONTRAIL_BGP_MCAST_H
#define CONTRAIL_BGP_MCAST_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BGP_MCAST_DEGREE 4                          /* The original's kDegree. */
#define BGP_MCAST_MAX_OLIST (BGP_MCAST_DEGREE + 1)  /* A parent and the children. */
#define BGP_MCAST_LABEL_MAX 0xFFFFF                 /* MPLS labels are 20 bits. */

/* One neighbour in a forwarder's olist. */
struct bgp_mcast_olist_entry {
    uint8_t addr[4];            /* The neighbour's address, network order. */
    uint32_t label;             /* The label the neighbour was given for this tree. */
    unsigned encap;             /* The neighbour's encapsulations. */
};

/* What changed for one forwarder, for ops->update.  Every pointer is valid during the call
 * only. */
struct bgp_mcast_update {
    const char *instance;
    uint8_t group[4], source[4];        /* Network order. */
    const char *agent;                  /* The forwarder id. */
    /* The forwarder was removed (bgp_mcast_remove, bgp_mcast_remove_agent): this is the last
     * call for it.  label is 0 and the olist empty. */
    bool gone;
    uint32_t label;                     /* Its label in this tree; 0: none (block exhausted). */
    const struct bgp_mcast_olist_entry *olist;  /* Parent first, then children by address. */
    size_t n_olist;
};

/* Whether the agent should hold a route for U: an item with U->label and U->olist.  When
 * false (the forwarder is gone, has no label, or is alone in its tree) the agent should get a
 * retract instead (the original advertises nothing without a label or an olist). */
static inline bool
bgp_mcast_update_advertise(const struct bgp_mcast_update *u)
{
    return !u->gone && u->label && u->n_olist;
}

struct bgp_mcast_ops {
    /* Called from bgp_mcast_flush for each forwarder whose label or olist changed since the
     * last call for it (the first call after it joined, too), and once with gone = true after
     * it was removed (only if it had been reported).  A flush makes all its "gone" calls
     * before the others, so a label freed by a removal is retracted before it is reused.  A
     * forwarder added and removed between two flushes is never reported.  Must not call
     * bgp_mcast_* functions. */
    void (*update)(void *aux, const struct bgp_mcast_update *);
    /* Optional: writes the names of encapsulation MASK into BUF for introspect (e.g.
     * xmpp_encap_format); without it the mask is shown as a number. */
    char *(*encap_format)(unsigned mask, char *buf, size_t size);
    void *aux;
};

struct bgp_mcast;

/* Creates a manager.  With BASE, a change schedules bgp_mcast_flush as an event on BASE (run
 * in the same loop turn, after the callbacks already active); with BASE NULL the caller must
 * call bgp_mcast_flush itself.  OPS is copied. */
struct bgp_mcast *bgp_mcast_create(struct event_base *base, const struct bgp_mcast_ops *ops);

/* Frees everything, without calling ops->update.  NULL is accepted. */
void bgp_mcast_destroy(struct bgp_mcast *);

/* Adds or updates the forwarder AGENT of (INSTANCE, GROUP, SOURCE): its address ADDR, label
 * block [LABEL_FIRST, LABEL_LAST] and encapsulations ENCAP.  Republishing the same values
 * changes nothing.  A new block releases the forwarder's label and allocates one from the new
 * block at the next flush.  Returns 0, or EINVAL if the block is empty, starts at 0 or ends
 * above BGP_MCAST_LABEL_MAX. */
int bgp_mcast_add(struct bgp_mcast *, const char *instance, const uint8_t group[4],
                  const uint8_t source[4], const char *agent, const uint8_t addr[4],
                  uint32_t label_first, uint32_t label_last, unsigned encap);

/* Removes the forwarder AGENT of (INSTANCE, GROUP, SOURCE); its label returns to its block
 * now.  Returns 0 or ENOENT. */
int bgp_mcast_remove(struct bgp_mcast *, const char *instance, const uint8_t group[4],
                     const uint8_t source[4], const char *agent);

/* Removes every forwarder of AGENT (session down) or, with INSTANCE not NULL, every one of
 * AGENT in INSTANCE (unsubscribe).  Returns how many were removed. */
size_t bgp_mcast_remove_agent(struct bgp_mcast *, const char *agent, const char *instance);

/* Rebuilds the trees changed since the last flush and reports the changes through
 * ops->update.  Cheap when nothing changed. */
void bgp_mcast_flush(struct bgp_mcast *);

/* Whether changes wait for bgp_mcast_flush. */
bool bgp_mcast_pending(const struct bgp_mcast *);

/* The forwarder AGENT of (INSTANCE, GROUP, SOURCE) as of the last flush: its label (0: none)
 * and olist (OLIST must hold BGP_MCAST_MAX_OLIST entries; *N_OLIST is set).  For resending
 * the state to an agent.  Returns 0 or ENOENT. */
int bgp_mcast_get(const struct bgp_mcast *, const char *instance, const uint8_t group[4],
                  const uint8_t source[4], const char *agent, uint32_t *label,
                  struct bgp_mcast_olist_entry *olist, size_t *n_olist);

/* The state for introspect (/Snh_ShowMulticastManagerReq), trees as of the last flush:
 *   {"instances": [{"name", "entries": [{"group", "source", "forwarders": [{"agent",
 *     "address", "label", "label_block": "A-B", "encap", "olist": [{"address", "label",
 *     "encap"}]}]}]}], "agents", "forwarders", "rebuilds", "updates", "gone"}
 * Instances by name, entries by (group, source), forwarders in tree order then those without
 * a label; one removed since the flush still shows in its tree with "removed": true.  With
 * INSTANCE not NULL only that instance is shown.  Returns a new reference. */
json_t *bgp_mcast_to_json(const struct bgp_mcast *, const char *instance);

#endif
