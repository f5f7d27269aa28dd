#!/usr/bin/env bash
# Build the npm-style package `churnlens-web` into churn-wasm/pkg/:
#   pkg/tracker/    the tracker build (no analytics engine): churnlens_web.js + .d.ts + .wasm
#   pkg/analytics/  the full build (tracker + Engine over MemoryStore)
#   pkg/tracker.js  the JS tracker (DOM plumbing) importing ./tracker/churnlens_web.js
# Sizes (raw / gzipped) are printed; the tracker build must stay under 250 KiB gzipped.
# Needs: the wasm32-unknown-unknown target, wasm-bindgen-cli = the wasm-bindgen crate
# version, npm (for binaryen's wasm-opt). `./dev test` installs them when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
PKG=churn-wasm/pkg
BUDGET_KIB=250
# Size-tuned release settings for the wasm target only (native release builds are untouched:
# their artifacts live in another directory).
export CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_LTO=true \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_PANIC=abort
export CARGO_INCREMENTAL=0

build_one() { # <name> <cargo feature args...>
    local name=$1; shift
    local out="$TARGET_DIR/wasm32-unknown-unknown/release"
    cargo build --locked --target wasm32-unknown-unknown --release -p churn-wasm "$@"
    # Keep one copy per flavour so the two builds do not overwrite each other.
    cp "$out/churn_wasm.wasm" "$out/churnlens_web_$name.wasm"
    rm -rf "$PKG/$name"
    wasm-bindgen --target web --out-dir "$PKG/$name" --out-name churnlens_web \
        "$out/churnlens_web_$name.wasm"
    (cd churn-wasm && npx --no-install wasm-opt -O2 --enable-bulk-memory --enable-nontrapping-float-to-int \
        --enable-sign-ext --enable-mutable-globals \
        "pkg/$name/churnlens_web_bg.wasm" -o "pkg/$name/churnlens_web_bg.wasm")
    local raw gz
    raw=$(stat -c %s "$PKG/$name/churnlens_web_bg.wasm")
    gz=$(gzip -9c "$PKG/$name/churnlens_web_bg.wasm" | wc -c)
    printf 'churnlens-web %-9s wasm: %7d bytes raw, %7d bytes gzipped (%d KiB)\n' \
        "$name" "$raw" "$gz" $(( (gz + 1023) / 1024 )) >&2
    if [[ $name == tracker ]] && (( gz > BUDGET_KIB * 1024 )); then
        echo "build.sh: the tracker build is over the ${BUDGET_KIB} KiB gzipped budget" >&2
        exit 1
    fi
}

build_one tracker --no-default-features
build_one analytics
cp churn-wasm/js/tracker.js "$PKG/tracker.js"
cp churn-wasm/js/tracker.d.ts "$PKG/tracker.d.ts"
cp churn-wasm/js/package.json "$PKG/package.json"
echo "churnlens-web built in $PKG" >&2
