package build

import (
	"gorgonia.org/gorgonia"
)

// Evaluate runs a whole expression graph once on the values bound to its inputs and returns
// the values of the requested nodes. It suits small one-off computations such as the
// chapter's worked examples; training and inference use Compile.
func Evaluate(g *gorgonia.ExprGraph, nodes ...*gorgonia.Node) ([]gorgonia.Value, error) {
	m, err := newVM(g, true, nodes...)
	if err != nil {
		return nil, err
	}
	if err := m.run(); err != nil {
		return nil, err
	}
	out := make([]gorgonia.Value, len(nodes))
	for i, n := range nodes {
		out[i] = m.value(n)
	}
	return out, nil
}
