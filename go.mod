module github.com/evpoll/evpoll

go 1.26.8

require golang.org/x/sys v0.50.0

require (
	github.com/google/go-cmp v0.7.0 // indirect
	go.uber.org/goleak v1.3.0 // indirect
	pgregory.net/rapid v1.3.0 // indirect
)
