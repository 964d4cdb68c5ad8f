#!/usr/bin/env python3
"""Consistency checker for schema/vnc_cfg.json (format: schema/README.md).

Usage: tools/schema_check.py [path/to/vnc_cfg.json]
Prints a one-line summary; exits 1 (after listing every problem) if anything is wrong.
Standard library only.
"""
import json
import os
import sys

PRIMITIVES = {"string", "integer", "boolean", "number", "dateTime",
              "unsignedLong", "unsignedInt", "anyType"}
SIMPLE_BASES = {"string", "integer", "boolean", "number"}
REQUIRED = {"required", "optional", "system-only", "exclusive", "admin-only"}
OPS = {"CRUD", "CRD", "CR", "R"}
COLLECTIONS = {None, "list", "map"}
EXPECTED_IDENTIFIERS = 59


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    path = argv[1] if len(argv) > 1 else os.path.join(here, "..", "schema", "vnc_cfg.json")
    errs = []

    def err(msg):
        errs.append(msg)

    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        print("schema_check: cannot load %s: %s" % (path, e))
        return 1

    for key in ("version", "simple_types", "complex_types", "common_properties", "identifiers"):
        if key not in doc:
            err("top level: missing %r" % key)
    if errs:
        for e in errs:
            print("ERROR:", e)
        return 1

    simple = doc["simple_types"]
    cplx = doc["complex_types"]
    idents = doc["identifiers"]

    for name in set(simple) & set(cplx):
        err("type %s is both simple and complex" % name)
    for name in (set(simple) | set(cplx)) & PRIMITIVES:
        err("type %s shadows a primitive" % name)

    def type_ok(t, where):
        if not isinstance(t, str) or not (t in PRIMITIVES or t in simple or t in cplx):
            err("%s: undefined type %r" % (where, t))
            return False
        return True

    # simple types
    for name, st in simple.items():
        where = "simple_types.%s" % name
        if st.get("base") not in SIMPLE_BASES:
            err("%s: bad base %r" % (where, st.get("base")))
        if "enum" in st:
            en = st["enum"]
            if not isinstance(en, list) or not en:
                err("%s: empty enum" % where)
            elif len(set(map(str, en))) != len(en):
                err("%s: duplicate enum values" % where)
            if "default" in st and isinstance(en, list) and st["default"] not in en:
                err("%s: default %r not in enum" % (where, st["default"]))
        for b in ("min", "max"):
            if b in st and (not isinstance(st[b], int) or isinstance(st[b], bool)):
                err("%s: %s is not an integer" % (where, b))
        if isinstance(st.get("min"), int) and isinstance(st.get("max"), int) and st["min"] > st["max"]:
            err("%s: min > max" % where)
        if ("min" in st or "max" in st) and st.get("base") != "integer":
            err("%s: range on non-integer base" % where)

    # complex types
    for name, ct in cplx.items():
        where = "complex_types.%s" % name
        fields = ct.get("fields")
        if not isinstance(fields, list):
            err("%s: fields is not a list" % where)
            continue
        seen = set()
        for fd in fields:
            fn = fd.get("name")
            fw = "%s.%s" % (where, fn)
            if not fn or fn in seen:
                err("%s: missing or duplicate field name" % fw)
            seen.add(fn)
            if "-" in (fn or ""):
                err("%s: JSON name contains '-'" % fw)
            type_ok(fd.get("type"), fw)
            for flag in ("list", "required"):
                if flag in fd and not isinstance(fd[flag], bool):
                    err("%s: %s must be boolean" % (fw, flag))

    def check_prop(p, where):
        pw = "%s.%s" % (where, p.get("name"))
        if not p.get("name") or "-" in p["name"]:
            err("%s: bad property name" % pw)
        if not type_ok(p.get("type"), pw):
            return
        coll = p.get("collection", "MISSING")
        if coll not in COLLECTIONS:
            err("%s: bad collection %r" % (pw, coll))
        if p.get("required") not in REQUIRED:
            err("%s: bad required %r" % (pw, p.get("required")))
        if p.get("ops") not in OPS:
            err("%s: bad ops %r" % (pw, p.get("ops")))
        if coll in ("list", "map"):
            wrapper = cplx.get(p["type"])
            lf = p.get("list_field")
            if wrapper is None:
                err("%s: %s property of non-complex type" % (pw, coll))
                return
            fields = {f["name"]: f for f in wrapper["fields"]}
            if lf not in fields or not fields[lf].get("list"):
                err("%s: list_field %r is not a list field of %s" % (pw, lf, p["type"]))
                return
            if coll == "map":
                elem = cplx.get(fields[lf]["type"])
                key = p.get("key")
                if elem is None or key not in {f["name"] for f in elem["fields"]}:
                    err("%s: map key %r not a field of %s" % (pw, key, fields[lf]["type"]))

    nprops = 0
    for p in doc["common_properties"]:
        check_prop(p, "common_properties")
        nprops += 1
    common_names = {p.get("name") for p in doc["common_properties"]}
    for need in ("id_perms", "perms2", "annotations", "display_name"):
        if need not in common_names:
            err("common_properties: missing %s" % need)

    if len(idents) != EXPECTED_IDENTIFIERS:
        err("identifiers: expected %d, found %d" % (EXPECTED_IDENTIFIERS, len(idents)))
    if "config-root" not in idents:
        err("identifiers: config-root missing")

    nrefs = 0
    for name, ident in idents.items():
        where = "identifiers.%s" % name
        seen = set(common_names)
        for p in ident.get("properties", []):
            if p.get("name") in seen:
                err("%s: duplicate property %s" % (where, p.get("name")))
            seen.add(p.get("name"))
            check_prop(p, where)
            nprops += 1
        for par in ident.get("parents", []):
            if par.get("type") not in idents:
                err("%s: parent %r is not an identifier" % (where, par.get("type")))
            if not isinstance(par.get("derived"), bool) or not par.get("link"):
                err("%s: parent entry malformed: %r" % (where, par))
        for r in ident.get("refs", []):
            rw = "%s.ref(%s)" % (where, r.get("link"))
            nrefs += 1
            if r.get("type") not in idents:
                err("%s: target %r is not an identifier" % (rw, r.get("type")))
            if r.get("attr") is not None:
                type_ok(r["attr"], rw)
            if r.get("required") not in REQUIRED:
                err("%s: bad required %r" % (rw, r.get("required")))
            if r.get("ops") not in OPS:
                err("%s: bad ops %r" % (rw, r.get("ops")))
            if not isinstance(r.get("derived"), bool):
                err("%s: derived must be boolean" % rw)
    if "config-root" in idents and idents["config-root"].get("parents"):
        err("config-root must have no parents")

    for e in errs:
        print("ERROR:", e)
    print("schema_check: %s: %d identifiers, %d properties (%d common), %d refs, "
          "%d complex types, %d simple types%s"
          % (os.path.relpath(path), len(idents), nprops, len(doc["common_properties"]), nrefs,
             len(cplx), len(simple), " -- %d problem(s)" % len(errs) if errs else " -- OK"))
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
