package npy_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/nndl/cnn/tensorio/npy"
)

func Example() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "x.npy")

	// Readable with numpy.load(path).
	if err := npy.WriteFloat32(path, []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}); err != nil {
		log.Fatal(err)
	}
	shape, data, err := npy.ReadFloat32(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(shape, data)

	a, err := npy.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.DType, a.Float64()[5])
	// Output:
	// [2 3] [1 2 3 4 5 6]
	// F32 6
}
