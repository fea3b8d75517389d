// The C entry points of include/difftest.h. Each checks, before entering
// Go, that the process is not a child forked after the library was loaded:
// the Go runtime does not survive fork (its threads are gone), and a call
// into Go there hangs or crashes. The check is here, in C, so that it
// protects every caller, not only the Python plugin and its pid check.

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "difftest.h"
#include "_cgo_export.h"

static volatile sig_atomic_t forked;

#ifndef _WIN32
#include <pthread.h>

static void mark_forked(void) { forked = 1; }

__attribute__((constructor)) static void register_fork_handler(void) {
	pthread_atfork(NULL, NULL, mark_forked);
}
#endif

// refuse answers a call made in a forked child. glibc's malloc is usable in
// the child (it resets its locks at fork); if it fails, *out stays NULL.
static int refuse(char **out) {
	if (out != NULL) {
		*out = strdup("pytest-difftest: the engine cannot be called from a process forked after it was loaded");
	}
	return DT_FORKED;
}

// GUARD refuses a call in a forked child, and one that gives no place
// for its result.
#define GUARD(out)              \
	do {                        \
		if (forked) {           \
			return refuse(out); \
		}                       \
		if (out == NULL) {      \
			return DT_MISUSE;   \
		}                       \
	} while (0)

int dt_open(const char *config, uintptr_t *handle, char **out) {
	GUARD(out);
	return dtgo_open((char *)config, handle, out);
}

int dt_select(uintptr_t handle, char **out) {
	GUARD(out);
	return dtgo_select(handle, out);
}

int dt_record(uintptr_t handle, const void *buf, size_t len, char **out) {
	GUARD(out);
	return dtgo_record(handle, (void *)buf, len, out);
}

int dt_finish(uintptr_t handle, const char *info, char **out) {
	GUARD(out);
	return dtgo_finish(handle, (char *)info, out);
}

int dt_close(uintptr_t handle, char **out) {
	GUARD(out);
	return dtgo_close(handle, out);
}

// dt_free never enters Go, so that memory can be released in any process.
void dt_free(void *p) { free(p); }

int dt_remote_check(const char *request, char **out) {
	GUARD(out);
	return dtgo_remote_check((char *)request, out);
}

int dt_remote_fetch(const char *request, char **out) {
	GUARD(out);
	return dtgo_remote_fetch((char *)request, out);
}

int dt_remote_upload(const char *request, char **out) {
	GUARD(out);
	return dtgo_remote_upload((char *)request, out);
}

int dt_remote_cancel(const char *request, char **out) {
	GUARD(out);
	return dtgo_remote_cancel((char *)request, out);
}

int dt_merge(const char *request, char **out) {
	GUARD(out);
	return dtgo_merge((char *)request, out);
}

int dt_inspect(const char *request, char **out) {
	GUARD(out);
	return dtgo_inspect((char *)request, out);
}
