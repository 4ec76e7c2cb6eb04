package data

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// cifarRecord builds one record: the label, then pixel (c, i, j) = pix(c, i, j).
func cifarRecord(label byte, pix func(c, i, j int) byte) []byte {
	b := []byte{label}
	for c := range 3 {
		for i := range 32 {
			for j := range 32 {
				b = append(b, pix(c, i, j))
			}
		}
	}
	return b
}

// writeCIFARDir writes the six batch files into dir, file k (0-5) holding n records whose
// label is (k + r) % 10 and whose pixels encode file, record, channel and position.
func writeCIFARDir(t *testing.T, dir string, n int) {
	t.Helper()
	files := append(append(append([]string{}, CIFARTrainFiles...), CIFARDevFiles...), CIFARTestFiles...)
	for k, name := range files {
		var b []byte
		for r := range n {
			b = append(b, cifarRecord(byte((k+r)%10), func(c, i, j int) byte { return byte(k*40 + r*7 + c*50 + i + j) })...)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCIFARNormalize checks the per-channel normalisation against values worked out by
// hand: (p/255 - mean)/std.
func TestCIFARNormalize(t *testing.T) {
	for _, c := range []struct {
		p    uint8
		ch   int
		want float64
	}{
		{255, 0, (1 - 0.4914) / 0.2023},         // 2.5140880
		{0, 1, -0.4822 / 0.1994},                // -2.4182548
		{51, 2, (0.2 - 0.4465) / 0.2010},        // 51/255 = 0.2: -1.2263682
		{128, 0, (128.0/255 - 0.4914) / 0.2023}, // 0.0522036
	} {
		if got := CIFARNormalize(c.p, c.ch); math.Abs(float64(got)-c.want) > 1e-6 {
			t.Errorf("CIFARNormalize(%d, %d) = %v, want %v", c.p, c.ch, got, c.want)
		}
	}
}

// TestReadCIFARLayout: a record's bytes are the label, then the R, G and B planes of 32x32,
// which become the [3, 32, 32] sample in the same order.
func TestReadCIFARLayout(t *testing.T) {
	rec := cifarRecord(7, func(c, i, j int) byte {
		switch {
		case c == 0 && i == 0 && j == 0:
			return 255
		case c == 1 && i == 5 && j == 31:
			return 0
		case c == 2 && i == 31 && j == 1:
			return 51
		}
		return 128
	})
	x := make([]float32, CIFARImageBytes)
	y := make([]int, 1)
	if err := ReadCIFAR(bytes.NewReader(rec), "one", 1, x, y); err != nil {
		t.Fatal(err)
	}
	if y[0] != 7 {
		t.Errorf("label %d, want 7", y[0])
	}
	at := func(c, i, j int) float32 { return x[c*1024+i*32+j] }
	for _, c := range []struct {
		c, i, j int
		want    float32
	}{
		{0, 0, 0, 2.5140880}, {1, 5, 31, -2.4182548}, {2, 31, 1, -1.2263682},
		{0, 0, 1, 0.0522036}, {1, 0, 0, (128.0/255 - 0.4822) / 0.1994}, {2, 31, 31, (128.0/255 - 0.4465) / 0.2010},
	} {
		if got := at(c.c, c.i, c.j); math.Abs(float64(got-c.want)) > 1e-6 {
			t.Errorf("x[%d,%d,%d] = %v, want %v", c.c, c.i, c.j, got, c.want)
		}
	}
}

// TestCIFAR10Splits: batches 1-4 in order are train, batch 5 dev, the test batch test;
// counts limit each split to its first images; the cifar-10-batches-bin subfolder is found.
func TestCIFAR10Splits(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "cifar-10-batches-bin")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeCIFARDir(t, dir, 3)
	train, dev, test, err := CIFAR10(root, -1, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	if train.N() != 12 || dev.N() != 3 || test.N() != 3 || train.C != 3 || train.H != 32 || train.W != 32 {
		t.Fatalf("splits of %d, %d, %d images of %v; want 12, 3, 3 of [3 32 32]", train.N(), dev.N(), test.N(), train.Shape())
	}
	// Train image 4 is record 1 of file 1 (data_batch_2): label (1+1)%10 = 2, pixel
	// (c=0, 0, 0) = 1*40 + 1*7 = 47.
	if train.Y[4] != 2 || train.Sample(4)[0] != CIFARNormalize(47, 0) {
		t.Errorf("train image 4: label %d, first value %v; want 2 and %v", train.Y[4], train.Sample(4)[0], CIFARNormalize(47, 0))
	}
	// Dev image 2: file 4, record 2: label 6; pixel (c=2, 1, 3) = 160 + 14 + 100 + 4 = 278 mod 256 = 22.
	if dev.Y[2] != 6 || dev.Sample(2)[2*1024+32+3] != CIFARNormalize(22, 2) {
		t.Errorf("dev image 2: label %d", dev.Y[2])
	}
	// Test image 0: file 5, record 0: label 5.
	if test.Y[0] != 5 || test.Sample(0)[0] != CIFARNormalize(200, 0) {
		t.Errorf("test image 0: label %d, first value %v", test.Y[0], test.Sample(0)[0])
	}

	train, dev, test, err = CIFAR10(dir, 5, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if train.N() != 5 || dev.N() != 1 || test.N() != 2 || train.Y[3] != 1 || train.Y[4] != 2 {
		t.Errorf("limited splits: %d, %d, %d images, train labels %v", train.N(), dev.N(), test.N(), train.Y)
	}
	if _, _, _, err := CIFAR10(dir, 13, -1, -1); err == nil || !strings.Contains(err.Error(), "13 images wanted") {
		t.Errorf("13 of 12 training images: error %v", err)
	}
}

// TestCIFARBadFiles: each broken file is a one-line error naming the file and the size or
// offset that is wrong.
func TestCIFARBadFiles(t *testing.T) {
	good := cifarRecord(3, func(c, i, j int) byte { return 9 })
	for _, c := range []struct {
		name  string
		file  string
		bytes []byte
		want  string
	}{
		{"truncated", "data_batch_2.bin", append(bytes.Repeat(good, 2), good[:100]...),
			"data_batch_2.bin: 6246 bytes is not a whole number of 3073-byte CIFAR-10 records: the record at offset 6146 has 100 of its 3073 bytes"},
		{"one byte short", "test_batch.bin", bytes.Repeat(good, 2)[:2*3073-1], "offset 3073 has 3072 of its 3073 bytes"},
		{"empty", "data_batch_5.bin", nil, "data_batch_5.bin: empty file"},
		{"CIFAR-100", "data_batch_1.bin", make([]byte, 2*3074), "CIFAR-100"},
		{"bad label", "data_batch_3.bin", append(append([]byte{}, good...), cifarRecord(10, func(c, i, j int) byte { return 0 })...),
			"data_batch_3.bin: offset 3073: record 1 has label 10, not a CIFAR-10 class"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeCIFARDir(t, dir, 2)
			path := filepath.Join(dir, c.file)
			if err := os.WriteFile(path, c.bytes, 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, _, err := CIFAR10(dir, -1, -1, -1)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line naming %s and %q", err, path, c.want)
			}
		})
	}

	dir := t.TempDir()
	writeCIFARDir(t, dir, 1)
	os.Remove(filepath.Join(dir, "data_batch_4.bin"))
	if _, _, _, err := CIFAR10(dir, -1, -1, -1); err == nil || !strings.Contains(err.Error(), "data_batch_4.bin: no such file (want the CIFAR-10 binary version") {
		t.Errorf("missing file: error %v", err)
	}
	os.Mkdir(filepath.Join(dir, "data_batch_4.bin"), 0o755)
	if _, _, _, err := CIFAR10(dir, -1, -1, -1); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a folder for a file: error %v", err)
	}
}

// TestCIFARRefusesHugeClaims: a (sparse) file far longer than a batch file is refused from
// its size, and a stream that holds less than it is said to is refused at the offset where
// it ends; neither allocates anything in proportion to the claim.
func TestCIFARRefusesHugeClaims(t *testing.T) {
	dir := t.TempDir()
	writeCIFARDir(t, dir, 1)
	huge := filepath.Join(dir, "data_batch_1.bin")
	f, err := os.OpenFile(huge, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	claimed := int64(CIFARRecordBytes) * 5_000_000 // 15 GB, sparse
	if err := f.Truncate(claimed); err != nil {
		f.Close()
		t.Skipf("cannot make a sparse file: %v", err)
	}
	f.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, _, _, err = CIFAR10(dir, -1, -1, -1)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), huge+": 15365000000 bytes is 5000000 records, more than the 10000 of a CIFAR-10 batch file") {
		t.Errorf("error %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("allocated %d bytes to refuse the file", grew)
	}

	// A reader told to expect 10,000 records that holds one and a half.
	rec := cifarRecord(1, func(c, i, j int) byte { return 0 })
	short := append(append([]byte{}, rec...), rec[:1000]...)
	x := make([]float32, CIFARFileRecords*CIFARImageBytes)
	y := make([]int, CIFARFileRecords)
	runtime.GC()
	runtime.ReadMemStats(&before)
	err = ReadCIFAR(bytes.NewReader(short), "short.bin", CIFARFileRecords, x, y)
	runtime.ReadMemStats(&after)
	if err == nil || err.Error() != "short.bin: offset 4073: the data ends inside record 1 (1000 of 3073 bytes; 10000 records expected)" {
		t.Errorf("error %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("allocated %d bytes reading a short stream", grew)
	}
	if err := ReadCIFAR(bytes.NewReader(rec), "r", 2, x[:10], y[:2]); err == nil || !strings.Contains(err.Error(), "buffers") {
		t.Errorf("wrong buffers: error %v", err)
	}
}
