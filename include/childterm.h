/*
 * childterm.h: the C ABI of _childterm.so (lib/childterm/childterm.c), a
 * small plain-C library a recorded child process loads to make SIGTERM
 * reliable while its Python SIGTERM handler is in place. It never starts Go
 * and allocates nothing.
 *
 * Conventions:
 *  - Call from the process's main thread, after Python's own handler for
 *    SIGTERM is installed (signal.signal). Calls must not run concurrently.
 *  - Linux only: elsewhere dtt_install returns -1 and nothing changes.
 *  - After a fork, the child must call dtt_install again (timers are not
 *    inherited; the handler is).
 *  - A later signal.signal(SIGTERM, ...) replaces the handler and with it
 *    all of this: the process then behaves as plain Python does.
 */
#ifndef CHILDTERM_H
#define CHILDTERM_H

/*
 * dtt_install puts a handler in front of Python's for SIGTERM. Each SIGTERM
 * is passed to Python's handler, and SIGTERM is sent again to the process
 * every 20 ms until dtt_handled is called; after 2 s without it, the
 * process dies of SIGTERM by the default action. Returns 0, or -1 when
 * nothing was installed (no Python handler in place, no timer, not Linux).
 */
int dtt_install(void);

/*
 * dtt_handled tells that Python's handler is running: no more repeats, no
 * forced death. Safe to call when dtt_install failed or was never called.
 */
void dtt_handled(void);

#endif
