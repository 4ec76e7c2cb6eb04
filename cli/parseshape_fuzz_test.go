package cli

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// FuzzParseShape checks that no --input text makes parseShape panic, that an error is
// one line quoting the input, and that an accepted shape has three sizes from 1 to 65536
// that print back as CxHxW and parse to the same shape.
func FuzzParseShape(f *testing.F) {
	for _, s := range []string{"1x32x32", "3X224X224", " 1x28x28 ", "1x28", "1x2x3x4", "axbxc", "0x1x1", "-1x32x32",
		"65536x65536x65536", "65537x1x1", "+1x+2x+3", "01x002x0003", "1x32x32\n", "9223372036854775808x1x1", "", "x", "xx", "1xx1", "١x٢x٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		shape, err := parseShape(s)
		if err != nil {
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, fmt.Sprintf("%q: want CxHxW", s)) {
				t.Fatalf("parseShape(%q): error %q, want one line starting with the quoted input", s, msg)
			}
			if shape != nil {
				t.Fatalf("parseShape(%q): shape %v with an error", s, shape)
			}
			return
		}
		if len(shape) != 3 {
			t.Fatalf("parseShape(%q) = %v, want 3 sizes", s, shape)
		}
		for _, v := range shape {
			if v < 1 || v > 1<<16 {
				t.Fatalf("parseShape(%q) = %v: size out of 1..65536", s, shape)
			}
		}
		back, err := parseShape(fmt.Sprintf("%dx%dx%d", shape[0], shape[1], shape[2]))
		if err != nil || !slices.Equal(back, shape) {
			t.Fatalf("parseShape(%q) = %v, which prints back as %v, %v", s, shape, back, err)
		}
	})
}
