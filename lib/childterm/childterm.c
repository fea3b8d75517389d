/*
 * childterm: makes SIGTERM end a recorded child process even when Python
 * cannot run its handler at once. Built as its own small shared library
 * (_childterm.so, plain C, no Go: a child never starts the Go runtime) and
 * called through _ctypes from pytest_difftest/child.py. Linux only; the
 * contract is in include/childterm.h.
 *
 * Why: a recorded child handles SIGTERM in Python, to write its report
 * before it dies (child.py). Python runs a handler only between bytecodes or
 * when a blocking call returns EINTR. A SIGTERM that lands after the last
 * check and before the main thread blocks (multiprocessing's Pool.terminate()
 * hits an idle worker exactly there, about once in a hundred pools), or one
 * delivered to another thread, or one that comes while the main thread sits
 * in C code that retries on EINTR, is noted and then never handled: the
 * process lives on, and whoever sent the signal waits for it forever. With
 * the default action the kernel would have ended it at once.
 *
 * So this handler, put in front of Python's, passes each SIGTERM on to
 * Python and arms a timer that sends SIGTERM again every KICK_NS. A repeat
 * interrupts the blocking call (the main thread gets process-directed
 * signals first), and Python runs its handler, which calls dtt_handled().
 * If Python has not taken it after MAX_KICKS repeats, the process dies of
 * SIGTERM as it would have without us (no report: the parent then keeps the
 * test selected).
 */
#include "../../include/childterm.h"

#if defined(__linux__)

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

enum {
	KICK_NS = 20 * 1000 * 1000,
	MAX_KICKS = 100, /* 2 s */
};

static struct sigaction python_handler;
static timer_t kick_timer;
static int have_timer;
/* -1: Python's handler has run (dtt_handled); otherwise repeats so far. */
static volatile sig_atomic_t kicks;

static void arm(long ns)
{
	struct itimerspec when;

	if (!have_timer) {
		return;
	}
	memset(&when, 0, sizeof when);
	when.it_value.tv_nsec = ns;
	timer_settime(kick_timer, 0, &when, NULL); /* async-signal-safe */
}

static void die_by_default(void)
{
	struct sigaction dfl;

	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGTERM, &dfl, NULL);
	/* Blocked while this handler runs: delivered, and fatal, on return. */
	raise(SIGTERM);
}

static void on_term(int sig, siginfo_t *info, void *ctx)
{
	int saved = errno;

	if (kicks >= MAX_KICKS) {
		die_by_default();
		errno = saved;
		return;
	}
	if (python_handler.sa_flags & SA_SIGINFO) {
		python_handler.sa_sigaction(sig, info, ctx);
	} else if (python_handler.sa_handler != SIG_DFL && python_handler.sa_handler != SIG_IGN) {
		python_handler.sa_handler(sig);
	}
	if (kicks >= 0) {
		kicks++;
		arm(KICK_NS);
	}
	errno = saved;
}

/* A forked process inherits the handler (and python_handler) but not the
 * timer: each process makes its own. */
static int new_timer(void)
{
	struct sigevent ev;

	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGTERM;
	have_timer = 0;
	if (timer_create(CLOCK_MONOTONIC, &ev, &kick_timer) != 0) {
		return -1;
	}
	have_timer = 1;
	kicks = 0;
	return 0;
}

int dtt_install(void)
{
	struct sigaction current, ours;

	if (sigaction(SIGTERM, NULL, &current) != 0) {
		return -1;
	}
	if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == on_term) {
		return new_timer(); /* forked: ours already, in front of Python's */
	}
	if (!(current.sa_flags & SA_SIGINFO) &&
	    (current.sa_handler == SIG_DFL || current.sa_handler == SIG_IGN)) {
		return -1; /* Python's handler must be in place first */
	}
	if (new_timer() != 0) {
		return -1;
	}
	python_handler = current;
	memset(&ours, 0, sizeof ours);
	ours.sa_sigaction = on_term;
	/* Python's flags (no SA_RESTART: its EINTR handling stays as it was). */
	ours.sa_flags = (python_handler.sa_flags & ~SA_RESETHAND) | SA_SIGINFO;
	ours.sa_mask = python_handler.sa_mask;
	if (sigaction(SIGTERM, &ours, NULL) != 0) {
		timer_delete(kick_timer);
		have_timer = 0;
		return -1;
	}
	return 0;
}

void dtt_handled(void)
{
	kicks = -1;
	arm(0);
}

#else

int dtt_install(void)
{
	return -1;
}

void dtt_handled(void)
{
}

#endif
