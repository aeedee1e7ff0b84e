#!/bin/sh
# Runs each test binary, counts passes, failures and skips (exit 77), prints the closing summary line.
# Usage: run-tests.sh BUILD_DIR TEST_BIN...
build=$1; shift
pass=0; fail=0; skip=0; failed=""
for t in "$@"; do
    name=$(basename "$t")
    start=$(date +%s)
    LOCUS_BIN="$build/locus" "$t" > "$build/tests/$name.log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    if [ $rc -eq 0 ]; then pass=$((pass+1)); echo "PASS $name (${secs}s)";
    elif [ $rc -eq 77 ]; then skip=$((skip+1)); echo "SKIP $name: $(tail -n 1 "$build/tests/$name.log")";
    else fail=$((fail+1)); failed="$failed $name"; echo "FAIL $name (exit $rc), log $build/tests/$name.log:"; tail -n 30 "$build/tests/$name.log"; fi
done
echo "tests: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
