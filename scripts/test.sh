#!/usr/bin/env bash
# Sets up (installs packages, builds) and runs every test weft has, then prints one line
# "N passed, M failed". Run as root: the e2e suite creates network namespaces.
#
#   scripts/test.sh                 everything: format check, unit + fuzz corpora + e2e on a
#                                   -Werror build, unit + fuzz again under ASan+UBSan
#   scripts/test.sh --quick         skip the sanitizer build
#   scripts/test.sh --suite e2e     only one meson suite (unit, fuzz, e2e), on the normal build
set -uo pipefail
cd "$(dirname "$0")/.."

quick=0
only=""
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--suite) only="$2"; shift ;;
	-h|--help) sed -n '2,9p' "$0"; exit 0 ;;
	*) echo "test.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
count_log() { # meson's testlog.json: one JSON object per test
	local log=$1 p f
	p=$(grep -cE '"result": "(OK|EXPECTEDFAIL|SKIP)"' "$log" || true)
	f=$(grep -cE '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" || true)
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -gt 0 ]; then
		echo "--- failed in $log:"
		grep -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" |
			sed -E 's/.*"name": "([^"]*)".*/  \1/'
	fi
}

# run_suites BUILD_DIR MESON_OPTIONS SUITES...
run_suites() {
	local dir=$1 opts=$2
	shift 2
	if [ ! -d "$dir" ]; then
		# shellcheck disable=SC2086
		meson setup "$dir" $opts >"$dir.setup.log" 2>&1 ||
			{ cat "$dir.setup.log"; failed=$((failed + 1)); return; }
	fi
	if ! ninja -C "$dir" >"$dir.build.log" 2>&1; then
		grep -E 'error|warning' "$dir.build.log" | head -40
		echo "build of $dir failed"
		failed=$((failed + 1))
		return
	fi
	local args=()
	for s in "$@"; do args+=(--suite "$s"); done
	rm -f "$dir/meson-logs/testlog.json"
	meson test -C "$dir" --print-errorlogs --num-processes 2 "${args[@]}"
	[ -f "$dir/meson-logs/testlog.json" ] && count_log "$dir/meson-logs/testlog.json"
}

if [ -n "$only" ]; then
	run_suites build-test "-Dwerror=true" "$only"
else
	# Formatting is part of the contract (STYLE.md): one test, named files on failure.
	mapfile -t sources < <(git ls-files '*.c' '*.h' | grep -vE '^(bench|fuzz)/.*corpus')
	if clang-format --dry-run -Werror "${sources[@]}" >/tmp/weft-format.$$ 2>&1; then
		passed=$((passed + 1))
	else
		echo "--- format check failed:"
		grep -E '^[^ ].*: (error|warning)' /tmp/weft-format.$$ | cut -d: -f1 | sort -u | head -20
		failed=$((failed + 1))
	fi
	rm -f /tmp/weft-format.$$

	run_suites build-test "-Dwerror=true" unit fuzz e2e
	if [ "$quick" -eq 0 ]; then
		run_suites build-asan "-Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false" \
			unit fuzz
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
