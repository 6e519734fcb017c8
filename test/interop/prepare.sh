#!/usr/bin/env bash
# Builds what the interop tests run, once per content of its pinned inputs, into test/interop/.cache, and prints the
# path: `go` (the go-spiffe client, go/), `spire` (spire-agent from spire/go.mod's tool line), `python` (a venv with
# python/requirements.txt), or `all` (.ci/run). Concurrent callers wait for one build (flock).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache="$here/.cache"
mkdir -p "$cache"
digest() { cat "$@" | sha256sum | cut -c1-16; }
# The pinned go.sum is the lock: never resolve anew, never fetch a toolchain.
export GOFLAGS="-mod=readonly -buildvcs=false" GOTOOLCHAIN=local

build_go() { # dir, output, package
  local dir=$1 out=$2 pkg=$3
  [ -x "$out" ] && return 0
  flock "$out.lock" bash -c "[ -x '$out' ] || { cd '$dir' && go build -o '$out.tmp' '$pkg' && mv '$out.tmp' '$out'; }" >&2
}

prepare() {
  case "$1" in
    go)
      out="$cache/ztmesh-interop-$(digest "$here/go/go.mod" "$here/go/go.sum" "$here/go/main.go")"
      build_go "$here/go" "$out" . ;;
    spire)
      out="$cache/spire-agent-$(digest "$here/spire/go.mod" "$here/spire/go.sum")"
      build_go "$here/spire" "$out" github.com/spiffe/spire/cmd/spire-agent ;;
    python)
      venv="$cache/venv-$(digest "$here/python/requirements.txt")"
      out="$venv/bin/python"
      if [ ! -e "$venv/.complete" ]; then
        flock "$venv.lock" bash -c "[ -e '$venv/.complete' ] || { rm -rf '$venv' && python3 -m venv '$venv' && '$venv/bin/pip' install -q --disable-pip-version-check --no-deps -r '$here/python/requirements.txt' && touch '$venv/.complete'; }" >&2
      fi ;;
    *) echo "usage: $0 go|spire|python|all" >&2; exit 2 ;;
  esac
  echo "$out"
}

if [ "${1:-}" = all ]; then
  for k in go spire python; do prepare "$k"; done
else
  prepare "${1:-}"
fi
