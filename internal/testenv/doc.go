// Package testenv builds the fixture the backends' own tests share: a
// table, one thread, its context, a poller instance and socket pairs that
// are cleaned up with the test.
package testenv
