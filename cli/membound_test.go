package cli

import (
	"path/filepath"
	"runtime"
	"testing"
)

// TestTrainRefusesHugeDatasetBeforeAllocating: a model input whose dataset would not fit
// in data.MaxDatasetBytes is refused with one line before the dataset is allocated (the
// command below passed the model's checks, then died allocating 16 GB).
func TestTrainRefusesHugeDatasetBeforeAllocating(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	stdout, stderr, status := cnn("train", "resnet18", "--width", "8", "--shape", "1x2048x2048", "--batch", "1", "--out", out)
	runtime.ReadMemStats(&after)
	want := "cnn train: data: 1,400 images resized to 2048x2048 take 23,488,102,400 bytes as float32, more than the limit of 4,294,967,296 (4 GiB)\n"
	if status != 2 || stdout != "" || stderr != want {
		t.Errorf("status %d, stdout %q, stderr %q; want 2 and %q", status, stdout, stderr, want)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("allocated %d bytes before refusing, want at most 16 MiB", grew)
	}
}
