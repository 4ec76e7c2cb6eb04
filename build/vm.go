package build

import (
	"fmt"

	"gorgonia.org/gorgonia"
)

// vm runs an expression graph in topological order. Each node's value lives in a fixed slot
// that is reused from one run to the next: operations that can compute into a preallocated
// value (all of the project's own) do, so a warmed-up run allocates almost nothing.
type vm struct {
	nodes []*gorgonia.Node
	slot  map[*gorgonia.Node]int
	vals  []gorgonia.Value
	steps []step
}

type step struct {
	node *gorgonia.Node
	op   gorgonia.Op
	pd   gorgonia.UsePreallocDoer
	in   []int
	out  int
	args []gorgonia.Value
}

// newVM orders the graph's nodes and binds every input and constant to its value.
func newVM(g *gorgonia.ExprGraph) (*vm, error) {
	sorted, err := gorgonia.Sort(g)
	if err != nil {
		return nil, fmt.Errorf("ordering the graph: %w", err)
	}
	m := &vm{slot: map[*gorgonia.Node]int{}}
	for i := len(sorted) - 1; i >= 0; i-- {
		n := sorted[i]
		m.slot[n] = len(m.nodes)
		m.nodes = append(m.nodes, n)
		m.vals = append(m.vals, nil)
	}
	for i, n := range m.nodes {
		if n.Op() == nil {
			if n.Value() == nil {
				return nil, fmt.Errorf("input %s has no value bound", n.Name())
			}
			m.vals[i] = n.Value()
			continue
		}
		s := step{node: n, op: n.Op(), out: i}
		s.pd, _ = n.Op().(gorgonia.UsePreallocDoer)
		for it := g.From(n.ID()); it.Next(); {
			s.in = append(s.in, m.slot[it.Node().(*gorgonia.Node)])
		}
		s.args = make([]gorgonia.Value, len(s.in))
		m.steps = append(m.steps, s)
	}
	return m, nil
}

// run executes every step once.
func (m *vm) run() error {
	for i := range m.steps {
		s := &m.steps[i]
		for j, k := range s.in {
			s.args[j] = m.vals[k]
		}
		var v gorgonia.Value
		var err error
		if s.pd != nil && m.vals[s.out] != nil {
			v, err = s.pd.UsePreallocDo(m.vals[s.out], s.args...)
		} else {
			v, err = s.op.Do(s.args...)
		}
		if err != nil {
			return fmt.Errorf("node %s (%v): %w", s.node.Name(), s.op, err)
		}
		m.vals[s.out] = v
	}
	return nil
}

// value returns the current value of a node.
func (m *vm) value(n *gorgonia.Node) gorgonia.Value { return m.vals[m.slot[n]] }
