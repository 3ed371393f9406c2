package poller

import "fmt"

// Fork prepares a thread's poller for life in a child process (HAProxy:
// fork_poller): every open fd is marked cloned, so close hooks deregister
// it explicitly before close, then the poller re-creates its kernel
// objects and registers every wanted fd on them. Unlike HAProxy, which
// ignores a failing fork hook, the poller is then terminated and the error
// returned; a new instance created with its backend's New serves the
// thread's fds again with no further help.
func Fork(ctx *Context, p Poller) error {
	ctx.Table.MarkCloned()
	if err := p.Fork(); err != nil {
		p.Close()
		return fmt.Errorf("poller: fork: %w", err)
	}
	return nil
}
