// Package cli is the command-line skeleton shared by the evnet examples:
// the -addr, -threads and -poller flags, the loop they configure, the
// "listening on" line and the stop signals.
package cli

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/evpoll/evpoll/evnet"
	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/loop"
	"github.com/evpoll/evpoll/poller"
	_ "github.com/evpoll/evpoll/pollers" // every backend of this OS
)

// Program describes one example program.
type Program struct {
	// Name is the program's name, for messages.
	Name string
	// Flags, if set, registers the program's own flags.
	Flags func(fs *flag.FlagSet)
	// Check, if set, validates the program's own flags after parsing;
	// its error should name the flag.
	Check func() error
	// Options returns the options of the program's TCP listener, read
	// after the flags are parsed.
	Options func() evnet.Options
}

// Run is the whole program: it parses args, builds the loop, opens the
// listener, prints "listening on HOST:PORT" and runs until stopped. It
// returns the exit status: 0 after a stop, 1 on a run-time error, 2 on a
// bad flag. SIGTERM and SIGINT start a soft stop that becomes a hard stop
// after the -grace period; SIGUSR1 starts a soft stop alone. With -reload
// PATH, a process takes the listening socket over from the one serving
// PATH, if any, which then soft-stops (see reload.go).
func (p Program) Run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(p.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "TCP `address` to listen on")
	threads := fs.Int("threads", 0, "number of polling threads (0: GOMAXPROCS)")
	backend := fs.String("poller", "", "polling `backend` to use (default: the best available)")
	reload := fs.String("reload", "", "Unix socket `path` for seamless reloads: take the listener over from the process serving it, then serve it for the next")
	grace := fs.Duration("grace", 500*time.Millisecond, "how long SIGTERM or SIGINT lets open connections finish")
	if p.Flags != nil {
		p.Flags(fs)
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, p.Name+": "+format+"\n", a...)
		return 2
	}
	if fs.NArg() != 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	if *threads < 0 || *threads > fdtable.MaxThreads {
		return bad("-threads %d: want 0..%d", *threads, fdtable.MaxThreads)
	}
	if *grace < 0 {
		return bad("-grace %v: want a positive duration", *grace)
	}
	if p.Check != nil {
		if err := p.Check(); err != nil {
			return bad("%v", err)
		}
	}
	cfg := loop.Config{Threads: *threads}
	if *backend != "" {
		b, err := poller.Lookup(*backend)
		if err != nil {
			return bad("-poller: %v", err)
		}
		cfg.Backend = &b
		if b.Name == "select" {
			// select cannot watch fds at or above FD_SETSIZE.
			cfg.Table = fdtable.New(1024)
		}
	}
	l, err := loop.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", p.Name, err)
		return 1
	}
	var ln *evnet.Listener
	var ctl *reloader
	if *reload != "" {
		ln, ctl, err = takeOver(l, *reload, p.Options())
		if err != nil {
			l.Close()
			return bad("-reload %s: %v", *reload, err)
		}
	}
	if ln == nil {
		if ln, err = evnet.Listen(l, "tcp", *addr, p.Options()); err != nil {
			l.Close()
			return bad("-addr %s: %v", *addr, err)
		}
	}
	if ctl != nil {
		defer ctl.close()
		go ctl.serve(l, ln, stderr)
	}
	stopOn(l, *grace)
	fmt.Fprintf(stdout, "listening on %s\n", hostPort(ln.Addr()))
	if f, ok := stdout.(*os.File); ok {
		f.Sync()
	}
	if err := l.Run(); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", p.Name, err)
		return 1
	}
	return 0
}

// stopOn registers the stop signals.
func stopOn(l *loop.Loop, grace time.Duration) {
	soft := func(syscall.Signal, int) { l.SoftStop() }
	hard := func(syscall.Signal, int) {
		if l.Stopping() {
			l.Kill()
			l.Kill()
			return
		}
		l.SoftStop()
		time.AfterFunc(grace, func() { l.Kill(); l.Kill() })
	}
	l.HandleSignal(syscall.SIGUSR1, soft)
	l.HandleSignal(syscall.SIGTERM, hard)
	l.HandleSignal(syscall.SIGINT, hard)
	l.HandleSignal(syscall.SIGPIPE, func(syscall.Signal, int) {})
}

func hostPort(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return net.JoinHostPort(ta.IP.String(), fmt.Sprint(ta.Port))
	}
	return a.String()
}
