package kqueue

// hasUserFilter: on Linux the backend only runs over the emulation, which
// has EVFILT_USER; the tests exercise the pipe waker too.
const hasUserFilter = true
