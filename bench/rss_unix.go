//go:build unix

package bench

import (
	"runtime"
	"syscall"
)

// PeakRSSMiB returns the process's peak resident set size, or 0 where the system does not
// say.
func PeakRSSMiB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return float64(ru.Maxrss) / (1 << 20) // bytes on macOS
	}
	return float64(ru.Maxrss) / 1024 // kilobytes on Linux and the BSDs
}
