//go:build unix

package userset

import (
	"testing"

	"github.com/evpoll/evpoll/fdtable"
	"github.com/stretchr/testify/assert"
)

func TestDesired(t *testing.T) {
	for _, tt := range []struct {
		st         fdtable.State
		ours       bool
		recv, send bool
	}{
		{0, true, false, false},
		{fdtable.ReadyR | fdtable.ReadyW, true, false, false},
		{fdtable.ActiveR, true, true, false},
		{fdtable.ActiveW, true, false, true}, // no sticky read
		{fdtable.ActiveRW | fdtable.ReadyR | fdtable.ReadyW, true, true, true},
		{fdtable.ActiveRW, false, false, false},
	} {
		r, s := Desired(tt.st, tt.ours)
		assert.Equal(t, [2]bool{tt.recv, tt.send}, [2]bool{r, s}, "Desired(%v, ours %v)", tt.st, tt.ours)
	}
}
