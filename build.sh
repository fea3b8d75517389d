#!/usr/bin/env bash
# Developer entry point.
#   ./build.sh          build the engine into plugin/pytest_difftest/ (for editable installs)
#   ./build.sh test     the whole test suite, from scratch: Go vet/format/race tests and brief
#                       fuzzing (once), then the end-to-end tests (pytest subprocesses, SQLite,
#                       S3 on loopback) on each interpreter of DIFFTEST_PYTHONS (default:
#                       "default 3.9 3.13", the oldest and newest supported besides python3),
#                       each in its own virtualenv with the package installed as users install
#                       it. DIFFTEST_PYTHONS="3.13" runs one; an entry is "default" ($PYTHON or
#                       python3), a version (found under pyenv, else pythonX.Y on PATH) or a path.
#                       Then the recorder and module-level suites on each interpreter of
#                       DIFFTEST_SMOKE_PYTHONS (default "3.10 3.12": the supported versions the
#                       whole suite does not run on; entries that are not installed are skipped
#                       with a line, "none" runs none).
#   ./build.sh fuzz [SECONDS]   longer fuzzing of the parser and the database opener
#   ./build.sh bench [ARGS]     the benchmark suite (bench/README.md)
#   ./build.sh wheels [ARCH...] the sdist and manylinux_2_17 wheels (x86_64, aarch64) in dist/
#   ./build.sh docs             the documentation site (mkdocs.yml, docs/) into site/
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3}
VENV=${DIFFTEST_VENV:-.venv-test}
GOFLAGS_BUILD=(-buildmode=c-shared -trimpath "-ldflags=-s -w")

build_lib() {
  CGO_ENABLED=1 go build "${GOFLAGS_BUILD[@]}" -o plugin/pytest_difftest/_difftest.so ./lib/cabi
  local libs=()
  if [ "$(uname)" = Linux ]; then libs=(-s -lrt); fi
  ${CC:-cc} -O2 -g0 -shared -fPIC -Wall -Werror -o plugin/pytest_difftest/_childterm.so lib/childterm/childterm.c "${libs[@]}"
  rm -f plugin/pytest_difftest/_difftest.h
}

# venv PYTHON DIR: a virtualenv at DIR with this package installed.
venv() {
  local py=$1 dir=$2 want
  # A virtualenv left by another interpreter (DIFFTEST_PYTHONS changed) is
  # made again: the suite must run on the interpreter it names.
  want=$("$py" -c 'import sys; print(sys.version)')
  if [ -x "$dir/bin/python" ] && [ "$("$dir/bin/python" -c 'import sys; print(sys.version)')" != "$want" ]; then
    rm -rf "$dir"
  fi
  if [ ! -x "$dir/bin/python" ]; then
    "$py" -m venv "$dir"
    "$dir/bin/python" -m pip install -q --upgrade pip
  fi
  # A real (non-editable) install: the tests exercise the wheel users get.
  "$dir/bin/python" -m pip install -q ".[test]"
}

# find_python ENTRY: the interpreter an entry of DIFFTEST_PYTHONS names.
find_python() {
  local entry=$1 dir
  case "$entry" in
    default) echo "$PY"; return ;;
    */*) echo "$entry"; return ;;
  esac
  if command -v pyenv >/dev/null 2>&1; then
    for dir in $(ls -d "$(pyenv root)/versions/$entry".* 2>/dev/null | sort -V -r); do
      if [ -x "$dir/bin/python3" ]; then echo "$dir/bin/python3"; return; fi
    done
  fi
  if command -v "python$entry" >/dev/null 2>&1; then command -v "python$entry"; return; fi
  echo "build.sh: no Python $entry (not under pyenv, no python$entry on PATH)" >&2
  return 1
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
  fuzz brief
}

# Brief fuzzing (CI) counts executions rather than seconds. A -fuzztime in seconds
# races Go's fuzz coordinator at the deadline (golang/go#75804, fixed only in Go 1.27)
# and a loaded machine then fails with a bare "context deadline exceeded" and no
# failing input. The counts are about 3 s of work each on the development VM.
brief_budget() {
  case "$1" in
    FuzzDecodeRecords) echo 100000x ;;
    FuzzParse) echo 30000x ;;
    FuzzOpen) echo 300x ;;
    *) echo 2000x ;;
  esac
}

# fuzz brief | fuzz SECONDS. A timed run that ends in that same bare deadline error,
# with no failing input written, is reported as the Go bug and not as a finding.
fuzz() {
  local mode=${1:-60} budget log rc
  log=$(mktemp)
  for target in $(grep -rl --include='*_test.go' '^func Fuzz' lib | xargs -n1 dirname | sort -u); do
    for f in $(grep -h '^func Fuzz' "$target"/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do
      if [ "$mode" = brief ]; then budget=$(brief_budget "$f"); else budget="${mode}s"; fi
      rc=0
      go test -run='^$' -fuzz="^$f\$" -fuzztime="$budget" -fuzzminimizetime=5s "./$target" 2>&1 | tee "$log" || rc=$?
      if [ "$rc" -ne 0 ]; then
        if [ "$mode" != brief ] && grep -q 'context deadline exceeded' "$log" &&
          ! grep -qE 'Failing input written|panic:' "$log"; then
          echo "fuzz: $f stopped on Go's deadline race (golang/go#75804); no failing input was found"
        else
          rm -f "$log"
          return "$rc"
        fi
      fi
    done
  done
  rm -f "$log"
}

# Binary wheels: the engine cross-compiled with zig's C toolchain (`ziglang` from
# PyPI, in its own virtualenv) against glibc 2.17, so that one py3-none wheel per
# CPU serves every Python (ctypes loads it) on any manylinux2014-era distribution.
# C debug info is not emitted (-g0) and the link is stripped (setup.py passes
# -extldflags=-s): zig cc, unlike gcc, keeps both otherwise. Each target's Go/C objects stay in the Go build
# cache, so a rebuild after a Python-only change is a link.
WHEELS_VENV=${DIFFTEST_WHEELS_VENV:-.venv-wheels}
WHEEL_GLIBC=2.17

wheels_venv() {
  if [ ! -x "$WHEELS_VENV/bin/python" ]; then
    "$PY" -m venv "$WHEELS_VENV"
    "$WHEELS_VENV/bin/python" -m pip install -q --upgrade pip
  fi
  "$WHEELS_VENV/bin/python" -m pip install -q ziglang auditwheel build "setuptools>=77" wheel
}

# wheel ARCH OUTDIR: one manylinux wheel (x86_64 | aarch64).
wheel() {
  local arch=$1 out=$2 goarch zigpy
  case "$arch" in
    x86_64) goarch=amd64 ;;
    aarch64) goarch=arm64 ;;
    *) echo "wheels: unknown architecture $arch (x86_64, aarch64)" >&2; exit 2 ;;
  esac
  zigpy="$(cd "$WHEELS_VENV/bin" && pwd)/python -m ziglang"
  rm -rf build
  CGO_ENABLED=1 GOOS=linux GOARCH=$goarch \
    CC="$zigpy cc -target $arch-linux-gnu.$WHEEL_GLIBC" \
    CGO_CFLAGS="-O2 -g0" \
    ZIG_GLOBAL_CACHE_DIR="${ZIG_GLOBAL_CACHE_DIR:-$HOME/.cache/zig}" \
    ZIG_LOCAL_CACHE_DIR="${ZIG_LOCAL_CACHE_DIR:-$HOME/.cache/zig}" \
    DIFFTEST_WHEEL_PLATFORM="manylinux_2_17_${arch}.manylinux2014_${arch}" \
    "$WHEELS_VENV/bin/python" -m build --wheel --no-isolation --outdir "$out" . >"$out/build-$arch.log" 2>&1 ||
    { cat "$out/build-$arch.log" >&2; exit 1; }
  rm -rf build "$out/build-$arch.log"
  "$WHEELS_VENV/bin/auditwheel" show "$out"/pytest_difftest-*_"$arch".whl
  if [ "$arch" = aarch64 ]; then load_test "$arch" "$zigpy" "$out"/pytest_difftest-*_"$arch".whl; fi
}

# load_test ARCH ZIG WHEEL: with qemu-user and the CPU's glibc installed
# (Debian: qemu-user libc6-arm64-cross), load the wheel's library and run a
# selection (tests/load_engine.c); otherwise say it was skipped.
load_test() {
  local arch=$1 zigpy=$2 whl=$3 dir sysroot=/usr/$1-linux-gnu
  if ! command -v "qemu-$arch" >/dev/null || [ ! -e "$sysroot/lib/libc.so.6" ]; then
    echo "== load test $arch: skipped (needs qemu-$arch and $sysroot)"
    return
  fi
  dir=$(mktemp -d)
  "$WHEELS_VENV/bin/python" -m zipfile -e "$whl" "$dir/whl"
  $zigpy cc -target "$arch-linux-gnu.$WHEEL_GLIBC" -o "$dir/load_engine" tests/load_engine.c -ldl
  mkdir "$dir/project"
  printf 'def f():\n    return 1\n' >"$dir/project/m.py"
  echo "== load test $arch (qemu-$arch)"
  "qemu-$arch" -L "$sysroot" "$dir/load_engine" "$dir/whl/pytest_difftest/_difftest.so" \
    "{\"root\": \"$dir/project\", \"db_path\": \"$dir/project/t.db\", \"record\": true, \"env\": {\"python\": \"3\"}}" ||
    { rm -rf "$dir"; echo "wheels: the $arch library does not load" >&2; exit 1; }
  rm -rf "$dir"
}

wheels() {
  local out=${DIFFTEST_WHEELS_OUT:-dist} arches=("$@")
  [ ${#arches[@]} -gt 0 ] || arches=(x86_64 aarch64)
  mkdir -p "$out"
  wheels_venv
  for arch in "${arches[@]}"; do
    rm -f "$out"/pytest_difftest-*_"$arch".whl
    echo "== wheel $arch (glibc $WHEEL_GLIBC)"
    wheel "$arch" "$out"
  done
  if [ -z "${DIFFTEST_NO_SDIST:-}" ]; then
    echo "== sdist"
    rm -f "$out"/pytest_difftest-*.tar.gz
    "$WHEELS_VENV/bin/python" -m build --sdist --no-isolation --outdir "$out" . >/dev/null
  fi
  ls -l "$out"
}

case "${1:-lib}" in
  lib)
    build_lib
    ;;
  test)
    pythons=()
    for entry in ${DIFFTEST_PYTHONS:-default 3.9 3.13}; do
      pythons+=("$(find_python "$entry")")
    done
    # The first interpreter's virtualenv also serves moto (the S3 server).
    venv "${pythons[0]}" "$VENV"
    # One S3-compatible server (moto) on loopback for the whole run, used by
    # the Go live test and the end-to-end tests (tests/s3server.py); stopped
    # on exit.
    s3dir=$(mktemp -d)
    s3port=$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$VENV/bin/python" -m moto.server -H 127.0.0.1 -p "$s3port" >"$s3dir/moto.log" 2>&1 &
    s3pid=$!
    trap 'kill "$s3pid" 2>/dev/null || true; wait "$s3pid" 2>/dev/null || true; rm -rf "$s3dir"' EXIT
    export DIFFTEST_S3_ENDPOINT="http://127.0.0.1:$s3port" DIFFTEST_S3_LOG="$s3dir/moto.log"
    export REMOTE_TEST_S3_ENDPOINT="$DIFFTEST_S3_ENDPOINT"
    "$VENV/bin/python" -c '
import sys, time, urllib.error, urllib.request
for _ in range(600):
    try:
        urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=1).close()
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit("moto_server did not start:\n" + open(sys.argv[2]).read())
' "$DIFFTEST_S3_ENDPOINT" "$DIFFTEST_S3_LOG"
    go_checks
    # One interpreter after the other, each suite on both cores; every
    # interpreter runs even when an earlier one failed, and the run fails
    # if any did.
    failed=()
    for i in "${!pythons[@]}"; do
      dir=$VENV
      if [ "$i" -gt 0 ]; then
        dir="$VENV-$("${pythons[$i]}" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
        venv "${pythons[$i]}" "$dir"
      fi
      version=$("$dir/bin/python" -c 'import sys; print(sys.version.split()[0])')
      echo "== python end-to-end tests on Python $version (${pythons[$i]})"
      "$dir/bin/python" -m pytest tests -p no:cacheprovider -n 2 "${@:2}" || failed+=("$version")
    done
    # The versions in between share a recorder with a version above (3.10:
    # the profile hook; 3.12: sys.monitoring): the suites that depend on
    # the interpreter run there too.
    for entry in ${DIFFTEST_SMOKE_PYTHONS:-3.10 3.12}; do
      [ "$entry" = none ] && continue
      if ! py=$(find_python "$entry" 2>/dev/null); then
        echo "== skipped: no Python $entry for the recorder suites"
        continue
      fi
      dir="$VENV-$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
      venv "$py" "$dir"
      version=$("$dir/bin/python" -c 'import sys; print(sys.version.split()[0])')
      echo "== recorder and module-level tests on Python $version ($py)"
      "$dir/bin/python" -m pytest tests/test_interpreters.py tests/test_module_level.py tests/test_safety_regressions.py \
        -p no:cacheprovider -n 2 "${@:2}" || failed+=("$version")
    done
    if [ "${#failed[@]}" -gt 0 ]; then
      echo "end-to-end tests failed on Python ${failed[*]}" >&2
      exit 1
    fi
    ;;
  fuzz)
    fuzz "${2:-120}"
    ;;
  bench)
    # bench/run.py needs only the standard library: it makes its own virtualenvs
    # (bench/out/venvs) and builds this repository into one of them.
    "$PY" bench/run.py "${@:2}"
    ;;
  safety)
    # bench/safety/run.py (docs/safety.md): seeded mutants of real
    # projects' sdists; which failing tests each tool skips. Standard library only:
    # it makes its own virtualenvs (bench/out/safety/venvs) and builds this repository.
    "$PY" bench/safety/run.py "${@:2}"
    ;;
  wheels)
    wheels "${@:2}"
    ;;
  docs)
    # A small virtualenv of its own (MkDocs, mkdocs-material from PyPI); in CI,
    # tests/test_docs.py builds the same site with --strict from the test extras.
    [ -x .venv-docs/bin/python ] || "$PY" -m venv .venv-docs
    .venv-docs/bin/python -m pip install -q "mkdocs-material>=9"
    NO_MKDOCS_2_WARNING=1 .venv-docs/bin/python -m mkdocs build --strict
    ;;
  *)
    echo "usage: ./build.sh [lib|test|fuzz [SECONDS]|bench [ARGS]|safety [ARGS]|wheels [ARCH...]|docs]" >&2
    exit 2
    ;;
esac
