//go:build !unix

package fileio

// nonBlock is 0 where O_NONBLOCK does not exist; Open's stat still refuses what is not a
// regular file.
const nonBlock = 0
