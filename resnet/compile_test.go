package resnet

import (
	"testing"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/graph"
	"gorgonia.org/tensor"
)

// BenchmarkCompile times declaring, initialising and compiling the chapter's ResNet18 for
// training at batch 64.
func BenchmarkCompile(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := build.Compile(ResNet18(1, 10), graph.NewParams(tensor.Float32, 1), build.Options{Batch: 64, Train: true}); err != nil {
			b.Fatal(err)
		}
	}
}
