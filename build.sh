#!/usr/bin/env bash
# Developer entry point.
#   ./build.sh          build the engine into plugin/pytest_difftest/ (for editable installs)
#   ./build.sh test     the whole test suite, from scratch: a virtualenv with the package
#                       installed as users install it, Go vet/format/race tests, brief fuzzing,
#                       and the end-to-end tests (pytest subprocesses, SQLite, S3 on loopback)
#   ./build.sh fuzz [SECONDS]   longer fuzzing of the parser and the database opener
#   ./build.sh bench [ARGS]     the benchmark suite (bench/README.md)
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3}
VENV=${DIFFTEST_VENV:-.venv-test}
GOFLAGS_BUILD=(-buildmode=c-shared -trimpath "-ldflags=-s -w")

build_lib() {
  CGO_ENABLED=1 go build "${GOFLAGS_BUILD[@]}" -o plugin/pytest_difftest/_difftest.so ./lib/cabi
  rm -f plugin/pytest_difftest/_difftest.h
}

venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
  fi
  # A real (non-editable) install: the tests exercise the wheel users get.
  "$VENV/bin/python" -m pip install -q ".[test]"
}

go_checks() {
  echo "== go vet"
  go vet ./lib/...
  echo "== gofmt"
  unformatted=$(gofmt -l lib)
  if [ -n "$unformatted" ]; then echo "not gofmt'ed: $unformatted"; exit 1; fi
  echo "== go test -race"
  go test -race -count=1 ./lib/...
  echo "== fuzz (brief)"
  fuzz 5
}

fuzz() {
  local secs=${1:-60}
  for target in $(grep -rl --include='*_test.go' '^func Fuzz' lib | xargs -n1 dirname | sort -u); do
    for f in $(grep -h '^func Fuzz' "$target"/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do
      go test -run='^$' -fuzz="^$f\$" -fuzztime="${secs}s" "./$target"
    done
  done
}

case "${1:-lib}" in
  lib)
    build_lib
    ;;
  test)
    go_checks
    echo "== python end-to-end tests"
    venv
    "$VENV/bin/python" -m pytest tests -p no:cacheprovider -n 2 "${@:2}"
    ;;
  fuzz)
    fuzz "${2:-120}"
    ;;
  bench)
    venv
    "$VENV/bin/python" bench/run.py "${@:2}"
    ;;
  *)
    echo "usage: ./build.sh [lib|test|fuzz [SECONDS]|bench [ARGS]]" >&2
    exit 2
    ;;
esac
