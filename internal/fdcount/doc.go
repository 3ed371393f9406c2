// Package fdcount counts the open file descriptors of the test process
// and of the programs the tests run, for the tests that run programs as
// processes.
package fdcount
