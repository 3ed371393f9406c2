// Package wakepipe is the self-pipe that backends without a kernel wake-up
// event use as their cross-thread waker: kqueue on NetBSD and OpenBSD,
// evports everywhere. Wakes coalesce until the poller drains the pipe.
package wakepipe
