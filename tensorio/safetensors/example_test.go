package safetensors_test

import (
	"fmt"
	"github.com/nndl/cnn/tensorio"
	"log"
	"os"
	"path/filepath"

	"github.com/nndl/cnn/tensorio/safetensors"
)

func Example() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")

	err = safetensors.WriteFile(path, &safetensors.File{
		Tensors: map[string]safetensors.Tensor{
			"fc.weight": tensorio.NewFloat32([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
			"labels":    tensorio.NewInt64([]int{2}, []int64{3, 7}),
		},
		Metadata: map[string]string{"model": "demo"},
	})
	if err != nil {
		log.Fatal(err)
	}

	f, err := safetensors.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range f.Names {
		t := f.Tensors[name]
		fmt.Println(name, t.DType, t.Shape, t.Float32())
	}
	fmt.Println("model:", f.Metadata["model"])
	// Output:
	// fc.weight F32 [2 3] [1 2 3 4 5 6]
	// labels I64 [2] [3 7]
	// model: demo
}
