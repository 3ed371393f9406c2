//go:build unix

package fdtable

// each calls f for every entry of every allocated chunk, with its fd. It is
// the one walk over the table; none of its callers is on a hot path.
func (t *Table) each(f func(fd int, e *entry)) {
	for i := range t.chunks {
		c := t.chunks[i].Load()
		if c == nil {
			continue
		}
		for j := range c {
			f(i<<chunkShift+j, &c[j])
		}
	}
}

// clearPolledBy clears thread tid's bits from every fd's polled masks and
// returns how many fds had one: Attach and detach call it when a kernel
// object's registrations are gone.
func (t *Table) clearPolledBy(tid int) int {
	if uint(tid) >= MaxThreads {
		return 0
	}
	bit := uint64(1) << tid
	n := 0
	t.each(func(_ int, e *entry) {
		if (e.pollRecv.Load()|e.pollSend.Load())&bit != 0 {
			e.pollRecv.And(^bit)
			e.pollSend.And(^bit)
			n++
		}
	})
	return n
}
