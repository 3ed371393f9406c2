package fdtable

import "unsafe"

// Internal sizes, for the memory tests in package fdtable_test.
const (
	ChunkEntries = chunkSize
	ChunkBytes   = unsafe.Sizeof(chunk{})
)

// SetDispatchHook sets the hook run inside Dispatch between its first
// checks and the delivery, and returns a function restoring it.
func SetDispatchHook(f func(fd int)) (restore func()) {
	old := testHookDispatch
	testHookDispatch = f
	return func() { testHookDispatch = old }
}
