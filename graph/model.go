package graph

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Model is a network declaration: Forward adds the layers to n on top of the input x and
// returns the logits. A model is declared once and compiled for any batch size.
type Model struct {
	Name    string // "lenet", "resnet18", ...
	Input   []int  // per-sample input shape [C,H,W]
	Classes int    // width of the logits
	Forward func(n *Net, x *gorgonia.Node) *gorgonia.Node
}

// Declare builds the model's graph for a static batch size. It returns the network (with its
// layers and their accounting), the input node and the logits node, or the first error:
// a shape that does not fit, named by layer. Training selects BatchNorm's training mode.
func Declare(m Model, params *Params, impl Impl, batch int, training bool) (*Net, *gorgonia.Node, *gorgonia.Node, error) {
	if batch < 1 {
		return nil, nil, nil, fmt.Errorf("%s: batch size %d: want at least 1", m.Name, batch)
	}
	for _, d := range m.Input {
		if d < 1 {
			return nil, nil, nil, fmt.Errorf("%s: input shape %v: every dimension must be at least 1", m.Name, m.Input)
		}
	}
	shape := append([]int{batch}, m.Input...)
	if err := checkSize("input", shape); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: batch %d: %w", m.Name, batch, err)
	}
	n := New(params, impl)
	n.training = training
	n.batchInit = true
	x := n.Input("x", shape...)
	y := m.Forward(n, x)
	if err := n.Err(); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", m.Name, err)
	}
	var total int
	for _, l := range n.Layers() {
		total += l.OutShape.TotalSize()
	}
	if total > MaxActivationElements {
		return nil, nil, nil, fmt.Errorf("%s: batch %d: the layers' outputs hold %s elements together, more than the limit of %s (4 GiB of float32)", m.Name, batch, Comma(int64(total)), Comma(MaxActivationElements))
	}
	params.initPending()
	if s := y.Shape(); len(s) != 2 || s[1] != m.Classes {
		return nil, nil, nil, fmt.Errorf("%s: logits have shape %v, want [%d,%d]", m.Name, s, batch, m.Classes)
	}
	return n, x, y, nil
}

// NewParamsFor returns a parameter store holding every parameter and buffer model m
// declares, initialised, so that weights can be loaded into it (Params.Load) before any
// program is compiled; programs compiled on it later share them.
func NewParamsFor(m Model, dtype tensor.Dtype, seed uint64) (*Params, error) {
	p := NewParams(dtype, seed)
	if _, _, _, err := Declare(m, p, Fast, 1, false); err != nil {
		return nil, err
	}
	return p, nil
}
