package kernels_test

import (
	"testing"

	"github.com/nndl/cnn/kernels"
)

// TestDispatchAllocates: choosing a kernel for a call allocates nothing.
func TestDispatchAllocates(t *testing.T) {
	d := kernels.NewConvDims(kernels.Square(3, 1, 1), []int{2, 4, 8, 8}, []int{4, 4, 3, 3})
	p := kernels.NewPoolDims(kernels.Square(2, 2, 0), kernels.PoolMax, []int{2, 4, 8, 8})
	if n := testing.AllocsPerRun(100, func() {
		kernels.ConvFor[float32](d)
		kernels.PoolFor[float32](p)
		kernels.ChannelSumFor[float32](2, 4, 64)
		kernels.GemmFor[float32]()
		kernels.ReLUFor[float32]()
		kernels.AxpyFor[float32]()
	}); n != 0 {
		t.Errorf("%v allocations a dispatch", n)
	}
}
