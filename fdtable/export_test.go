package fdtable

import "unsafe"

// Internal sizes, for the memory tests in package fdtable_test.
const (
	ChunkEntries = chunkSize
	ChunkBytes   = unsafe.Sizeof(chunk{})
)
