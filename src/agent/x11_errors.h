/*
 * x11_errors.h - Xlib's error handlers for the whole agent.
 *
 * Xlib keeps one protocol-error handler and one I/O-error handler per
 * process, and its defaults exit(). The desktop session and the consent
 * windows both talk to X from several threads, so the agent installs one
 * tolerant pair, once, before any display is opened: a protocol error is
 * recorded for the thread that made the request, a broken connection
 * leaves its Display dead (every later call on it fails at once) and the
 * process running. Each Display still needs XSetIOErrorExitHandler() for
 * its own owner to learn that it broke.
 */
#ifndef MESH_AGENT_X11_ERRORS_H
#define MESH_AGENT_X11_ERRORS_H

/* The last protocol error code seen on this thread (1 when the server
 * sent 0); the caller clears it before the requests it checks. */
extern _Thread_local int x11_error;

/* Installs the handlers; any thread, any number of times. */
void x11_errors_install(void);

#endif
