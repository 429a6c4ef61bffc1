# What the command-line test scripts share (sourced, not run): a temporary directory removed on
# exit, the pass/fail counters, and the two basic expectations. Each script ends with
# `finish NAME`, which prints "NAME: N passed, N failed" and exits non-zero on a failure.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

# expect_out NAME PATTERN CMD...: exit 0 and stdout matching the extended regex PATTERN.
expect_out() {
  local name=$1 pattern=$2; shift 2
  local out
  if ! out=$("$@" 2>"$tmp/err"); then bad "$name: exit $? ($(cat "$tmp/err"))"; return; fi
  if grep -Eq -- "$pattern" <<<"$out"; then ok; else bad "$name: no /$pattern/ in output"; fi
}

# expect_error NAME PATTERN CMD...: non-zero exit, one line on stderr matching PATTERN.
expect_error() {
  local name=$1 pattern=$2; shift 2
  if "$@" >"$tmp/out" 2>"$tmp/err"; then bad "$name: exited 0"; return; fi
  local lines
  lines=$(wc -l <"$tmp/err")
  if [ "$lines" -ne 1 ]; then bad "$name: $lines lines on stderr: $(cat "$tmp/err")"; return; fi
  if grep -Eq -- "$pattern" "$tmp/err"; then ok; else bad "$name: stderr '$(cat "$tmp/err")'"; fi
}

finish() {
  echo "$1: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
