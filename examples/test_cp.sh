#!/bin/bash
# cp must produce byte-identical copies (random data, sizes that hit a full
# window, a partial last chunk, an empty file) and fail cleanly on errors.
set -euo pipefail
cp_exe=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

for size in $((3 * 1024 * 1024)) $((3 * 1024 * 1024 + 12345)) 1 0; do
	head -c "$size" /dev/urandom >"$dir/src"
	out=$("$cp_exe" "$dir/src" "$dir/dst")
	echo "$out"
	cmp "$dir/src" "$dir/dst"
	echo "ok: $size bytes identical"
	# 48 chunks and a window of 8: reads must really overlap.
	if [ "$size" -ge $((3 * 1024 * 1024)) ]; then
		peak=$(sed -n 's/.* \([0-9]*\) ops in flight.*/\1/p' <<<"$out")
		[ "${peak:-0}" -ge 4 ] ||
			{ echo "FAIL: only ${peak:-?} ops in flight"; exit 1; }
	fi
done

# An existing, longer DST is truncated, not overwritten in place.
head -c 100000 /dev/urandom >"$dir/src"
head -c 500000 /dev/urandom >"$dir/dst"
"$cp_exe" "$dir/src" "$dir/dst"
cmp "$dir/src" "$dir/dst"
echo "ok: longer DST truncated"

# Errors: a missing SRC, SRC == DST (must not truncate SRC), bad usage.
if "$cp_exe" "$dir/missing" "$dir/x" 2>/dev/null; then
	echo "FAIL: missing SRC succeeded"; exit 1
fi
cp "$dir/src" "$dir/keep"
if "$cp_exe" "$dir/src" "$dir/src" 2>/dev/null; then
	echo "FAIL: SRC == DST succeeded"; exit 1
fi
cmp "$dir/src" "$dir/keep"
if "$cp_exe" 2>/dev/null; then
	echo "FAIL: no arguments succeeded"; exit 1
fi
echo "ok: errors reported"
