package chain

var rawEpollBaseline = []baseline{{RawEpoll, newRawEpoll}}
