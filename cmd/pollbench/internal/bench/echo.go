package bench

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/evpoll/evpoll/evnet"
	"github.com/evpoll/evpoll/fdtable"
	"github.com/evpoll/evpoll/internal/echobench"
	"github.com/evpoll/evpoll/loop"
)

// EchoReport is everything one -workload echo run measured.
type EchoReport struct {
	Machine  Machine `json:"machine"`
	Workload string  `json:"workload"`
	EchoSetup
	Conns   []int      `json:"conns"`
	Threads []int      `json:"threads"`
	Rows    []*EchoRow `json:"results"`
}

// EchoSetup is how an echo run measured: message size, time per sample,
// whether the client was pinned, and paired repeats.
type EchoSetup struct {
	MsgSize  int     `json:"message_bytes"`
	Duration float64 `json:"seconds_per_sample"`
	Pinned   bool    `json:"client_pinned_to_cpu1"`
	Count    int     `json:"count"`
}

// EchoRow is one server at one number of connections. Threads is the
// evnet loop's thread count, 0 for the net server (GOMAXPROCS).
type EchoRow struct {
	Server    string       `json:"server"`
	Threads   int          `json:"threads"`
	Conns     int          `json:"conns"`
	Samples   []EchoSample `json:"samples,omitempty"` // one per repeat
	CPURatios []float64    `json:"cpu_ratios,omitempty"`
	RTTRatios []float64    `json:"rtt_ratios,omitempty"`
	CPURatio  *Summary     `json:"cpu_ratio,omitempty"` // to net, of CPURatios
	RTTRatio  *Summary     `json:"rtt_ratio,omitempty"` // to net, of RTTRatios
	Error     string       `json:"error,omitempty"`
}

// EchoSample is one client run against one server.
type EchoSample struct {
	RoundTrips int64   `json:"round_trips"`
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"server_cpu_seconds"`
	PerSecond  float64 `json:"round_trips_per_second"`
	CPUus      float64 `json:"server_cpu_us_per_round_trip"`
}

// echoServer starts a server and returns its address and how to stop it.
type echoServer func() (addr string, stop func() error, err error)

// startNet is the reference server.
func startNet() (string, func() error, error) {
	s, err := echobench.StartNet()
	if err != nil {
		return "", nil, err
	}
	return s.Addr(), s.Close, nil
}

// echoHandler writes back what it reads.
type echoHandler struct{}

func (echoHandler) OnOpen(*evnet.Conn)             {}
func (echoHandler) OnData(c *evnet.Conn, p []byte) { c.Write(p) }
func (echoHandler) OnWritable(*evnet.Conn)         {}
func (echoHandler) OnClose(*evnet.Conn, error)     {}

// evnetServer returns an evnet echo server on a loop of threads threads,
// with a table sized for conns connections and this process's other fds:
// 1024 up to 768 connections, which select can serve too.
func evnetServer(threads, conns int) echoServer {
	return func() (string, func() error, error) {
		l, err := loop.New(loop.Config{Threads: threads, Table: fdtable.New(max(1024, conns+256))})
		if err != nil {
			return "", nil, err
		}
		ln, err := evnet.Listen(l, "tcp", "127.0.0.1:0", evnet.Options{Handler: echoHandler{}})
		if err != nil {
			l.Close()
			return "", nil, err
		}
		done := make(chan error, 1)
		go func() { done <- l.Run() }()
		stop := func() error {
			l.SoftStop()
			select {
			case err := <-done:
				return err
			case <-time.After(5 * time.Second):
				l.Stop()
				return errors.Join(errors.New("soft stop did not end the loop in 5 s"), <-done)
			}
		}
		return ln.Addr().String(), stop, nil
	}
}

// measureEcho fills rep: for each number of connections, -count paired
// repeats, each measuring net and then evnet on each thread count.
func measureEcho(o *options, rep *EchoReport) error {
	var errs []error
	for _, conns := range o.echo.conns {
		rows := []*EchoRow{{Server: "net", Conns: conns}}
		servers := []echoServer{startNet}
		for _, th := range o.echo.threads {
			rows = append(rows, &EchoRow{Server: "evnet", Threads: th, Conns: conns})
			servers = append(servers, evnetServer(th, conns))
		}
		for range o.count {
			for i, r := range rows {
				if r.Error != "" {
					continue
				}
				s, err := echoSample(servers[i], conns, o.echo.duration)
				if err != nil {
					r.Error = err.Error()
					errs = append(errs, fmt.Errorf("%s at conns=%d: %w", r.name(), conns, err))
					continue
				}
				r.Samples = append(r.Samples, s)
			}
		}
		for _, r := range rows[1:] {
			r.ratios(rows[0])
		}
		rep.Rows = append(rep.Rows, rows...)
	}
	return errors.Join(errs...)
}

// echoSample starts a server, measures it once and stops it.
func echoSample(start echoServer, conns int, d time.Duration) (EchoSample, error) {
	addr, stop, err := start()
	if err != nil {
		return EchoSample{}, err
	}
	res, err := echobench.Measure(addr, conns, d)
	if serr := stop(); err == nil && serr != nil {
		err = fmt.Errorf("stopping the server: %w", serr)
	}
	if err != nil {
		return EchoSample{}, err
	}
	return EchoSample{
		RoundTrips: res.RoundTrips, Seconds: res.Wall.Seconds(), CPUSeconds: res.CPU.Seconds(),
		PerSecond: res.PerSecond(), CPUus: res.CPUPerRoundTrip(),
	}, nil
}

// name is the row's label: net, or evnet/T for T loop threads.
func (r *EchoRow) name() string {
	if r.Server == "net" {
		return "net"
	}
	return fmt.Sprintf("evnet/%d", r.Threads)
}

// ratios fills r's ratios to base repeat by repeat, for the repeats both
// completed.
func (r *EchoRow) ratios(base *EchoRow) {
	n := min(len(r.Samples), len(base.Samples))
	if r.Error != "" || base.Error != "" || n == 0 {
		return
	}
	for i := range n {
		r.CPURatios = append(r.CPURatios, r.Samples[i].CPUus/base.Samples[i].CPUus)
		r.RTTRatios = append(r.RTTRatios, r.Samples[i].PerSecond/base.Samples[i].PerSecond)
	}
	r.CPURatio, r.RTTRatio = summarize(r.CPURatios), summarize(r.RTTRatios)
}

// medians returns the median round trips per second and CPU µs per round
// trip of r's samples.
func (r *EchoRow) medians() (perSec, cpuUS float64) {
	ps, cu := make([]float64, len(r.Samples)), make([]float64, len(r.Samples))
	for i, s := range r.Samples {
		ps[i], cu[i] = s.PerSecond, s.CPUus
	}
	return summarize(ps).Median, summarize(cu).Median
}

// runEcho runs -workload echo and writes its report.
func runEcho(stdout io.Writer, o *options) error {
	rep := &EchoReport{Machine: thisMachine(), Workload: "echo", EchoSetup: EchoSetup{
		MsgSize: echobench.MsgSize, Duration: o.echo.duration.Seconds(), Pinned: echobench.ClientPinned(), Count: o.count,
	}, Conns: o.echo.conns, Threads: o.echo.threads}
	merr := measureEcho(o, rep)
	if err := write(stdout, o.format, rep); err != nil {
		return fmt.Errorf("writing the results: %w", err)
	}
	if merr != nil {
		return fmt.Errorf("measurement failed: %w", merr)
	}
	return nil
}
