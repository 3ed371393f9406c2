// Proxy is a TCP proxy on package evnet: every connection accepted on
// -addr is relayed to a new connection to -to, on the same loop thread.
// Each direction has back-pressure (reading from one side pauses while
// the other side's output buffer is over -buffer bytes, and resumes once
// it is drained), a FIN from either side is passed on as a half-close
// while the other direction keeps flowing, and a reset or error on
// either side resets the other.
//
// Usage:
//
//	proxy -to HOST:PORT [-addr 127.0.0.1:0] [-threads n] [-poller name] [-buffer 262144] [-connect-timeout 5s] [-grace 500ms]
//
// It prints "listening on HOST:PORT" first; SIGTERM and SIGINT stop it.
package main
