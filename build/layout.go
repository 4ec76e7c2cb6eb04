package build

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/kernels"
)

// blockLayouts turns on block, the layout pass (a test turns it off to compare).
var blockLayouts = true

// block keeps a program's maps in its convolutions' channel-blocked layout (graph.Blocking;
// or channels last, NHWC, where its frozen convolutions' kernels take that: see
// kernels.ChannelsLast) where every step that writes or reads them can take it: oneDNN's
// kernels then read and write them as they lie, rather than reorder them in and out at
// every convolution, and the steps between (BatchNorm, ReLU, the residual sums, pooling, and
// their gradients in a training program) run on that layout too. The values a step joins (graph.Joined: those of
// an element-wise step, or a BatchNorm's or a max pooling's input and output) share one
// layout; such a set is blocked when each of its values is written and read only by steps
// that can take it so, has a multiple of the block of channels, and is no target of the
// program (targets): those and everything a caller feeds stay NCHW. Where the convolutions'
// kernels differ in their block (oneDNN and the broadcast kernels capped at different
// instruction sets), the block of the most of them is taken. value gives a caller a blocked
// value in NCHW.
func (m *vm) block(targets []*gorgonia.Node) error {
	how := make([]graph.Blocking, len(m.steps))
	count := map[int]int{} // steps by channel block
	b := 0
	for i, s := range m.steps {
		shapes := make([]tensor.Shape, len(s.in))
		for j, k := range s.in {
			shapes[j] = m.nodes[k].Shape()
		}
		how[i] = graph.BlockingOf(s.op, shapes)
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
		if how[i].Block != 0 && how[i].Block != b {
			how[i] = graph.Blocking{}
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
	set := make([]int, n) // union-find of the values steps join
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
		first := -1
		join := func(v int) {
			if first < 0 {
				first = v
			}
			set[find(v)] = find(first)
		}
		for j, k := range s.in {
			if how[i].InLayout(j) == graph.Joined {
				join(k)
			}
		}
		if how[i].Out == graph.Joined {
			join(s.out)
		}
	}
	ok := map[int]bool{} // by set: false once one of its values cannot be blocked
	for v := range n {
		shape := m.nodes[v].Shape()
		can := !target[v] && producer[v] >= 0 && len(shape) == 4 && kernels.FitsBlocks(shape[1], b) &&
			how[producer[v]].Out != graph.NCHW
		for _, u := range readers[v] {
			can = can && how[u.step].InLayout(u.arg) != graph.NCHW
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
		in := make([]bool, len(s.in))
		some := false
		for j, k := range s.in {
			in[j] = blocked(k)
			some = some || in[j]
		}
		out := blocked(s.out)
		if how[i].Agnostic || !some && !out {
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

// plain returns a copy in NCHW of value v, laid out in channel blocks of b (or channels last).
func plain(v gorgonia.Value, b int) (gorgonia.Value, error) {
	s := v.Shape()
	t, ok := v.(*tensor.Dense)
	if !ok || len(s) != 4 {
		return nil, fmt.Errorf("a blocked value of shape %v is not a 4-dimensional tensor", s)
	}
	out := tensor.New(tensor.Of(t.Dtype()), tensor.WithShape(s.Clone()...))
	switch x := t.Data().(type) {
	case []float32:
		kernels.FromBlocked(x, out.Data().([]float32), s[0], s[1], s[2]*s[3], kernels.BlockOf(b, s[1]))
	case []float64:
		kernels.FromBlocked(x, out.Data().([]float64), s[0], s[1], s[2]*s[3], kernels.BlockOf(b, s[1]))
	default:
		return nil, fmt.Errorf("a blocked value of %v", t.Dtype())
	}
	return out, nil
}
