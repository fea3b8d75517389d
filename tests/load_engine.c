/* A load test of a cross-built engine library without a Python for its CPU:
 * ./build.sh wheels compiles this for the wheel's CPU (zig cc) and runs it
 * under qemu-user when that is installed. It dlopens the library (the Go
 * runtime starts), opens a baseline in a fresh directory and selects: a
 * first run must come back as {"full":true,...}. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef int (*open_fn)(const char *config, uintptr_t *handle, char **out);
typedef int (*select_fn)(uintptr_t handle, char **out);

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: load_engine LIBRARY CONFIG_JSON\n");
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW);
    if (lib == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    open_fn dt_open = (open_fn)dlsym(lib, "dt_open");
    select_fn dt_select = (select_fn)dlsym(lib, "dt_select");
    if (dt_open == NULL || dt_select == NULL) {
        fprintf(stderr, "dlsym: %s\n", dlerror());
        return 1;
    }
    char *out = NULL;
    uintptr_t session = 0;
    if (dt_open(argv[2], &session, &out) != 0) {
        fprintf(stderr, "dt_open: %s\n", out ? out : "");
        return 1;
    }
    if (dt_select(session, &out) != 0 || out == NULL || strstr(out, "\"full\":true") == NULL) {
        fprintf(stderr, "dt_select: %s\n", out ? out : "");
        return 1;
    }
    printf("%s\n", out);
    return 0;
}
