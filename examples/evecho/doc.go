// Evecho is the echo server of examples/echo written on package evnet
// instead of the raw loop and fd table: the listener, the spreading of
// connections over threads, the buffering of what a slow client does not
// read and the back-pressure are evnet's, so the program is its handler.
//
// Usage:
//
//	evecho [-addr 127.0.0.1:0] [-threads n] [-poller name] [-grace 500ms]
//
// It prints "listening on HOST:PORT" first. SIGUSR1 starts a soft stop
// (no new connections, open ones served until they close); SIGTERM and
// SIGINT do the same and exit after the grace period at the latest.
package main
