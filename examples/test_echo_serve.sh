#!/bin/bash
# echo --serve: serves a real client on 127.0.0.1, then exits 0 on SIGINT.
set -euo pipefail
echo_exe=$1
out=$(mktemp)
trap 'rm -f "$out"; [ -n "${pid:-}" ] && kill -9 "$pid" 2>/dev/null || true' EXIT

"$echo_exe" --serve 0 >"$out" &
pid=$!
for _ in $(seq 100); do
	grep -q listening "$out" && break
	sleep 0.05
done
port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out")
[ -n "$port" ] || { echo "FAIL: no port announced"; cat "$out"; exit 1; }

# bash's /dev/tcp: no netcat needed.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'hello urt\n' >&3
read -r -t 5 line <&3
exec 3>&-
[ "$line" = "hello urt" ] || { echo "FAIL: echoed '$line'"; exit 1; }
echo "ok: echoed '$line' on port $port"

kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
pid=
cat "$out"
[ "$rc" -eq 0 ] || { echo "FAIL: exit status $rc after SIGINT"; exit 1; }
grep -q '1 connections served' "$out" || { echo "FAIL: summary"; exit 1; }
echo "ok: clean exit on SIGINT"
