#!/usr/bin/env bash
# Build the extension into editors/vscode/gradlint-<version>.vsix (needs Node.js 20+ and npm; the packages
# come from the npm registry, pinned by package-lock.json). Prints the path of the .vsix.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error >&2
npx tsc -p . >&2
version=$(node -p 'require("./package.json").version')
out="$PWD/gradlint-$version.vsix"
# --skip-license: the license is the repository's (package.json says MIT); no LICENSE file is copied here.
npx vsce package --skip-license --allow-missing-repository --out "$out" >&2
echo "$out"
