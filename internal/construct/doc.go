// Package construct builds the parts of a backend registration record
// that every backend would otherwise write again: Backend.New around a
// typed constructor (optionally wrapping the instance) and a Backend.Test
// that opens and closes one kernel object.
package construct
