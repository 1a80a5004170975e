#!/usr/bin/env bash
# Builds the HTTP/1.1 decoder fuzz target with libFuzzer + AddressSanitizer and runs it.
#
#   Tests/Fuzz/run.sh [SECONDS] [extra libFuzzer flags...]     (default 60 seconds)
#
# Builds Sources/Codecs/HTTP1/*.swift together with Tests/Fuzz/HTTPRequestDecoderFuzz.swift into
# .build-fuzz/http-request-decoder (no SwiftPM, so it does not touch .build). The working corpus
# Tests/Fuzz/corpus-work/ is seeded from the checked-in Tests/Fuzz/corpus/; crashes go to
# Tests/Fuzz/artifacts/. Exits non-zero when the build fails or a crash (a trap: mismatch or
# broken invariant) was found.
#
# Replay inputs without fuzzing (e.g. the minimised findings kept in Tests/Fuzz/regressions/):
#   SWIFT_BACKTRACE=enable=no .build-fuzz/http-request-decoder Tests/Fuzz/regressions/*
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."    # the package root

seconds="${1:-60}"
shift || true
case "$seconds" in (*[!0-9]*|'') echo "usage: $0 SECONDS [libFuzzer flags...]" >&2; exit 2;; esac

out_dir=.build-fuzz
binary="$out_dir/http-request-decoder"
mkdir -p "$out_dir" Tests/Fuzz/corpus-work Tests/Fuzz/artifacts

# The sources use `package` access, which needs -package-name (any name; the whole thing is one module).
swiftc -swift-version 6 -sanitize=fuzzer,address -parse-as-library -O \
    -package-name comfy_gateway -module-name HTTP1Fuzz -use-ld=lld \
    Sources/Codecs/HTTP1/*.swift Tests/Fuzz/HTTPRequestDecoderFuzz.swift \
    -o "$binary"

cp -n Tests/Fuzz/corpus/* Tests/Fuzz/corpus-work/ 2>/dev/null || true

# ASan's leak checker stays on: the target must not leak. The backtracer would hang on a trap.
export SWIFT_BACKTRACE=enable=no
status=0
"$binary" \
    -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix=Tests/Fuzz/artifacts/ -print_final_stats=1 \
    "$@" Tests/Fuzz/corpus-work || status=$?

if [ "$status" -ne 0 ]; then
    echo "run.sh: fuzzer exited with status $status; reproducers in Tests/Fuzz/artifacts/:" >&2
    ls -1 Tests/Fuzz/artifacts/ >&2 || true
    exit 1
fi
