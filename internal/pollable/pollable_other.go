//go:build !unix

package pollable
