package evnet

import (
	"os"
	"testing"

	"github.com/evpoll/evpoll/internal/echobench"
	"go.uber.org/goleak"
)

// No test may leave a goroutine behind. The test binary doubles as the
// echo client process of BenchmarkEchoCPU and as the
// server process of TestAcceptEMFILEStorm.
func TestMain(m *testing.M) {
	echobench.ClientMain()
	if spec := os.Getenv(stormServerEnv); spec != "" {
		os.Exit(runStormServer(spec))
	}
	goleak.VerifyTestMain(m)
}
