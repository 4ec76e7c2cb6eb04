package trainer_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/data"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/trainer"
	"github.com/nndl/cnn/viz"
)

// A model of one's own, start to end: declared, summarised and drawn before anything runs,
// trained with the Runner, saved, loaded into a new store before any compile, and used to
// predict. The data: 3x8x8 images whose class is the brightest of their three channels.
func Example() {
	m := graph.Model{
		Name: "bright", Input: []int{3, 8, 8}, Classes: 3,
		Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			x = n.Activation("act1", n.BatchNorm2D("bn1", n.Conv2D("conv1", x, graph.Conv{Out: 8, Kernel: 3, Padding: 1, NoBias: true})), graph.SiLU)
			x = n.Dropout("drop", n.GlobalAvgPool2D("gap", x), 0.1)
			return n.Linear("fc", n.Flatten("flatten", x), 3)
		},
	}

	params := graph.NewParams(tensor.Float32, 1)
	net, _, _, err := graph.Declare(m, params, graph.Fast, 1, false)
	if err != nil {
		fmt.Println(err)
		return
	}
	s := graph.Summarize(net.Layers(), tensor.Float32)
	fmt.Println(len(net.Layers()), "layers,", s.TotalParams, "values")
	dot, err := viz.LayerDOT(m.Name, net.Layers(), nil, graph.UnitMACs)
	fmt.Println("DOT draws act1:", err == nil && strings.Contains(dot, "act1"))

	images := func(n int, seed int) *data.Dataset {
		x, y := make([]float32, n*3*64), make([]int, n)
		for i := range n {
			y[i] = (i*7 + seed) % 3
			for j := range 3 * 64 {
				x[i*192+j] = float32((j*13+i*5+seed)%17) / 17
				if j/64 == y[i] {
					x[i*192+j] += 1
				}
			}
		}
		d, _ := data.NewDataset(x, y, 3, 8, 8)
		return d
	}
	train, _ := data.NewLoader(images(96, 0), 16, true, 1)
	dev, _ := data.NewLoader(images(48, 1), 48, false, 0)
	r := trainer.New(m, params, graph.Fast, &trainer.SGD{LR: 0.1})
	if err := r.Train(train, dev, trainer.Config{Epochs: 10, EvalSteps: 20}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("learnt:", r.BestAcc > 0.9)

	dir, _ := os.MkdirTemp("", "bright")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "bright.safetensors")
	if err := trainer.SaveWeights(path, params, nil); err != nil {
		fmt.Println(err)
		return
	}
	again, err := graph.NewParamsFor(m, tensor.Float32, 99)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, _, err := trainer.LoadWeights(path, again, true); err != nil {
		fmt.Println(err)
		return
	}
	x := images(4, 2)
	before, _ := r.Predict(x.X, 4)
	after, _ := trainer.New(m, again, graph.Fast, nil).Predict(x.X, 4)
	fmt.Println("reloaded gives the same logits:", slices.Equal(before, after))
	// Output:
	// 7 layers, 275 values
	// DOT draws act1: true
	// learnt: true
	// reloaded gives the same logits: true
}
