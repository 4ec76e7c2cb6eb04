package data

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/nndl/cnn/internal/fileio"
)

// The CIFAR-10 binary version (cifar-10-binary.tar.gz, folder cifar-10-batches-bin): six
// files of 10,000 records; a record is one label byte (0-9) and the 32x32 colour image as
// 3,072 bytes, the red plane, then the green, then the blue, each row-major.
const (
	CIFARSide        = 32
	CIFARImageBytes  = 3 * CIFARSide * CIFARSide
	CIFARRecordBytes = 1 + CIFARImageBytes
	CIFARClasses     = 10
	// CIFARFileRecords is the number of records in each file of the binary version. A file
	// may hold fewer (a sample), never more: a larger one is refused before anything is
	// allocated for it.
	CIFARFileRecords = 10000
)

// The chapter's split (section 5.5): batches 1-4 train (40,000 images), batch 5 dev
// (10,000), the test batch test (10,000).
var (
	CIFARTrainFiles = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin"}
	CIFARDevFiles   = []string{"data_batch_5.bin"}
	CIFARTestFiles  = []string{"test_batch.bin"}
)

// The chapter's normalisation of CIFAR-10 (transforms.Normalize after scaling to [0, 1]),
// per channel R, G, B.
var (
	CIFARMean = [3]float32{0.4914, 0.4822, 0.4465}
	CIFARStd  = [3]float32{0.2023, 0.1994, 0.2010}
)

// CIFARNormalize maps a byte p of channel c to (p/255 - CIFARMean[c]) / CIFARStd[c],
// computed in float32 as the chapter's float32 tensors are.
func CIFARNormalize(p uint8, c int) float32 {
	return (float32(p)/255 - CIFARMean[c]) / CIFARStd[c]
}

// CIFARDir returns the folder that holds the batch files: dir itself, or its
// cifar-10-batches-bin subfolder (where the archive unpacks) when only that has them.
func CIFARDir(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, CIFARTrainFiles[0])); err != nil {
		sub := filepath.Join(dir, "cifar-10-batches-bin")
		if _, err := os.Stat(filepath.Join(sub, CIFARTrainFiles[0])); err == nil {
			return sub
		}
	}
	return dir
}

// CIFARRecords checks the size of a CIFAR-10 binary batch file and returns how many records
// it holds. It reads nothing: a file that is empty, not a regular file, not a whole number of
// records long or longer than CIFARFileRecords records is an error naming the file and the
// size or offset that is wrong.
func CIFARRecords(path string) (int, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("%s: no such file (want the CIFAR-10 binary version: %s, %s, %s)", path,
			"data_batch_1.bin ... data_batch_4.bin", CIFARDevFiles[0], CIFARTestFiles[0])
	}
	if err != nil {
		return 0, err // *PathError names the file
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("%s: not a regular file", path)
	}
	size := fi.Size()
	switch {
	case size == 0:
		return 0, fmt.Errorf("%s: empty file, want CIFAR-10 records of %d bytes", path, CIFARRecordBytes)
	case size%CIFARRecordBytes != 0:
		n := size / CIFARRecordBytes
		hint := ""
		if size%(CIFARRecordBytes+1) == 0 {
			hint = "; 3,074-byte records are the CIFAR-100 layout"
		}
		return 0, fmt.Errorf("%s: %d bytes is not a whole number of %d-byte CIFAR-10 records: the record at offset %d has %d of its %d bytes%s",
			path, size, CIFARRecordBytes, n*CIFARRecordBytes, size-n*CIFARRecordBytes, CIFARRecordBytes, hint)
	case size/CIFARRecordBytes > CIFARFileRecords:
		return 0, fmt.Errorf("%s: %d bytes is %d records, more than the %d of a CIFAR-10 batch file", path, size, size/CIFARRecordBytes, CIFARFileRecords)
	}
	return int(size / CIFARRecordBytes), nil
}

// ReadCIFAR reads n records from r into x (n*3,072 values, shape [n, 3, 32, 32], normalised
// with CIFARNormalize) and y (n labels). name is used in errors, which give the offset: a
// stream that ends early or a label outside 0-9 is an error. It reads one record at a
// time and allocates nothing in proportion to n.
func ReadCIFAR(r io.Reader, name string, n int, x []float32, y []int) error {
	if len(x) != n*CIFARImageBytes || len(y) != n {
		return fmt.Errorf("%s: %d records need %d values and %d labels, got buffers of %d and %d", name, n, n*CIFARImageBytes, n, len(x), len(y))
	}
	var rec [CIFARRecordBytes]byte
	br := bufio.NewReaderSize(r, 1<<16)
	plane := CIFARSide * CIFARSide
	for i := range n {
		off := int64(i) * CIFARRecordBytes
		if got, err := io.ReadFull(br, rec[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%s: offset %d: the data ends inside record %d (%d of %d bytes; %d records expected)", name, off+int64(got), i, got, CIFARRecordBytes, n)
			}
			return fmt.Errorf("%s: offset %d: %w", name, off, err)
		}
		if rec[0] >= CIFARClasses {
			return fmt.Errorf("%s: offset %d: record %d has label %d, not a CIFAR-10 class (0-9)", name, off, i, rec[0])
		}
		y[i] = int(rec[0])
		dst := x[i*CIFARImageBytes : (i+1)*CIFARImageBytes]
		for j, p := range rec[1:] {
			dst[j] = CIFARNormalize(p, j/plane)
		}
	}
	return nil
}

// LoadCIFAR reads the first n records (all when n < 0) of the given batch files in dir,
// one file after the other, as one dataset of 3x32x32 images normalised with
// CIFARNormalize. Every file is checked with CIFARRecords before anything is read or
// allocated; files past the first n records are checked but not read.
func LoadCIFAR(dir string, files []string, n int) (*Dataset, error) {
	counts := make([]int, len(files))
	total := 0
	for i, f := range files {
		c, err := CIFARRecords(filepath.Join(dir, f))
		if err != nil {
			return nil, err
		}
		counts[i] = c
		total += c
	}
	if n < 0 {
		n = total
	}
	if n > total {
		return nil, fmt.Errorf("%s: %d images wanted, the files %v hold %d", dir, n, files, total)
	}
	x := make([]float32, n*CIFARImageBytes)
	y := make([]int, n)
	done := 0
	for i, f := range files {
		k := min(counts[i], n-done)
		if k == 0 {
			break
		}
		if err := readCIFARFile(filepath.Join(dir, f), k, x[done*CIFARImageBytes:(done+k)*CIFARImageBytes], y[done:done+k]); err != nil {
			return nil, err
		}
		done += k
	}
	return NewDataset(x, y, 3, CIFARSide, CIFARSide)
}

func readCIFARFile(path string, n int, x []float32, y []int) error {
	f, _, err := fileio.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return ReadCIFAR(f, path, n, x, y)
}

// CIFAR10 loads the chapter's three splits from the binary version in dir (or its
// cifar-10-batches-bin subfolder): the first nTrain images of batches 1-4, nDev of batch 5
// and nTest of the test batch; a negative count takes them all (40,000, 10,000, 10,000).
// All six files are checked before any is read.
func CIFAR10(dir string, nTrain, nDev, nTest int) (train, dev, test *Dataset, err error) {
	dir = CIFARDir(dir)
	for _, files := range [][]string{CIFARTrainFiles, CIFARDevFiles, CIFARTestFiles} {
		for _, f := range files {
			if _, err := CIFARRecords(filepath.Join(dir, f)); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	if train, err = LoadCIFAR(dir, CIFARTrainFiles, nTrain); err != nil {
		return nil, nil, nil, err
	}
	if dev, err = LoadCIFAR(dir, CIFARDevFiles, nDev); err != nil {
		return nil, nil, nil, err
	}
	if test, err = LoadCIFAR(dir, CIFARTestFiles, nTest); err != nil {
		return nil, nil, nil, err
	}
	return train, dev, test, nil
}
