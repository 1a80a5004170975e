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

# FUZZ_TARGET picks the target: http (the HTTP/1.1 decoders, the default), websocket (the
# WebSocket frame decoder and message assembler; the handshake, which needs swift-crypto, is left
# out) or multipart (the streaming multipart/form-data parser).
target="${FUZZ_TARGET:-http}"
out_dir=.build-fuzz
case "$target" in
    http)
        binary="$out_dir/http-request-decoder"
        sources=(Sources/Codecs/HTTP1/*.swift Tests/Fuzz/HTTPRequestDecoderFuzz.swift)
        corpus=Tests/Fuzz/corpus
        ;;
    websocket)
        binary="$out_dir/websocket-decoder"
        sources=($(ls Sources/Codecs/WebSocket/*.swift | grep -v WebSocketHandshake) Tests/Fuzz/WebSocketDecoderFuzz.swift)
        corpus=Tests/Fuzz/corpus-websocket
        ;;
    multipart)
        binary="$out_dir/multipart-parser"
        sources=(Sources/Codecs/Multipart/MultipartParser.swift Sources/Codecs/Multipart/MultipartPartHead.swift
            Sources/Codecs/HTTP1/HTTPHeaders.swift Sources/Codecs/HTTP1/HTTPSyntax.swift
            Sources/Codecs/HTTP1/HTTPParseError.swift Tests/Fuzz/MultipartParserFuzz.swift)
        corpus=Tests/Fuzz/corpus-multipart
        ;;
    *) echo "FUZZ_TARGET must be http, websocket or multipart" >&2; exit 2;;
esac
work="$corpus-work"
[ "$target" = http ] && work=Tests/Fuzz/corpus-work
mkdir -p "$out_dir" "$work" Tests/Fuzz/artifacts

# The sources use `package` access, which needs -package-name (any name; the whole thing is one module).
swiftc -swift-version 6 -sanitize=fuzzer,address -parse-as-library -O \
    -package-name comfy_gateway -module-name CodecsFuzz -use-ld=lld \
    "${sources[@]}" -o "$binary"

cp -n "$corpus"/* "$work"/ 2>/dev/null || true

# ASan's leak checker stays on: the target must not leak. The backtracer would hang on a trap.
export SWIFT_BACKTRACE=enable=no
status=0
"$binary" \
    -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix=Tests/Fuzz/artifacts/ -print_final_stats=1 \
    "$@" "$work" || status=$?

if [ "$status" -ne 0 ]; then
    echo "run.sh: fuzzer exited with status $status; reproducers in Tests/Fuzz/artifacts/:" >&2
    ls -1 Tests/Fuzz/artifacts/ >&2 || true
    exit 1
fi
