package poller

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// checkGolden compares got with testdata/name.golden, or rewrites the file
// with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

var errTestFailed = errors.New("FD_SETSIZE exceeded")

// The listing cases of reference §3.3 and §15 A8-A10, plus Q7.
func TestWriteList(t *testing.T) {
	tests := []struct {
		golden  string
		setup   func(epoll, poll, sel *fake) // before registration
		disable []string                     // through registry.Disable
		env     map[string]string            // the same through the environment
		extra   []*fake                      // registered after the three
	}{
		{golden: "default"},
		{golden: "epoll_disabled", disable: []string{"epoll"}},
		{golden: "epoll_poll_disabled", disable: []string{"epoll", "poll"}},
		{golden: "select_failed", setup: func(_, _, sel *fake) { sel.testErr = errTestFailed }},
		// Q7: HAProxy prints "will use poll." here although poll is
		// disabled and nothing is usable.
		{golden: "q7_none_usable", disable: []string{"epoll", "poll"},
			setup: func(_, _, sel *fake) { sel.testErr = errTestFailed }},
		// Q7: the first poller of the top level fails its test, the
		// second one of the same level passes and is the one used.
		{golden: "q7_same_pref", setup: func(epoll, _, _ *fake) { epoll.testErr = errTestFailed },
			extra: []*fake{{name: "altpoll", pref: 300}}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			for _, viaEnv := range []bool{false, true} {
				if viaEnv && len(tt.disable) == 0 {
					continue
				}
				epoll, poll, sel := linuxFakes()
				if tt.setup != nil {
					tt.setup(epoll, poll, sel)
				}
				// HAProxy registers poll before epoll (reference §2.3):
				// it shows when both are disabled.
				r := newRegistry(t, append([]*fake{poll, epoll, sel}, tt.extra...)...)
				e := noEnv
				if viaEnv {
					e = env(map[string]string{EnvDisable: strings.Join(tt.disable, ",")})
				} else {
					for _, n := range tt.disable {
						if err := r.Disable(n); err != nil {
							t.Fatal(err)
						}
					}
				}
				var buf bytes.Buffer
				if err := r.WriteList(&buf, nil, e); err != nil {
					t.Fatalf("WriteList: %v", err)
				}
				if viaEnv {
					// The golden file was checked (or written) by the
					// Disable pass.
					checkGoldenNoUpdate(t, tt.golden, buf.Bytes())
				} else {
					checkGolden(t, tt.golden, buf.Bytes())
				}
				for _, f := range []*fake{epoll, poll, sel} {
					if f.tests.Load() != 1 {
						t.Errorf("%s's Test ran %d times, want 1", f.name, f.tests.Load())
					}
					if f.news.Load() != 0 {
						t.Errorf("WriteList constructed %s", f.name)
					}
				}
			}
		})
	}
}

func checkGoldenNoUpdate(t *testing.T, name string, got []byte) {
	t.Helper()
	want, err := os.ReadFile(filepath.Join("testdata", name+".golden"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("with EVPOLL_DISABLE: output differs from %s.golden\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// The "will use" backend of the listing is the one Open picks when every
// constructor succeeds and tests agree with them.
func TestWriteListAgreesWithOpen(t *testing.T) {
	for _, disable := range [][]string{nil, {"epoll"}, {"epoll", "poll"}} {
		epoll, poll, sel := linuxFakes()
		r := newRegistry(t, poll, epoll, sel)
		for _, n := range disable {
			_ = r.Disable(n)
		}
		var buf bytes.Buffer
		if err := r.WriteList(&buf, nil, noEnv); err != nil {
			t.Fatal(err)
		}
		b, _, err := r.Open(nil, noEnv)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(buf.String(), "will use "+b.Name+".\n") {
			t.Errorf("disabled %q: Open chose %s but the listing says\n%s", disable, b.Name, buf.String())
		}
	}
}

func TestWriteListForced(t *testing.T) {
	epoll, poll, sel := linuxFakes()
	r := newRegistry(t, poll, epoll, sel)
	var buf bytes.Buffer
	if err := r.WriteList(&buf, nil, env(map[string]string{EnvPoller: "select"})); err != nil {
		t.Fatal(err)
	}
	want := "Available polling systems :\n" +
		"     select : pref=150,  test result OK\n" +
		"       poll : disabled,  test result OK\n" +
		"      epoll : disabled,  test result OK\n" +
		"Total: 3 (1 usable), will use select.\n"
	if buf.String() != want {
		t.Errorf("EVPOLL_POLLER=select listing:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestWriteListEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := (&registry{}).WriteList(&buf, nil, noEnv); err != nil {
		t.Fatal(err)
	}
	want := "Available polling systems :\nTotal: 0 (0 usable), will use none.\n"
	if buf.String() != want {
		t.Errorf("empty registry listing %q, want %q", buf.String(), want)
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

func TestWriteListErrors(t *testing.T) {
	epoll, poll, sel := linuxFakes()
	r := newRegistry(t, poll, epoll, sel)
	errW := errors.New("disk full")
	if err := r.WriteList(failWriter{errW}, nil, noEnv); !errors.Is(err, errW) {
		t.Errorf("WriteList to a failing writer: %v, want %v", err, errW)
	}
	var buf bytes.Buffer
	err := r.WriteList(&buf, nil, env(map[string]string{EnvDisable: "devpoll"}))
	if !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), EnvDisable) {
		t.Errorf("WriteList with EVPOLL_DISABLE=devpoll: %v, want ErrUnknown naming %s", err, EnvDisable)
	}
	if buf.Len() != 0 {
		t.Errorf("WriteList wrote %q before failing", buf.String())
	}
}

// Field widths: names right-aligned on 10 characters (longer ones are not
// cut), prefs on 3.
func TestWriteListWidths(t *testing.T) {
	r := newRegistry(t, &fake{name: "verylongname", pref: 1000}, &fake{name: "tiny", pref: 5},
		&fake{name: "x", pref: 42, testErr: errTestFailed})
	var buf bytes.Buffer
	if err := r.WriteList(&buf, nil, noEnv); err != nil {
		t.Fatal(err)
	}
	want := "Available polling systems :\n" +
		" verylongname : pref=1000,  test result OK\n" +
		"          x : pref= 42,  test result FAILED\n" +
		"       tiny : pref=  5,  test result OK\n" +
		"Total: 3 (2 usable), will use verylongname.\n"
	if buf.String() != want {
		t.Errorf("listing:\n%s\nwant:\n%s", buf.String(), want)
	}
}
