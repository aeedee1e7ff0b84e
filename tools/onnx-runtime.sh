#!/bin/sh
# Runs an ONNX model with ONNX Runtime (npm onnxruntime-node) for the ONNX test, installing the package
# once into a cache folder when node and npm are present and the npm registry is reachable.
#   sh tools/onnx-runtime.sh MODEL.onnx IN.f32 N C H W OUT.f32
# Exit 77 (the test then skips the runtime comparison) when node/npm are absent or the install fails.
# Cache: $LOCUS_ORT_DIR, default ${XDG_CACHE_HOME:-$HOME/.cache}/locus-onnxruntime (about 300 MB).
# The install uses --ignore-scripts: the package's postinstall fetches optional GPU libraries from NuGet,
# which fails offline; the CPU runtime ships in the package itself.
set -u
dir=${LOCUS_ORT_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/locus-onnxruntime}
if ! command -v node >/dev/null 2>&1; then echo "onnx-runtime: node is not installed; skipped"; exit 77; fi
install() {
    [ -d "$dir/node_modules/onnxruntime-node" ] && return 0
    if ! command -v npm >/dev/null 2>&1; then echo "onnx-runtime: npm is not installed; skipped"; return 77; fi
    echo "onnx-runtime: installing onnxruntime-node into $dir (once)"
    if ! (cd "$dir" && timeout 300 npm install --ignore-scripts --no-audit --no-fund --loglevel=error \
            onnxruntime-node >/dev/null 2>&1); then
        echo "onnx-runtime: npm install onnxruntime-node failed (registry unreachable?); skipped"
        return 77
    fi
}
mkdir -p "$dir" || exit 77
# one installer at a time (several test runs may share the cache)
if command -v flock >/dev/null 2>&1; then
    exec 9>"$dir/.lock" && flock 9
fi
install || exit 77
exec 9>&-
NODE_PATH="$dir/node_modules" exec node "$(dirname "$0")/ref/ort_run.js" "$@"
