#!/bin/sh
# ustrace-report end to end on a canned log (written by the cmocka test
# binary): exit codes, the three files, byte-stable output, the summary on
# stdout, strict JSON whose flows bind inside slices (checked with python3
# where present, independently of the C checks), and a clear error for a
# truncated log. Usage: test_ustrace_report.sh TEST_BINARY USTRACE_REPORT
set -eu
gen=$1
report=$2
dir=$(mktemp -d /tmp/ustr-XXXXXX)
trap 'rm -rf "$dir"' EXIT

"$gen" --write-log demo "$dir/run.ust"
"$report" "$dir/run.ust" --output "$dir/a" --quiet >"$dir/quiet.out"
"$report" "$dir/run.ust" -o "$dir/b" >"$dir/summary.out" 2>/dev/null
for f in trace.json timeline.html summary.txt; do
	cmp "$dir/a/$f" "$dir/b/$f"
done
cmp "$dir/summary.out" "$dir/a/summary.txt"
grep -q "^wrote $dir/a/trace.json" "$dir/quiet.out"

if command -v python3 >/dev/null 2>&1; then
	python3 - "$dir/a/trace.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))          # strict: raises on bad JSON
ev = d["traceEvents"]
x = [(e["tid"], e["ts"], e["ts"] + e["dur"]) for e in ev if e["ph"] == "X"]
s = {e["id"]: e for e in ev if e["ph"] == "s"}
f = {e["id"]: e for e in ev if e["ph"] == "f"}
assert len(s) == sum(e["ph"] == "s" for e in ev), "duplicate flow start id"
assert s.keys() == f.keys(), "flow start without end or end without start"
assert len(s) > 10, "too few flows for the demo log"
for e in list(s.values()) + list(f.values()):
    assert any(t == e["tid"] and b < e["ts"] < en for t, b, en in x), e
for i in f:
    assert f[i].get("bp") == "e" and f[i]["name"] == s[i]["name"], i
    assert s[i]["ts"] <= f[i]["ts"], i
print("trace.json: %d events, %d flows bind" % (len(ev), len(s)))
PY
fi

head -c 1000 "$dir/run.ust" >"$dir/trunc.ust"
if "$report" "$dir/trunc.ust" -o "$dir/c" 2>"$dir/err"; then
	echo "a truncated log was accepted" >&2
	exit 1
fi
grep -q "truncated" "$dir/err"
test ! -e "$dir/c"
if "$report" 2>/dev/null; then
	echo "no arguments was accepted" >&2
	exit 1
fi
echo ok
