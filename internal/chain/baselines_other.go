//go:build unix && !linux

package chain

// rawEpollBaseline is empty: epoll is Linux only.
var rawEpollBaseline []baseline
