//go:build !unix

package bench

// PeakRSSMiB returns 0: this system's peak resident set size is not read here.
func PeakRSSMiB() float64 { return 0 }
