package trainer

import (
	"slices"
	"strings"
	"testing"

	"github.com/nndl/cnn/graph"
	"gorgonia.org/tensor"
)

func dense[T float32 | float64 | int](shape []int, v []T) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}

// TestSGDStep checks one SGD update, w -= lr*g, against values worked out by hand (all
// exact in binary floating point), in float32 and float64.
func TestSGDStep(t *testing.T) {
	w32 := &graph.Param{Name: "conv1.weight", Value: dense([]int{2, 2}, []float32{1, -2, 0.5, 3}), Trainable: true}
	g32 := dense([]int{2, 2}, []float32{0.5, 0.25, -1, 2})
	w64 := &graph.Param{Name: "conv1.bias", Value: dense([]int{3}, []float64{0, 10, -4}), Trainable: true}
	g64 := dense([]int{3}, []float64{8, -0.125, 0})
	opt := &SGD{LR: 0.5}
	if err := opt.Step([]Update{{w32, g32}, {w64, g64}}); err != nil {
		t.Fatal(err)
	}
	// 1 - 0.5*0.5, -2 - 0.5*0.25, 0.5 - 0.5*(-1), 3 - 0.5*2
	if got, want := w32.Value.Data().([]float32), []float32{0.75, -2.125, 1, 2}; !slices.Equal(got, want) {
		t.Errorf("float32 weights %v, want %v", got, want)
	}
	// 0 - 0.5*8, 10 - 0.5*(-0.125), -4 - 0
	if got, want := w64.Value.Data().([]float64), []float64{-4, 10.0625, -4}; !slices.Equal(got, want) {
		t.Errorf("float64 weights %v, want %v", got, want)
	}
	if got := g32.Data().([]float32); !slices.Equal(got, []float32{0.5, 0.25, -1, 2}) {
		t.Errorf("the gradient changed to %v", got)
	}

	// A second step with another rate goes on from there.
	opt.LR = 0.25
	if err := opt.Step([]Update{{w32, g32}}); err != nil {
		t.Fatal(err)
	}
	if got, want := w32.Value.Data().([]float32), []float32{0.625, -2.1875, 1.25, 1.5}; !slices.Equal(got, want) {
		t.Errorf("float32 weights after a second step %v, want %v", got, want)
	}
	if s := opt.String(); s != "SGD(lr=0.25)" {
		t.Errorf("String() = %q", s)
	}
	if err := opt.Step(nil); err != nil {
		t.Errorf("no updates: %v", err)
	}
}

// TestSGDUnsupportedType: a parameter that is not float32 or float64 is an error naming it.
func TestSGDUnsupportedType(t *testing.T) {
	p := &graph.Param{Name: "counts", Value: dense([]int{2}, []int{1, 2})}
	err := (&SGD{LR: 0.1}).Step([]Update{{p, dense([]int{2}, []int{1, 1})}})
	if err == nil || !strings.Contains(err.Error(), "counts") {
		t.Errorf("error %v, want one naming the parameter", err)
	}
	if got := p.Value.Data().([]int); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("the parameter changed to %v", got)
	}
}
