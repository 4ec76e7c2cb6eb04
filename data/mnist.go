package data

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// The chapter's subset of MNIST: the first ChapterTrain training images, ChapterDev
// training images from DevStart on, and the first ChapterTest test images.
const (
	ChapterTrain = 1000
	ChapterDev   = 200
	ChapterTest  = 200
	DevStart     = 50000 // the chapter's dev split starts at this index of the training set
	ChapterSize  = 32    // the chapter resizes the 28x28 digits to 32x32
)

// MNIST file names in a data directory; each may also be gzip-compressed with a .gz suffix.
const (
	TrainImagesFile = "train-images-idx3-ubyte"
	TrainLabelsFile = "train-labels-idx1-ubyte"
	TestImagesFile  = "t10k-images-idx3-ubyte"
	TestLabelsFile  = "t10k-labels-idx1-ubyte"
)

// Splits is a train/dev/test split of raw images.
type Splits struct {
	Train, Dev, Test *Raw
}

// Datasets preprocesses the three splits with Raw.Dataset (resize to h x w, normalise).
// CheckSize tells beforehand whether they fit in MaxDatasetBytes.
func (s *Splits) Datasets(h, w int) (train, dev, test *Dataset) {
	return s.Train.Dataset(h, w), s.Dev.Dataset(h, w), s.Test.Dataset(h, w)
}

// MaxDatasetBytes bounds the float32 values that Datasets makes of the three splits
// together: 4 GiB, the same bound as a model's activations (graph.MaxActivationElements),
// is the full MNIST (70,000 images) up to 123x123 pixels, and the chapter's subset (1,400)
// up to 875x875.
const MaxDatasetBytes = 4 << 30

// DatasetBytes returns the bytes of float32 values Datasets(h, w) allocates.
func (s *Splits) DatasetBytes(h, w int) int64 {
	n := int64(s.Train.N() + s.Dev.N() + s.Test.N())
	return 4 * n * int64(h) * int64(w)
}

// CheckSize returns an error if Datasets(h, w) would allocate more than
// MaxDatasetBytes, before anything is allocated.
func (s *Splits) CheckSize(h, w int) error {
	if b := s.DatasetBytes(h, w); b > MaxDatasetBytes {
		n := s.Train.N() + s.Dev.N() + s.Test.N()
		return fmt.Errorf("data: %s images resized to %dx%d take %s bytes as float32, more than the limit of %s (4 GiB)",
			thousands(int64(n)), h, w, thousands(b), thousands(MaxDatasetBytes))
	}
	return nil
}

// thousands writes n with commas between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Split reads the four MNIST idx files from dir and returns the first trainN training
// images as train, devN training images from index DevStart on as dev, and the
// first testN test images as test. Each file is looked up as NAME.gz, then NAME. It is
// an error if the sizes do not fit: trainN above DevStart (train would overlap dev),
// DevStart+devN above the training set's size, or testN above the test set's size.
func Split(dir string, trainN, devN, testN int) (*Splits, error) {
	if trainN < 0 || devN < 0 || testN < 0 {
		return nil, fmt.Errorf("data: split sizes %d/%d/%d: must not be negative", trainN, devN, testN)
	}
	if trainN > DevStart {
		return nil, fmt.Errorf("data: %d training images would overlap the dev split starting at %d", trainN, DevStart)
	}
	train, err := loadPair(dir, TrainImagesFile, TrainLabelsFile)
	if err != nil {
		return nil, err
	}
	test, err := loadPair(dir, TestImagesFile, TestLabelsFile)
	if err != nil {
		return nil, err
	}
	if DevStart+devN > train.N() {
		return nil, fmt.Errorf("data: dev split %d..%d does not fit the %d training images in %s", DevStart, DevStart+devN, train.N(), dir)
	}
	if testN > test.N() {
		return nil, fmt.Errorf("data: %d test images asked for, %s has %d", testN, dir, test.N())
	}
	if test.H != train.H || test.W != train.W {
		return nil, fmt.Errorf("data: test images are %dx%d, training images %dx%d", test.H, test.W, train.H, train.W)
	}
	return &Splits{
		Train: train.slice(0, trainN),
		Dev:   train.slice(DevStart, DevStart+devN),
		Test:  test.slice(0, testN),
	}, nil
}

// slice returns a copy of images lo..hi.
func (r *Raw) slice(lo, hi int) *Raw {
	n := r.H * r.W
	return &Raw{
		H: r.H, W: r.W,
		Pix:    append([]uint8(nil), r.Pix[lo*n:hi*n]...),
		Labels: append([]int(nil), r.Labels[lo:hi]...),
	}
}

// loadPair reads an images file and its labels file from dir.
func loadPair(dir, images, labels string) (*Raw, error) {
	ip, err := find(dir, images)
	if err != nil {
		return nil, err
	}
	lp, err := find(dir, labels)
	if err != nil {
		return nil, err
	}
	im, err := LoadIDX(ip)
	if err != nil {
		return nil, err
	}
	lb, err := LoadIDX(lp)
	if err != nil {
		return nil, err
	}
	return pairRaw(im, lb, ip, lp)
}

// find returns dir/name.gz or dir/name, whichever exists.
func find(dir, name string) (string, error) {
	for _, p := range []string{filepath.Join(dir, name+".gz"), filepath.Join(dir, name)} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("data: neither %s.gz nor %s found in %s", name, name, dir)
}

// pairRaw checks that im holds images and lb as many labels, all in 0..9.
func pairRaw(im, lb *IDX, imName, lbName string) (*Raw, error) {
	if im.Magic != MagicImages {
		return nil, fmt.Errorf("%s: holds labels (magic 0x%08x), want images (magic 0x%08x)", imName, im.Magic, MagicImages)
	}
	if lb.Magic != MagicLabels {
		return nil, fmt.Errorf("%s: holds images (magic 0x%08x), want labels (magic 0x%08x)", lbName, lb.Magic, MagicLabels)
	}
	if im.N() != lb.N() {
		return nil, fmt.Errorf("%s: %d labels for the %d images of %s", lbName, lb.N(), im.N(), imName)
	}
	labels := make([]int, lb.N())
	for i, l := range lb.Data {
		if l > 9 {
			return nil, fmt.Errorf("%s: label %d at offset %d (item %d): want 0..9", lbName, l, 8+i, i)
		}
		labels[i] = int(l)
	}
	return &Raw{H: im.Dims[1], W: im.Dims[2], Pix: im.Data, Labels: labels}, nil
}

// The chapter subset, built into the binary: 1,400 images and labels in idx format,
// train (1000) then dev (200) then test (200). Regenerate with go generate.
//
//go:generate go run ./internal/gen -out chapter
//go:embed chapter/images-idx3-ubyte.gz chapter/labels-idx1-ubyte.gz
var chapterFS embed.FS

// ChapterSubset returns the chapter's split (train = training images 0..999, dev =
// training images 50000..50199, test = test images 0..199) from the copy built into the
// binary; no MNIST files are needed.
func ChapterSubset() (*Splits, error) {
	read := func(name string) (*IDX, error) {
		b, err := chapterFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		return ReadIDX(bytes.NewReader(b), "embedded "+name)
	}
	im, err := read("chapter/images-idx3-ubyte.gz")
	if err != nil {
		return nil, err
	}
	lb, err := read("chapter/labels-idx1-ubyte.gz")
	if err != nil {
		return nil, err
	}
	all, err := pairRaw(im, lb, "embedded images", "embedded labels")
	if err != nil {
		return nil, err
	}
	if all.N() != ChapterTrain+ChapterDev+ChapterTest {
		return nil, fmt.Errorf("data: embedded subset has %d images, want %d", all.N(), ChapterTrain+ChapterDev+ChapterTest)
	}
	return &Splits{
		Train: all.slice(0, ChapterTrain),
		Dev:   all.slice(ChapterTrain, ChapterTrain+ChapterDev),
		Test:  all.slice(ChapterTrain+ChapterDev, all.N()),
	}, nil
}
