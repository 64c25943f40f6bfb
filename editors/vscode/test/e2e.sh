#!/usr/bin/env bash
# End-to-end test of the extension in a real VS Code (code-server, from the npm registry), driven by a
# headless Chromium (Debian's `chromium`) through playwright-core:
#   build the .vsix (../build.sh) -> install it into code-server -> open a workspace with a buggy .py file
#   and a notebook -> check the diagnostics (Problems panel), apply a quick fix, fix all on save (a .py
#   file and a notebook). Screenshots go to test/screenshots/.
#
# Needs: node 20 + npm (code-server 4.100.3 is the last release on node 20), a C/C++ toolchain and
# libkrb5-dev, libxkbfile-dev, libsecret-1-dev, pkg-config (code-server builds native modules), ripgrep,
# chromium, and a Python with gradlint and its lsp extra (PYTHON=..., default: python3).
# On Debian, as root: apt-get install -y chromium ripgrep libkrb5-dev libxkbfile-dev libsecret-1-dev pkg-config build-essential
#
# Everything it installs goes to test/.run/ (code-server ~5 min the first time, then reused).
# Usage: editors/vscode/test/e2e.sh            (exit status 0: every check passed)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ext=$(dirname "$here")
run="$here/.run"
mkdir -p "$run"
PYTHON=${PYTHON:-python3}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
CODE_SERVER_VERSION=4.100.3
PLAYWRIGHT_VERSION=1.65.2

log() { printf '\n== %s\n' "$*" >&2; }

"$PYTHON" -c "import gradlint.lsp, pygls" || { echo "e2e: $PYTHON has no gradlint with the lsp extra" >&2; exit 2; }
python_exe=$("$PYTHON" -c 'import sys; print(sys.executable)')
[ -x "$CHROMIUM" ] || { echo "e2e: no chromium at $CHROMIUM (apt-get install -y chromium)" >&2; exit 2; }
command -v rg >/dev/null || { echo "e2e: needs ripgrep (apt-get install -y ripgrep)" >&2; exit 2; }

if [ -n "${E2E_VSIX:-}" ]; then
  vsix=$E2E_VSIX   # a .vsix built before (when iterating on the test itself)
else
  log "build the .vsix"
  vsix=$("$ext/build.sh")
fi

cs="$run/code-server/node_modules/.bin/code-server"
if [ ! -x "$cs" ]; then
  log "install code-server $CODE_SERVER_VERSION from the npm registry (builds native modules; a few minutes)"
  rm -rf "$run/code-server" && mkdir -p "$run/code-server"
  echo '{"private": true}' > "$run/code-server/package.json"  # else npm installs into ../../package.json
  # @vscode/ripgrep's install script downloads rg from GitHub, which may be unreachable: seed its download
  # cache with the system's rg (the cache is where the script looks first).
  rg_cache="${TMPDIR:-/tmp}/vscode-ripgrep-cache-1.15.11"
  rg_asset="$rg_cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
  if [ ! -f "$rg_asset" ]; then
    mkdir -p "$rg_cache" "$run/rg" && cp "$(command -v rg)" "$run/rg/rg" && tar czf "$rg_asset" -C "$run/rg" rg
  fi
  # as root, code-server's install script wants unsafe-perm; node-pty's runs `npx node-gyp` (yes);
  # native modules build against the system's node headers (nodedir=/usr) instead of downloading them
  (cd "$run/code-server" && npm_config_yes=true npm_config_unsafe_perm=true npm_config_nodedir=${NODEDIR:-/usr} \
    npm install --no-audit --no-fund --loglevel=error "code-server@$CODE_SERVER_VERSION" >&2)
fi

tools="$run/tools"
if [ ! -d "$tools/node_modules/playwright-core" ]; then
  log "install playwright-core $PLAYWRIGHT_VERSION (the driver only; the browser is Debian's chromium)"
  mkdir -p "$tools" && echo '{"private": true}' > "$tools/package.json" && (cd "$tools" && npm install --no-audit --no-fund --loglevel=error "playwright-core@$PLAYWRIGHT_VERSION" >&2)
fi

log "a fresh workspace, user data and extensions folder"
ws="$run/workspace"
data="$run/user-data"
exts="$run/extensions"
rm -rf "$ws" "$data" "$exts" "$here/screenshots"
printf 'auth: none\n' > "$run/config.yaml"  # (code-server writes ~/.config/code-server/config.yaml otherwise)
mkdir -p "$ws/.vscode" "$data/User" "$exts" "$here/screenshots"
"$PYTHON" "$here/make_workspace.py" "$ws"
cat > "$data/User/settings.json" <<'JSON'
{
  "workbench.startupEditor": "none",
  "git.openRepositoryInParentFolders": "never",
  "security.workspace.trust.enabled": false,
  "extensions.autoUpdate": false,
  "extensions.autoCheckUpdates": false,
  "extensions.ignoreRecommendations": true,
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "workbench.tips.enabled": false,
  "workbench.enableExperiments": false,
  "chat.disableAIFeatures": true,
  "files.autoSave": "off",
  "editor.quickSuggestions": { "other": false, "comments": false, "strings": false },
  "editor.lightbulb.enabled": "off",
  "notebook.output.textLineLimit": 5
}
JSON

log "a stand-in for the Python extension (ms-python.python), whose selected environment is $python_exe"
fake="$run/fake-python"
rm -rf "$fake" && cp -r "$here/fake-python" "$fake" && echo "$python_exe" > "$fake/python.txt"
(cd "$fake" && "$ext/node_modules/.bin/vsce" package --skip-license --allow-missing-repository --out "$run/fake-python.vsix" >&2)

log "install the .vsix (and the stand-in) into code-server"
for v in "$run/fake-python.vsix" "$vsix"; do
  "$cs" --config "$run/config.yaml" --user-data-dir "$data" --extensions-dir "$exts" --install-extension "$v" >&2
done
ls "$exts" | grep -q '^gradlint\.gradlint-' || { echo "e2e: the extension was not installed" >&2; exit 1; }

port=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log "start code-server on 127.0.0.1:$port"
# gradlint is not on code-server's PATH: the server must come from the (stand-in) Python extension
PATH=$(echo "$PATH" | tr ':' '\n' | grep -v -x "$(dirname "$python_exe")" | paste -sd: -)
export PATH
"$cs" --config "$run/config.yaml" --auth none --bind-addr "127.0.0.1:$port" --user-data-dir "$data" --extensions-dir "$exts" \
  --disable-telemetry --disable-update-check --disable-workspace-trust --disable-getting-started-override \
  "$ws" > "$run/code-server.log" 2>&1 &
cs_pid=$!
trap 'kill "$cs_pid" 2>/dev/null || true; wait "$cs_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$cs_pid" 2>/dev/null || { cat "$run/code-server.log" >&2; exit 1; }
  sleep 0.5
done

log "drive it with headless chromium"
status=0
NODE_PATH="$tools/node_modules" LOGS="$data/logs" URL="http://127.0.0.1:$port/?folder=$ws" WORKSPACE="$ws" CHROMIUM="$CHROMIUM" \
  SHOTS="$here/screenshots" node "$here/e2e.cjs" || status=$?
if [ "$status" != 0 ]; then
  echo "--- code-server log (last 40 lines)" >&2; tail -40 "$run/code-server.log" >&2
  find "$data/logs" -name '*gradlint*' -exec sh -c 'echo "--- $1"; tail -150 "$1"' _ {} \; >&2 2>/dev/null || true
fi
exit "$status"
