package poll

import "golang.org/x/sys/unix"

// pollRDHUP is POLLRDHUP: the peer closed its write side.
const pollRDHUP = unix.POLLRDHUP
