//go:build unix

package fdtable

// clearPolledBy clears thread tid's bits from every fd's polled masks and
// returns how many fds had one. Backends call it from Term, when their
// kernel registrations are gone.
func (t *Table) clearPolledBy(tid int) int {
	if uint(tid) >= MaxThreads {
		return 0
	}
	bit := uint64(1) << tid
	n := 0
	for i := range t.chunks {
		c := t.chunks[i].Load()
		if c == nil {
			continue
		}
		for j := range c {
			e := &c[j]
			if (e.pollRecv.Load()|e.pollSend.Load())&bit != 0 {
				e.pollRecv.And(^bit)
				e.pollSend.And(^bit)
				n++
			}
		}
	}
	return n
}
