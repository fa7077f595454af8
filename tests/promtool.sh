#!/usr/bin/env bash
# promtool.sh - checks Prometheus exposition text with `promtool check metrics` (Debian's prometheus
# package; tests/install-test-deps.sh installs it): the parser Prometheus itself uses, plus its lint
# rules (HELP on every family, counters end in _total, units in base names, ...).
#
#   bash tests/promtool.sh FILE...       each file is one scraped /metrics page
#   curl -s localhost:8080/metrics | bash tests/promtool.sh -
#
# A file passes when promtool exits 0 with nothing to say; its findings are printed otherwise.
# Without promtool every file fails, saying so: a check that cannot run is not a pass.
# The last line is always "promtool: N passed, N failed"; the exit status is non-zero on any failure.
set -u

passed=0
failed=0

if [ $# -eq 0 ]; then
	echo "usage: $0 FILE... (- for stdin)" >&2
	echo "promtool: 0 passed, 1 failed"
	exit 2
fi

if ! command -v promtool >/dev/null 2>&1; then
	echo "promtool missing: install Debian's prometheus package (apt-get install -y prometheus;" \
		"tests/install-test-deps.sh does it)"
	echo "promtool: 0 passed, $# failed"
	exit 1
fi

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

for f in "$@"; do
	name=$f
	[ "$f" = - ] && { cat >"$tmp"; f=$tmp; name=stdin; }
	if [ ! -s "$f" ]; then
		echo "$name: FAIL (missing or empty)"
		failed=$((failed + 1))
		continue
	fi
	out=$(promtool check metrics <"$f" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [ -z "$out" ]; then
		echo "$name: ok ($(grep -c -v '^#' "$f") samples)"
		passed=$((passed + 1))
	else
		echo "$name: FAIL (promtool exit $rc)"
		printf '%s\n' "$out" | head -n 20 | sed 's/^/    /'
		failed=$((failed + 1))
	fi
done

echo "promtool: $passed passed, $failed failed"
[ $failed -eq 0 ]
