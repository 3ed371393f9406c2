// Httpd is a small HTTP/1.1 responder on package evnet: GET / (and HEAD
// and POST /) answers 200 with a fixed body, other paths 404. It keeps
// connections alive, answers pipelined requests in order, reads and
// discards Content-Length request bodies, answers a malformed request
// with 400 and closes, answers a header block over -max-header bytes
// with 431 and closes, closes connections idle for -idle, and closes
// connections whose request head, once started, is not complete within
// -header-timeout however steadily its bytes trickle in.
//
// Usage:
//
//	httpd [-addr 127.0.0.1:0] [-reload path] [-threads n] [-poller name] [-idle 5s] [-max-header 8192] [-header-timeout 10s] [-grace 500ms]
//
// It prints "listening on HOST:PORT" first; SIGTERM and SIGINT stop it.
// With -reload PATH it reloads seamlessly: a second httpd started with
// the same PATH receives the listening socket from the first over that
// Unix socket and serves it before the first stops accepting, so no
// connection is refused.
package main
