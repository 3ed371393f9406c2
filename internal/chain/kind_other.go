//go:build unix && !linux

package chain

import "fmt"

func (k Kind) supported() error {
	switch {
	case k == Eventfd:
		return errNoEventfd
	case k < Socketpair || k > Eventfd:
		return fmt.Errorf("chain: unknown kind %d", int(k))
	}
	return nil
}

func eventfd() (int, error) { return -1, errNoEventfd }
