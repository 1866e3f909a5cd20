# tests/lib.sh — counters and helpers shared by the test scripts.
# Every check calls pass or fail; summary prints "N passed, N failed" and
# sets the exit status. A skip says why and is counted, never silent.
passed=0 failed=0 skipped=0
: "${QKVM:=qkvm}" "${BUILD:=build}" "${WRAP:=}"
case "$QKVM" in /*) ;; *) QKVM="$PWD/$QKVM" ;; esac
export QKVM BUILD WRAP NO_COLOR=1
: "${TMPDIR:=/tmp}"
TESTTMP=$(mktemp -d "$TMPDIR/qkvm-test.XXXXXX")
trap 'rm -rf "$TESTTMP"' EXIT
# Whatever a suite runs without --state reaches a database of the test's
# own, never the default (/var/lib/qkvm/state.db as root, else under
# $XDG_STATE_HOME); tests/run checks the default was not touched.
export QKVM_STATE="$TESTTMP/default-state.db" XDG_STATE_HOME="$TESTTMP/xdg-state"

section() { printf '== %s\n' "$1"; }
pass() { passed=$((passed + 1)); [ -n "${VERBOSE:-}" ] && printf 'ok   %s\n' "$1"; return 0; }
fail() {
    failed=$((failed + 1))
    printf 'FAIL %s\n' "$1"
    [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/     /' | head -40
    return 0
}
skip() { skipped=$((skipped + 1)); printf 'SKIP %s: %s\n' "$1" "$2"; }
summary() {
    if [ "$skipped" -gt 0 ]; then
        printf '%d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
    else
        printf '%d passed, %d failed\n' "$passed" "$failed"
    fi
    [ "$failed" -eq 0 ]
}

# run_qkvm OUTFILE ARGS...: run qkvm, stdout and stderr kept apart, and
# write "exit N", stderr and stdout into OUTFILE in a fixed layout.
run_qkvm() {
    local out=$1; shift
    local rc=0
    $WRAP "$QKVM" "$@" >"$TESTTMP/stdout" 2>"$TESTTMP/stderr" || rc=$?
    { printf 'exit %d\n--- stderr\n' "$rc"; cat "$TESTTMP/stderr"
      printf -- '--- stdout\n'; cat "$TESTTMP/stdout"; } >"$out"
    return 0
}

# wait_until TRIES CMD...: run CMD every 0.1 s until it succeeds, at most
# TRIES times (a condition: `wait_until 300 eval '[ -s "$f" ]'`). What the
# suites wait on is an event (a file, a log line, a delivery); the tries
# only bound a wait that would never end.
wait_until() {
    local n=$1; shift
    until "$@"; do
        n=$((n - 1))
        [ "$n" -gt 0 ] || return 1
        sleep 0.1
    done
}

# check NAME EXIT STDOUT-PATTERN STDERR-PATTERN -- ARGS...: run qkvm with
# ARGS (stdout in $TESTTMP/o, stderr in $TESTTMP/e); the exit code must be
# EXIT and each stream match its extended regex ('' empty, '*' anything).
check() {
    local name=$1 want=$2 out_pat=$3 err_pat=$4; shift 5
    local rc=0
    timeout 60 $WRAP "$QKVM" "$@" >"$TESTTMP/o" 2>"$TESTTMP/e" || rc=$?
    local why=""
    [ "$rc" -eq "$want" ] || why="exit $rc, expected $want"
    if [ -z "$why" ]; then
        case "$out_pat" in
        '*') ;;
        '') [ -s "$TESTTMP/o" ] && why="stdout not empty" ;;
        *) grep -qE -- "$out_pat" "$TESTTMP/o" || why="stdout lacks /$out_pat/" ;;
        esac
    fi
    if [ -z "$why" ]; then
        case "$err_pat" in
        '*') ;;
        '') [ -s "$TESTTMP/e" ] && why="stderr not empty" ;;
        *) grep -qE -- "$err_pat" "$TESTTMP/e" || why="stderr lacks /$err_pat/" ;;
        esac
    fi
    if [ -z "$why" ]; then
        pass "$name"
    else
        fail "$name" "$why
stdout: $(head -c 600 "$TESTTMP/o")
stderr: $(head -c 600 "$TESTTMP/e")"
    fi
}

# expect_junit NAME ARGS...: when ARGS ask for -o junit, the last
# run_qkvm's stdout (the XML alone) must validate against the JUnit schema.
expect_junit() {
    local name=$1 out
    shift
    case " $* " in *" -o junit "*) ;; *) return 0 ;; esac
    if out=$(xmllint --noout --schema tests/data/junit/junit.xsd "$TESTTMP/stdout" 2>&1); then
        pass "$name: valid JUnit XML"
    else
        fail "$name: valid JUnit XML" "$out"
    fi
}

# expect_file NAME ACTUAL EXPECTED: compare, or rewrite with QKVM_REGENERATE.
expect_file() {
    if [ -n "${QKVM_REGENERATE:-}" ]; then
        cp "$2" "$3"
        pass "$1 (regenerated)"
    elif [ ! -f "$3" ]; then
        fail "$1" "no expected file $3 (make regen writes it)"
    elif diff -u "$3" "$2" >"$TESTTMP/diff"; then
        pass "$1"
    else
        fail "$1" "$(cat "$TESTTMP/diff")"
    fi
}
