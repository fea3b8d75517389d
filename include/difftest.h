/*
 * difftest.h: the C ABI of the pytest-difftest engine (libdifftest, built
 * from lib/cabi with `go build -buildmode=c-shared`).
 *
 * Conventions, for every function below:
 *  - Strings are NUL-terminated UTF-8.
 *  - The return value is one of the DT_* codes below: DT_OK on success,
 *    DT_ERROR on an error the user should see, DT_INTERNAL on an internal
 *    error (a Go panic, recovered at the boundary: no panic ever crosses
 *    into the caller), DT_MISUSE when the call itself is wrong, DT_FORKED
 *    in a process forked after the library was loaded.
 *  - `out` must not be NULL (the call then does nothing and returns
 *    DT_MISUSE). It receives, on success, a JSON document (or NULL when the
 *    function has nothing to return) and, on error, the message: one line
 *    for DT_ERROR, DT_MISUSE and DT_FORKED; for DT_INTERNAL a first line
 *    followed by a Go stack trace.
 *  - Memory behind `*out` is allocated with malloc by the library and owned
 *    by the caller, who must release it with dt_free(). Inputs stay owned by
 *    the caller; the library copies what it keeps.
 *  - A session handle is an opaque integer from dt_open(); it is valid until
 *    a dt_close() that succeeds, and never reused after. A call with a
 *    handle that is not valid (never opened, or closed) returns DT_MISUSE.
 *  - Calls on one handle must not run concurrently: the library enforces it.
 *    A call made while another call on the same handle is running returns
 *    DT_MISUSE at once, without waiting and without touching the session.
 *    Calls on different handles, and the handle-less functions, may run
 *    concurrently.
 *  - The Go runtime cannot survive fork(): in a child forked after the
 *    library was loaded, every function except dt_free returns DT_FORKED
 *    without entering Go (a flag set by a pthread_atfork child handler is
 *    checked first). Only a fresh process (exec) can use the library.
 *  - Configuration arrives in the arguments, never from the environment:
 *    the Go runtime copies the environment once, when the library is loaded.
 *  - The library exports dtgo_* symbols too: they are the Go side of the
 *    dt_* functions, without the checks above. Never call them.
 */
#ifndef DIFFTEST_H
#define DIFFTEST_H

#include <stddef.h>
#include <stdint.h>

/* Return codes. */
#define DT_OK 0       /* success */
#define DT_ERROR 1    /* an error the user should see; *out: one line */
#define DT_INTERNAL 2 /* a bug in the library (a recovered Go panic) */
#define DT_MISUSE 3   /* a bad call: invalid or closed handle, a concurrent
                         call on one handle, a NULL pointer argument */
#define DT_FORKED 4   /* called in a child forked after loading */

/*
 * dt_open opens (creating if needed) the baseline of one pytest session.
 * config: JSON object {
 *   "root": absolute rootdir, "db_path": absolute database path,
 *   "record": bool (--diff-baseline), "force": bool (--diff-force),
 *   "why": bool (collect reasons), "batch_size": int, "cache_size": int,
 *   "durations": bool (report durations in dt_select, for --diff-shard),
 *   "verbose": bool (--diff-v: dt_select also warns when the parser failed
 *       on a file, which then counts as one whole-file block),
 *   "env": {"python": "3.11", ...} (environment blocks, SPEC 4.4g),
 *   "paths": [import search directories as stored paths: "", "src",
 *       "../src" (above rootdir, inside the project root), "<dist:NAME>"],
 *   "site_paths": [absolute directories where distributions are installed],
 *   "project_up": int, how many levels rootdir lies below the project root
 *       (nearest directory at or above it with .git, pyproject.toml or
 *       setup.py): stored paths may start with that many "../", no more,
 *   "editable": {normalized distribution name: absolute source directory}
 *       of editable distributions outside the project: stored paths
 *       "<dist:NAME>/rel" name files there, and NAME's version is no
 *       dependency,
 *   "started_ns": when the session began importing project code (ns since
 *       the epoch; 0: at dt_open): a file changed since then may differ
 *       from what the tests ran, so their records do not vouch for it,
 *   "env_name": the environment whose results are used and recorded
 *       (SPEC 4.7, --diff-env; "default" when absent or empty). Each
 *       environment has its own tests and test files in the database;
 *       files and block versions are shared. A name that is longer than
 *       100 bytes or holds whitespace or invisible characters is an error
 *       (code 1). A selection-only session never adds an environment,
 *   "debug_panic": read only by a test build of the library (go build
 *       -tags difftest_debug; the shipped library ignores the key):
 *       "open", "select", "record", "finish" or "close" makes the session
 *       panic at that point, so that tests can check the panic comes back
 *       as DT_INTERNAL
 * }
 * A database file that is not usable (not SQLite, another schema version,
 * damaged) is renamed aside and a new one started; dt_select's "warnings"
 * says so.
 * On success *handle is set and *out is NULL. A NULL handle pointer is
 * DT_MISUSE.
 */
int dt_open(const char *config, uintptr_t *handle, char **out);

/*
 * dt_select fingerprints the files the baseline knows and computes which
 * tests are affected. In a recording session it also stores the new
 * fingerprints. *out: JSON object {
 *   "full": bool (run everything: empty baseline or force),
 *   "skip_files": [test files not to collect], "deselect": [node ids of
 *   unaffected tests inside collected files], "skipped_tests": int,
 *   "known": int, "affected": int, "changed_files": [paths],
 *   "reasons": {node id: reason} (with "why"), "warnings": [lines],
 *   "durations": {node id: seconds} (with "durations": the recorded
 *   duration of each known test that may run: every known test on a full
 *   run, else the affected ones; new tests have none), "millis": float
 * }
 * Stored paths that are absolute, leave the project root, or name an
 * editable distribution not in "editable" are never read: one warning says so, and the tests that depend on them are affected. What
 * cannot be read (a FIFO, a directory, a symlink loop) counts as changed.
 */
int dt_select(uintptr_t handle, char **out);

/*
 * dt_record stores the records of finished tests, in one transaction
 * (recording sessions only). buf holds `len` bytes, little-endian:
 *   batch := u32 count, test{count}
 *   test  := str nodeid, u8 outcome, f64 duration_seconds, u32 ndeps, dep{ndeps}
 *   dep   := u8 kind, str path, u32 nlines, u32 line{nlines}
 *   str   := u32 byte_length, UTF-8 bytes
 * outcome: 0 passed, 1 failed, 2 error, 3 skipped, 4 xfailed. Two values
 * are not outcomes: 255 adds the deps to the record of the same node id
 * written earlier in the session (what a wider-scoped fixture's teardown
 * ran); 254 makes nodeid a module's path and the deps what importing that
 * module ran, which every test file whose imports reach the module depends
 * on (for the records that follow in the session); with an empty nodeid,
 * 254 gives what ran outside tests and imports (conftest.py hooks at
 * start-up and after collection, what they called and read), which every
 * test depends on. A batch that is malformed (truncated, trailing bytes, an
 * outcome or kind out of range) is refused whole with DT_ERROR. `len` is a
 * full size_t: the buffer is read in place, not copied, and only during the
 * call.
 * kind 0: a Python file, with the first line (co_firstlineno) of each code
 * object the test ran in it (0 for the module's own code, which may share
 * line 1 with a function). Three line values are markers: 0xFFFFFFFF, the
 * module's whole top level is a dependency (code outside the project
 * imported it by name); 0xFFFFFFFE, in the 254 record with an empty nodeid,
 * the module was imported before recording began: whole too, unless a
 * module marked 0xFFFFFFFF in that record (or a package on its way) reaches
 * it by its imports; 0xFFFFFFFD, the test runs the doctest examples of that
 * file (a module or a text file: the path need not end in ".py"), which the
 * engine reads for what they import and name. A 254 record with no deps says
 * that the module at its path is imported (code that gets a module by a
 * computed name may get it). kind 1: a file the test opened (nlines = 0), or,
 * when the path ends with "/" ("./" for root), a directory it listed, whose
 * content is the sorted names of its entries;
 * kind 2: installed code ran (path: its top-level module name, nlines = 0).
 * Paths are relative to root, POSIX style ("../" as far as "project_up"
 * allows), or "<dist:NAME>/rel" for a file of an editable distribution
 * outside the project; others are ignored. A non-Python test file (items a
 * conftest.py collects from YAML and the like) depends on its own content
 * and on the 254 record under its path (what its collector ran and read).
 * On success *out is NULL.
 */
int dt_record(uintptr_t handle, const void *buf, size_t len, char **out);

/*
 * dt_finish ends a recording session: drops records of tests that no longer
 * exist and notes completely recorded test files. info: JSON object {
 *   "files": {test file: {"complete": bool, "nodeids": [collected ids]}},
 *   "whole_suite": bool, "commit": string,
 *   "untracked": [absolute paths of Python files that ran outside the
 *       project and outside installed code; kept for inspect]
 * }
 * *out: JSON object {"dropped": int, "millis": float}.
 */
int dt_finish(uintptr_t handle, const char *info, char **out);

/* dt_close closes the session and invalidates the handle. *out is NULL on
 * success. When closing fails (DT_ERROR, DT_INTERNAL), the handle stays
 * valid and the session open, so that the caller may call dt_close again;
 * nothing leaks silently. */
int dt_close(uintptr_t handle, char **out);

/* dt_free releases memory returned through `out`. NULL is allowed. It never
 * enters Go, so it works in a forked child too. */
void dt_free(void *p);

/*
 * Remote baselines (SPEC 7). Each takes a JSON request and, on success,
 * sets *out to a JSON reply. Common request fields:
 *   "url": "s3://bucket/key.db" or "file:///abs/path/key.db",
 *   "env": {"AWS_...": "..."} (the caller's environment now: it overrides
 *          the environment the Go runtime copied at load time),
 *   "op": an id for dt_remote_cancel (optional),
 *   "progress": bool (progress of transfers of 8 MB or more on stderr).
 * Errors (DT_ERROR) are one line "<url>: <cause>", never with credentials.
 */

/* dt_remote_check validates request {"url"} without configuration or
 * network; *out: {"url": the URL normalised}. */
int dt_remote_check(const char *request, char **out);

/*
 * dt_remote_fetch brings the local database up to date from the remote.
 * request: {"url", "local_path", "etag_path" (default local_path + ".etag"),
 * "env", "op", "progress"}. When the ETag file names this URL, local_path
 * exists and the remote ETag is unchanged, nothing is downloaded. Otherwise
 * the object is downloaded beside local_path, checked to be a
 * pytest-difftest database ("<url>: not a pytest-difftest database ..."
 * otherwise), and renamed over local_path (its -wal/-shm removed first);
 * then the ETag file is written. On error local_path is untouched.
 * *out: {"url", "fetched": bool, "missing": bool (no such object: not an
 * error, local_path is kept), "etag", "size": local bytes or -1}.
 */
int dt_remote_fetch(const char *request, char **out);

/*
 * dt_remote_upload checks local_path is a pytest-difftest database (and
 * checkpoints its WAL), uploads it, and writes the new ETag to the ETag file.
 * request and *out as dt_remote_fetch ("fetched" and "missing" false).
 */
int dt_remote_upload(const char *request, char **out);

/* dt_remote_cancel cancels the fetch or upload started with request {"op"}
 * (called from another thread); the transfer returns a "cancelled" error.
 * *out is NULL. */
int dt_remote_cancel(const char *request, char **out);

/*
 * dt_merge merges baselines (pytest-difftest merge). request: {
 *   "output": a file, or an s3:// / file:// object,
 *   "inputs": [files, directories (their *.db), object URLs, or prefix URLs
 *              ending in "/" (the *.db under them)],
 *   "env": {"AWS_...": "..."} (the caller's environment, as it is now),
 *   "progress": bool ("merging i/N: <input>" lines on stderr, >5 inputs)
 * }
 * Environments match by name and stay apart: for a test in several inputs
 * the newest record of each (environment, test) wins. The output is
 * written to a temporary file and renamed (or uploaded) only on success.
 * *out: {"output", "inputs": [databases merged], "tests", "files",
 *        "blocks", "bytes", "millis"}. Errors name the input or output at
 * fault; the output is then untouched.
 */
int dt_merge(const char *request, char **out);

/*
 * dt_inspect describes a baseline (pytest-difftest inspect), opened
 * read-only. request: {"db": path, "test": node id or "", "file": path or "",
 *   "env": environment name or "" (narrows "test" and "file" to one
 *   environment; a test recorded in several needs it)}
 * *out: {"summary": {...}} | {"test": {...}} | {"file": {...}} (see
 * lib/internal/inspect; the summary lists "environments", each with its
 * name, test count, last recording and values). An unknown node id, path
 * or environment is an error (DT_ERROR).
 */
int dt_inspect(const char *request, char **out);

#endif
