package lenet

import (
	"os"
	"testing"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/graph"
	"gorgonia.org/tensor"
)

func TestProfileOps(t *testing.T) {
	if os.Getenv("PROFILE") == "" {
		t.Skip()
	}
	p, _ := build.Compile(New(1, 10), graph.NewParams(tensor.Float32, 1), build.Options{Batch: 64, Train: true})
	x := make([]float32, 64*32*32)
	y := make([]int, 64)
	p.Feed(x, y)
	p.Run()
	p.Profile(true)
	for i := 0; i < 200; i++ {
		p.Run()
	}
	for _, o := range p.Profile(false) {
		t.Logf("%-28s %3d calls %8.3f ms/step", o.Op, o.Calls, o.Time.Seconds()*1e3/200)
	}
}
