// Package pollers registers every polling backend that builds on the
// target operating system. Import it for its side effect:
//
//	import _ "github.com/evpoll/evpoll/pollers"
//
// Programs that want a smaller build can import single backends instead,
// such as github.com/evpoll/evpoll/pollers/epoll.
package pollers
