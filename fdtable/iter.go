package fdtable

// AppendPolledBy appends to dst the fds whose polled masks contain thread
// tid (in either direction) and returns the extended slice. Backends use it
// to re-create their registrations after Fork and to forget them on Term.
func (t *Table) AppendPolledBy(dst []int, tid int) []int {
	if uint(tid) >= MaxThreads {
		return dst
	}
	bit := uint64(1) << tid
	for i := range t.chunks {
		c := t.chunks[i].Load()
		if c == nil {
			continue
		}
		for j := range c {
			if (c[j].pollRecv.Load()|c[j].pollSend.Load())&bit != 0 {
				dst = append(dst, i<<chunkShift+j)
			}
		}
	}
	return dst
}

// AppendOpen appends to dst the fds currently in the table.
func (t *Table) AppendOpen(dst []int) []int {
	for i := range t.chunks {
		c := t.chunks[i].Load()
		if c == nil {
			continue
		}
		for j := range c {
			if c[j].flags.Load()&fOpen != 0 {
				dst = append(dst, i<<chunkShift+j)
			}
		}
	}
	return dst
}

// ClearPolledBy clears thread tid's bits from every fd's polled masks and
// returns how many fds had one. Backends call it from Term, when their
// kernel registrations are gone.
func (t *Table) ClearPolledBy(tid int) int {
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
