package cli

import (
	"fmt"

	"github.com/nndl/cnn/data"
)

// The datasets cnn train reads.
const (
	datasetMNIST = "mnist"
	datasetCIFAR = "cifar10"
)

// defaultDataset is the dataset a model trains on without --dataset.
func defaultDataset(model string) string {
	if model == "resnet18-cifar" {
		return datasetCIFAR
	}
	return datasetMNIST
}

// recipe is a dataset's training schedule: the defaults of the train flags not given.
type recipe struct {
	optimizer           string
	lr, weightDecay     float64
	epochs              int
	logSteps, evalSteps int
}

// cifarRecipe is the chapter's CIFAR-10 recipe (section 5.5): Adam with lr 0.001 and L2
// weight decay 0.005, 30 epochs of batches of 64, evaluation every 3,000 steps.
var cifarRecipe = recipe{optimizer: "adam", lr: 0.001, weightDecay: 0.005, epochs: 30, logSteps: 100, evalSteps: 3000}

// loadCIFAR reads the CIFAR-10 binary version from --data: the chapter's split, all of it,
// or the first --train-size/--dev-size/--test-size images of each split when those are given.
func loadCIFAR(df *dataFlags, isSet func(string) bool) (train, dev, test *data.Dataset, err error) {
	if df.dir == "" {
		return nil, nil, nil, fmt.Errorf("cifar10 needs --data DIR: the folder of the CIFAR-10 binary version (data_batch_1.bin ... data_batch_5.bin, test_batch.bin), which is not built in")
	}
	sizes := [3]int{-1, -1, -1}
	for i, f := range []struct {
		name string
		v    int
	}{{"train-size", df.train}, {"dev-size", df.dev}, {"test-size", df.testSize}} {
		if isSet(f.name) {
			if f.v < 1 {
				return nil, nil, nil, fmt.Errorf("--%s %d: want at least 1", f.name, f.v)
			}
			sizes[i] = f.v
		}
	}
	return data.CIFAR10(df.dir, sizes[0], sizes[1], sizes[2])
}
