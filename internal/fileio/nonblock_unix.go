//go:build unix

package fileio

import "syscall"

// nonBlock keeps opening a FIFO from waiting for a writer.
const nonBlock = syscall.O_NONBLOCK
