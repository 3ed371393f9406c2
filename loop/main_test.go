package loop

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test must leave no goroutine behind: Run's threads and its signal
// goroutine end when it returns.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
