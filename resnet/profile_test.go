package resnet

import (
	"os"
	"testing"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/graph"
	"gorgonia.org/tensor"
)

// TestProfileOps prints where a training step and a batched inference spend their time
// (PROFILE=1 go test -tags openblas -run ProfileOps -v ./resnet/).
func TestProfileOps(t *testing.T) {
	if os.Getenv("PROFILE") == "" {
		t.Skip("set PROFILE=1")
	}
	for _, train := range []bool{false, true} {
		p, err := build.Compile(ResNet18(1, 10), graph.NewParams(tensor.Float32, 1), build.Options{Batch: 64, Train: train, Loss: true})
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, 64*32*32)
		for i := range x {
			x[i] = float32(i%13) - 6
		}
		p.Feed(x, make([]int, 64))
		p.Run()
		p.Profile(true)
		const runs = 5
		for i := 0; i < runs; i++ {
			p.Run()
		}
		for _, o := range p.Profile(false) {
			t.Logf("train=%v %-28s %3d calls %8.3f ms/step", train, o.Op, o.Calls, o.Time.Seconds()*1e3/runs)
		}
	}
}
