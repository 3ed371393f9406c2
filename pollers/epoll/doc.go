// Package epoll implements poller.Poller with Linux epoll(7), after
// HAProxy's ev_epoll.c.
//
// Each thread gets its own epoll instance. Registrations follow HAProxy
// 2.2's rules: level-triggered, EPOLLIN|EPOLLRDHUP for reading and EPOLLOUT
// for writing, the sticky-read rule (an fd that is polled, or about to be,
// and not known readable is also polled for reading, so a later want costs
// no syscall), and lazy stop (an fd nobody wants any more is deregistered
// only after the kernel reports an event for it). The epoll data of each
// registration carries the fd and its fdtable generation: an event whose
// generation is no longer the fd's is dropped and counted, never delivered
// to the fd number's new user.
//
// epoll registers files, not fd numbers: a file closed through the table
// while another descriptor keeps it open (a dup, a child's inherited copy
// of an fd not marked cloned) stays registered, and a readable one would
// be reported on every cycle with no way to remove it by number (the busy
// loop of libuv #4323). When the same dead registration is reported on
// three consecutive cycles the instance rebuilds its epoll set from the
// polled masks ([Poller.Rebuilds] counts it). Marking such fds cloned
// (fdtable.Table.MarkCloned) avoids it altogether: they are deregistered
// before close.
//
// Importing the package registers the backend as "epoll" with preference
// 300. [New] builds an instance directly, without the registry.
package epoll
