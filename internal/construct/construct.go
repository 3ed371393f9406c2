package construct

import "github.com/evpoll/evpoll/poller"

// New wraps newP, a backend's exported constructor returning its own
// pointer type, as a poller.Backend.New. On error it returns a nil
// interface, never an interface holding a nil pointer, which the registry
// would take for a working instance.
func New[P poller.Poller](newP func(*poller.Context) (P, error)) func(*poller.Context) (poller.Poller, error) {
	return func(ctx *poller.Context) (poller.Poller, error) {
		p, err := newP(ctx)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
}
