#!/usr/bin/env bash
# CI for the VS Code extension: clean install from the lockfile, type-check + bundle, unit tests (plus
# the real-server tests when smallcode-lsp can be found, e.g. with the repository's venv active), and
# the .vsix. Needs node >= 20 and the npm registry (or a warm npm cache) for `npm ci` only.
set -euo pipefail
cd "$(dirname "$0")"
rm -rf dist out ./*.vsix
# --ignore-scripts: nothing here needs an install script (esbuild finds its binary package without
# one; keytar and vsce-sign are for publishing), and skipping them keeps `npm ci` offline-safe.
npm ci --ignore-scripts --no-audit --no-fund
npm run build
npm test
npx --no-install vsce package --no-dependencies --allow-missing-repository
ls -l ./*.vsix
