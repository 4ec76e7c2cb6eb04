package cli

import (
	"flag"
	"fmt"

	"github.com/nndl/cnn/data"
)

// dataFlags choose the dataset: the built-in chapter subset, or MNIST idx files in a folder.
type dataFlags struct {
	dir                  string
	train, dev, testSize int
}

func addDataFlags(fs *flag.FlagSet) *dataFlags {
	d := &dataFlags{}
	fs.StringVar(&d.dir, "data", "", "folder with the MNIST idx files (default: the chapter's subset built into the tool), or for CIFAR-10 models the binary version's data_batch_*.bin and test_batch.bin")
	fs.IntVar(&d.train, "train-size", data.ChapterTrain, "training images, from the start of the MNIST training set")
	fs.IntVar(&d.dev, "dev-size", data.ChapterDev, "dev images, from training image 50,000 on")
	fs.IntVar(&d.testSize, "test-size", data.ChapterTest, "test images, from the start of the MNIST test set")
	return d
}

// load returns the three splits, preprocessed for an h x w input.
func (d *dataFlags) load(h, w int) (train, dev, test *data.Dataset, err error) {
	var s *data.Splits
	if d.dir == "" {
		if d.train != data.ChapterTrain || d.dev != data.ChapterDev || d.testSize != data.ChapterTest {
			return nil, nil, nil, fmt.Errorf("--train-size/--dev-size/--test-size need --data DIR: the built-in subset is the chapter's 1,000/200/200")
		}
		s, err = data.ChapterSubset()
	} else {
		s, err = data.Split(d.dir, d.train, d.dev, d.testSize)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if err := s.CheckSize(h, w); err != nil {
		return nil, nil, nil, err
	}
	train, dev, test = s.Datasets(h, w)
	return train, dev, test, nil
}
