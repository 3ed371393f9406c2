package chain

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// netRunner is a baseline: one goroutine per registered fd blocked in
// Read on an *os.File, so Go's runtime netpoller does the polling.
type netRunner struct {
	cfg    Config
	c      *chans
	files  []*os.File // indexed by fd
	writes atomic.Int64
	fired  atomic.Int64
	want   atomic.Int64
	done   chan struct{}
	timer  *time.Timer
	wg     sync.WaitGroup
}

func newNetpoller(cfg Config) (Runner, error) {
	c, err := open(cfg)
	if err != nil {
		return nil, err
	}
	r := &netRunner{cfg: cfg, c: c, done: make(chan struct{}, 1), files: make([]*os.File, c.maxFD+1)}
	for _, fd := range c.owned {
		// A non-blocking fd given to os.NewFile is registered with the
		// runtime's netpoller; the File owns it from here on.
		r.files[fd] = os.NewFile(uintptr(fd), "chain")
	}
	c.owned = nil
	for _, fd := range c.fds {
		r.wg.Add(1)
		go r.reader(r.files[fd], r.files[c.out[fd]])
	}
	return r, nil
}

func (r *netRunner) reader(in, out *os.File) {
	defer r.wg.Done()
	buf := make([]byte, len(r.c.msg))
	for {
		if _, err := in.Read(buf); err != nil {
			return
		}
		if r.writes.Add(-1) >= 0 {
			out.Write(r.c.msg)
		}
		if r.fired.Add(1) == r.want.Load() {
			r.done <- struct{}{}
		}
	}
}

func (r *netRunner) Round() (int, error) {
	r.fired.Store(0)
	r.want.Store(int64(r.cfg.Active + r.cfg.Writes))
	r.writes.Store(int64(r.cfg.Writes))
	space := len(r.c.fds) / r.cfg.Active
	for k := 0; k < r.cfg.Active; k++ {
		r.files[r.c.wfd[r.c.fds[k*space]]].Write(r.c.msg)
	}
	if r.timer == nil {
		r.timer = time.NewTimer(roundTimeout)
	} else {
		r.timer.Reset(roundTimeout)
	}
	select {
	case <-r.done:
		r.timer.Stop()
		return int(r.fired.Load()), nil
	case <-r.timer.C:
		return int(r.fired.Load()), errors.New("chain: netpoller: round stalled")
	}
}

func (r *netRunner) Close() error {
	var errs []error
	for _, f := range r.files {
		if f != nil {
			if err := f.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	r.wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("chain: netpoller: %w", err)
	}
	return nil
}
