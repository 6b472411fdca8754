#!/usr/bin/env python3
"""Prints an API answer (JSON in FILE) in the text git prints for the same question, so that
the end-to-end tests can compare the two with diff.

Usage: api-lines.py MODE FILE
  refs     for-each-ref --format='%(refname) %(objectname) %(*objectname)' (trailing space cut)
  oids     one commit id per line (log --format=%H)
  next     the cursor of the next page, or nothing
  commit   log -1 --format='%H%n%T%n%P%n%an%n%ae%n%aI%n%cn%n%ce%n%cI'
  message  the commit's message, exactly
  tree     ls-tree -l
  files    diff --raw --no-abbrev
"""
import json
import sys

mode, path = sys.argv[1], sys.argv[2]
j = json.load(open(path, encoding="utf-8"))
out = sys.stdout


def raw_line(f):
    return ":%s %s %s %s %s\t%s" % (
        f["old_mode"], f["new_mode"], f["old_oid"], f["new_oid"], f["status"], f["path"])


if mode == "refs":
    for r in j["refs"]:
        print(("%s %s %s" % (r["name"], r["oid"], r.get("peeled", ""))).rstrip())
elif mode == "oids":
    for c in j["commits"]:
        print(c["oid"])
elif mode == "next":
    if j.get("next"):
        print(j["next"])
elif mode == "commit":
    a, c = j["author"], j["committer"]
    for line in (j["oid"], j["tree"], " ".join(j["parents"]), a["name"], a["email"], a["date"],
                 c["name"], c["email"], c["date"]):
        print(line)
elif mode == "message":
    out.write(j["message"])
elif mode == "tree":
    for e in j["entries"]:
        size = str(e["size"]) if "size" in e else "-"
        print("%s %s %s %7s\t%s" % (e["mode"], e["type"], e["oid"], size, e["name"]))
elif mode == "files":
    for f in j["files"]:
        print(raw_line(f))
else:
    sys.exit("unknown mode " + mode)
