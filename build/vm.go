package build

import (
	"fmt"
	"slices"
	"time"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph"
)

// vm runs an expression graph in topological order. Each node's value lives in a fixed slot
// that is reused from one run to the next: operations that can compute into a preallocated
// value (all of the project's own) do, so a warmed-up run allocates almost nothing.
type vm struct {
	nodes []*gorgonia.Node
	slot  map[*gorgonia.Node]int
	vals  []gorgonia.Value
	steps []step
	times []time.Duration // per step, accumulated while profiling
	// fusedInto names, for each node whose value a fused step never forms, that step's
	// operation.
	fusedInto map[*gorgonia.Node]gorgonia.Op
	// begin, when set, is told the number of each run before it starts (graph.Net.BeginRun).
	begin func(run uint64)
	runs  uint64
	// blocked gives the channel block of the values a frozen program keeps in a blocked
	// layout (see block).
	blocked map[int]int
}

type step struct {
	node *gorgonia.Node
	op   gorgonia.Op
	pd   gorgonia.UsePreallocDoer
	in   []int
	out  int
	args []gorgonia.Value
}

// newVM orders the nodes that the targets depend on and binds every input and constant to
// its value, fusing what graph.Fuse allows when fuse is set. Nodes no target needs (the
// gradient of the input image, say) are left out.
func newVM(g *gorgonia.ExprGraph, fuse bool, targets ...*gorgonia.Node) (*vm, error) {
	sorted, err := gorgonia.Sort(g)
	if err != nil {
		return nil, fmt.Errorf("ordering the graph: %w", err)
	}
	needed := map[*gorgonia.Node]bool{}
	var mark func(n *gorgonia.Node)
	mark = func(n *gorgonia.Node) {
		if needed[n] {
			return
		}
		needed[n] = true
		for it := g.From(n.ID()); it.Next(); {
			mark(it.Node().(*gorgonia.Node))
		}
	}
	for _, t := range targets {
		mark(t)
	}
	m := &vm{slot: map[*gorgonia.Node]int{}, fusedInto: map[*gorgonia.Node]gorgonia.Op{}}
	for i := len(sorted) - 1; i >= 0; i-- {
		n := sorted[i]
		if !needed[n] {
			continue
		}
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
		var shapes []tensor.Shape
		for it := g.From(n.ID()); it.Next(); {
			in := it.Node().(*gorgonia.Node)
			s.in = append(s.in, m.slot[in])
			shapes = append(shapes, in.Shape())
		}
		// Gorgonia's sums of gradients run on the project's kernels.
		if sum, ok := graph.Sum(s.op, n.Dtype(), shapes...); ok {
			s.op = sum
		}
		if graph.ReusesBuffers(s.op) {
			s.pd, _ = s.op.(gorgonia.UsePreallocDoer)
		}
		s.args = make([]gorgonia.Value, len(s.in))
		m.steps = append(m.steps, s)
	}
	if fuse {
		m.fuse(targets)
	}
	return m, nil
}

// fuse merges a step into the one that computes one of its inputs, where the two have a
// fused form (graph.Fuse: a ReLU after a BatchNorm, an Add or a convolution; an inference
// BatchNorm after a convolution; a ReLU's gradient after a pooling's) and the step is the
// only reader of that input. The merged
// step writes the second step's output; the intermediate value is never formed. Chains
// merge in turn: a convolution, its BatchNorm and their ReLU become one step. A ReLU that
// ends a step read only by a max pooling moves past the pooling (graph.SinkReLU); the
// value between the two is then not the ReLU's, and counts as not formed.
func (m *vm) fuse(targets []*gorgonia.Node) {
	readers := make([]int, len(m.nodes))
	producer := make([]int, len(m.nodes))
	for i := range producer {
		producer[i] = -1
	}
	for i, s := range m.steps {
		producer[s.out] = i
		for _, k := range s.in {
			readers[k]++
		}
	}
	for _, t := range targets {
		readers[m.slot[t]]++ // read by the caller
	}
	fused := make([]bool, len(m.steps))
	for i := range m.steps {
		r := &m.steps[i]
		for j, q := range r.in {
			if readers[q] != 1 || producer[q] < 0 {
				continue
			}
			pi := producer[q]
			p := &m.steps[pi]
			others := append(append([]int(nil), r.in[:j]...), r.in[j+1:]...)
			early := true // the merged step runs at p's place: r's other inputs must be ready by then
			for _, k := range others {
				early = early && producer[k] < pi
			}
			f, ok := graph.Fuse(p.op, r.op, j)
			if !ok {
				if pf, rf, sunk := graph.SinkReLU(p.op, r.op, j); sunk {
					m.fusedInto[m.nodes[q]] = rf // q now holds the values before the ReLU
					p.op, r.op = pf, rf
					p.pd, _ = pf.(gorgonia.UsePreallocDoer)
					r.pd, _ = rf.(gorgonia.UsePreallocDoer)
					break
				}
			}
			if !early || !ok {
				continue
			}
			m.fusedInto[m.nodes[p.out]] = f
			p.op, p.out = f, r.out
			p.pd, _ = f.(gorgonia.UsePreallocDoer)
			p.in = append(p.in, others...)
			p.args = make([]gorgonia.Value, len(p.in))
			producer[r.out] = pi
			fused[i] = true
			break
		}
	}
	kept := m.steps[:0]
	for i, s := range m.steps {
		if !fused[i] {
			kept = append(kept, s)
		}
	}
	m.steps = kept
}

// freeze fixes the parameters of every step that has something to prepare (graph.Freeze):
// the steps whose inputs past the first are all bound values, not computed ones, but for a
// residual they add (graph.Data), which then read only their data inputs. It then gives the
// program its own copy of every other bound value a step reads, but those of fed (the inputs
// it is fed at each run).
func (m *vm) freeze(fed ...*gorgonia.Node) error {
	read := make([]bool, len(m.nodes))
	for i := range m.steps {
		s := &m.steps[i]
		in := make([]gorgonia.Value, len(s.in))
		bound := len(s.in) >= 2
		for j, k := range s.in {
			in[j] = m.vals[k]
			bound = bound && (graph.Data(s.op, j) || in[j] != nil)
		}
		frozen := false
		if bound {
			f, ok, err := graph.Freeze(s.op, m.nodes[s.in[0]].Shape(), in)
			if err != nil {
				return fmt.Errorf("node %s: %w", s.node.Name(), err)
			}
			if ok {
				s.op, frozen = f, true
				s.pd, _ = f.(gorgonia.UsePreallocDoer)
			}
		}
		for j, k := range s.in {
			read[k] = read[k] || graph.Data(s.op, j) || !frozen
		}
	}
	for i, n := range m.nodes {
		if n.Op() != nil || !read[i] || slices.Contains(fed, n) {
			continue
		}
		v, err := gorgonia.CloneValue(m.vals[i])
		if err != nil {
			return fmt.Errorf("copying %s: %w", n.Name(), err)
		}
		m.vals[i] = v
	}
	return nil
}

// run executes every step once.
func (m *vm) run() error {
	if m.begin != nil {
		m.runs++
		m.begin(m.runs)
	}
	for i := range m.steps {
		s := &m.steps[i]
		for j, k := range s.in {
			s.args[j] = m.vals[k]
		}
		var v gorgonia.Value
		var err error
		var t0 time.Time
		if m.times != nil {
			t0 = time.Now()
		}
		if s.pd != nil && m.vals[s.out] != nil {
			v, err = s.pd.UsePreallocDo(m.vals[s.out], s.args...)
		} else {
			v, err = s.op.Do(s.args...)
		}
		if err != nil {
			return fmt.Errorf("node %s (%v): %w", s.node.Name(), s.op, err)
		}
		m.vals[s.out] = v
		if m.times != nil {
			m.times[i] += time.Since(t0)
		}
	}
	return nil
}

// value returns the current value of a node, or nil for a node the VM does not compute; a
// value kept in a channel-blocked layout (see block) comes as a copy in NCHW.
func (m *vm) value(n *gorgonia.Node) gorgonia.Value {
	i, ok := m.slot[n]
	if _, fused := m.fusedInto[n]; !ok || fused || m.vals[i] == nil {
		return nil
	}
	if b := m.blocked[i]; b != 0 {
		v, err := plain(m.vals[i], b)
		if err != nil {
			panic(fmt.Sprintf("build: node %s: %v", n.Name(), err)) // block makes no such value
		}
		return v
	}
	return m.vals[i]
}
