#!/bin/sh
# Run by `npm run dev` and `npm test` before Node: on an older Node they would otherwise stop at
# "node: --experimental-strip-types is not allowed in NODE_OPTIONS" (.npmrc sets that flag, which
# Node < 22.6 rejects). Plain POSIX sh, and NODE_OPTIONS cleared for the version query, so that
# this works on the Node it is complaining about. `npm install` says the same through
# engine-strict (.npmrc) and package.json's engines.
version=$(NODE_OPTIONS='' node --version 2>/dev/null) || version=''
major=0
minor=0
case "$version" in
v[0-9]*.[0-9]*)
  rest=${version#v}
  major=${rest%%.*}
  rest=${rest#*.}
  minor=${rest%%.*}
  ;;
esac
if [ "$major" -gt 22 ] || { [ "$major" -eq 22 ] && [ "$minor" -ge 12 ]; }; then
  exit 0
fi
if [ -n "$version" ]; then
  found="\`node\` on your PATH is $version ($(command -v node))"
else
  found="there is no \`node\` on your PATH"
fi
cat >&2 <<EOF

VCA needs Node.js >= 22.12 (Node 24 LTS recommended), but $found.
Install Node 24, then run the command again:
  nvm                nvm install 24 && nvm use 24        (https://github.com/nvm-sh/nvm)
  Debian / Ubuntu    NodeSource's nodejs 24.x packages   (https://github.com/nodesource/distributions)
  official binaries  https://nodejs.org/en/download
  this repo's CI     source .ci/node.sh   (fetches Node 24 from the npm registry into ~/.cache/vca-node24
                     and puts it first on PATH, for this shell only)

EOF
exit 1
