package data

import (
	"testing"
)

// TestDatasetSizeLimit: the bytes of the preprocessed splits are known before they are
// allocated, and sizes over MaxDatasetBytes are refused without allocating (the chapter's
// subset at 2048x2048 took 23 GB: it died allocating).
func TestDatasetSizeLimit(t *testing.T) {
	s, err := ChapterSubset()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		h, w int
		want string // "" when it fits
	}{
		{32, 32, ""},
		{875, 875, ""},
		{876, 876, "data: 1,400 images resized to 876x876 take 4,297,305,600 bytes as float32, more than the limit of 4,294,967,296 (4 GiB)"},
		{2048, 2048, "data: 1,400 images resized to 2048x2048 take 23,488,102,400 bytes as float32, more than the limit of 4,294,967,296 (4 GiB)"},
		{65536, 65536, "data: 1,400 images resized to 65536x65536 take 24,051,816,857,600 bytes as float32, more than the limit of 4,294,967,296 (4 GiB)"},
	}
	for _, tt := range tests {
		var err error
		grew := allocated(func() { err = s.CheckSize(tt.h, tt.w) })
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%dx%d: %v", tt.h, tt.w, err)
		case tt.want != "" && (err == nil || err.Error() != tt.want):
			t.Errorf("%dx%d: error %v, want %q", tt.h, tt.w, err, tt.want)
		}
		if grew > 4<<10 {
			t.Errorf("%dx%d: the check allocated %d bytes", tt.h, tt.w, grew)
		}
	}
	// DatasetBytes is what Datasets allocates for the values.
	var n int64
	grew := allocated(func() {
		train, dev, test := s.Datasets(40, 36)
		n = 4 * int64(len(train.X)+len(dev.X)+len(test.X))
	})
	if want := s.DatasetBytes(40, 36); n != want || int64(grew) < want || int64(grew) > want+want/8 {
		t.Errorf("Datasets(40, 36): %d bytes of values, %d allocated; DatasetBytes says %d", n, grew, want)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567", 100000: "100,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
