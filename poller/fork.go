package poller

import "fmt"

// Fork prepares a thread's poller for life in a child process
// (fork_poller, reference §3.6): every open fd is marked cloned, so close
// hooks deregister it explicitly before close, then the poller re-creates
// its kernel objects. Unlike HAProxy (quirk Q9), a failing Fork is not
// ignored: the poller is terminated and the error returned, so the caller
// must open a new one.
func Fork(ctx *Context, p Poller) error {
	ctx.Table.MarkCloned()
	if err := p.Fork(); err != nil {
		p.Term()
		return fmt.Errorf("poller: fork: %w", err)
	}
	return nil
}
