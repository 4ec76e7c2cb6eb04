package build

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/kernels"
)

// blockLayouts turns on block, the layout pass of frozen programs (a test turns it off to
// compare).
var blockLayouts = true

// block keeps a frozen program's maps in its convolutions' channel-blocked layout
// (graph.Blocking) where every step that writes or reads them can take it: oneDNN's kernels
// then read and write them as they lie, rather than reorder them in and out at every
// convolution. The values joined by element-wise steps (a residual block's input, its
// shortcut and its sum, also where a convolution adds the shortcut) or by a max pooling (its
// input and output) share one layout; such a
// set is blocked when each of its values is written by a convolution or a step of the set,
// read only by convolutions (as their data), steps of the set or global average pooling, has
// a multiple of the block of channels, and is no target of the program (targets): those and
// everything a caller feeds stay NCHW. Where the convolutions' kernels differ in their block
// (oneDNN and the broadcast kernels capped at different instruction sets), the block of the
// most of them is taken. value gives a caller a blocked value in NCHW.
func (m *vm) block(targets []*gorgonia.Node) error {
	how := make([]graph.Blocking, len(m.steps))
	count := map[int]int{} // convolutions by channel block
	b := 0
	for i, s := range m.steps {
		how[i] = graph.BlockingOf(s.op)
		if c := how[i].Block; c != 0 {
			count[c]++
			if count[c] > count[b] || count[c] == count[b] && c > b {
				b = c
			}
		}
	}
	if b == 0 {
		return nil
	}
	for i := range how { // kernels of other blocks (another instruction set's) keep NCHW
		if how[i].Block != b {
			how[i].Block = 0
		}
	}
	n := len(m.nodes)
	producer := make([]int, n)
	for i := range producer {
		producer[i] = -1
	}
	type use struct{ step, arg int }
	readers := make([][]use, n)
	for i, s := range m.steps {
		producer[s.out] = i
		for j, k := range s.in {
			readers[k] = append(readers[k], use{i, j})
		}
	}
	target := make([]bool, n)
	for _, t := range targets {
		if i, ok := m.slot[t]; ok {
			target[i] = true
		}
	}
	set := make([]int, n) // union-find of the values joined by element-wise steps
	for i := range set {
		set[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		if set[i] != i {
			set[i] = find(set[i])
		}
		return set[i]
	}
	for i, s := range m.steps {
		switch {
		case how[i].Elementwise:
			for _, k := range s.in {
				set[find(k)] = find(s.out)
			}
		case how[i].Planes:
			set[find(s.in[0])] = find(s.out)
		case how[i].Residual:
			set[find(s.in[len(s.in)-1])] = find(s.out)
		}
	}
	ok := map[int]bool{} // by set: false once one of its values cannot be blocked
	for v := range n {
		shape := m.nodes[v].Shape()
		can := !target[v] && producer[v] >= 0 && len(shape) == 4 && shape[1]%b == 0
		if can {
			p := how[producer[v]]
			can = p.Elementwise || p.Planes || p.Block == b
		}
		for _, u := range readers[v] {
			h := how[u.step]
			residual := h.Residual && h.Block == b && u.arg == len(m.steps[u.step].in)-1
			can = can && (h.Elementwise || residual || (h.Block == b || h.Pool || h.Planes) && u.arg == 0)
		}
		if r := find(v); !can {
			ok[r] = false
		} else if _, seen := ok[r]; !seen {
			ok[r] = true
		}
	}
	blocked := func(v int) bool { return ok[find(v)] }
	for i := range m.steps {
		s := &m.steps[i]
		in, out := blocked(s.in[0]), blocked(s.out)
		if how[i].Elementwise || !in && !out {
			continue
		}
		f, err := graph.Relayout(s.op, b, in, out)
		if err != nil {
			return fmt.Errorf("node %s: %w", s.node.Name(), err)
		}
		s.op = f
		s.pd, _ = f.(gorgonia.UsePreallocDoer)
	}
	m.blocked = map[int]int{}
	for v := range n {
		if producer[v] >= 0 && blocked(v) {
			m.blocked[v] = b
		}
	}
	return nil
}

// plain returns a copy in NCHW of value v, laid out in channel blocks of b.
func plain(v gorgonia.Value, b int) (gorgonia.Value, error) {
	s := v.Shape()
	t, ok := v.(*tensor.Dense)
	if !ok || len(s) != 4 {
		return nil, fmt.Errorf("a blocked value of shape %v is not a 4-dimensional tensor", s)
	}
	out := tensor.New(tensor.Of(t.Dtype()), tensor.WithShape(s.Clone()...))
	switch x := t.Data().(type) {
	case []float32:
		kernels.FromBlocked(x, out.Data().([]float32), s[0], s[1], s[2]*s[3], b)
	case []float64:
		kernels.FromBlocked(x, out.Data().([]float64), s[0], s[1], s[2]*s[3], b)
	default:
		return nil, fmt.Errorf("a blocked value of %v", t.Dtype())
	}
	return out, nil
}
