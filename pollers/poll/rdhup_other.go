//go:build unix && !linux && !freebsd

package poll

// pollRDHUP is 0: this system's poll(2) has no POLLRDHUP, so a peer
// shutdown shows only as readability (and the backend never claims
// poller.FlagRDHUP).
const pollRDHUP = 0
