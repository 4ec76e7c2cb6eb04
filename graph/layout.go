package graph

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/kernels"
)

// The channel-blocked layout of maps [N][C][H][W], for a block of b channels, is
// [N][C/b][H][W][b] (see kernels.ToBlocked): the same values as NCHW in another order, the
// one oneDNN's convolution kernels compute in; its block may also be kernels.ChannelsLast,
// NHWC, the block all of each map's channels (oneDNN's inference kernels on AVX-512). A
// program may keep the maps between its convolutions in it, so that the kernels read and
// write them as they lie rather than reorder them in and out at every call; the operations
// between (BatchNorm, the ReLU, the residual sums, pooling, and their gradients) then run on
// it too. BlockingOf says how an operation can take it, Relayout returns the operation on it.

// Layout is how an operation may lay out one of its maps.
type Layout uint8

const (
	// NCHW: only in NCHW (also any input or output that is no map).
	NCHW Layout = iota
	// Either: blocked or not, whatever the layout of the operation's other maps (a
	// convolution's input and output).
	Either
	// Joined: in the layout of the operation's other Joined maps (those of an element-wise
	// operation, or the input and output of BatchNorm or a pooling).
	Joined
)

// Blocking is how an operation can take maps in the channel-blocked layout.
type Blocking struct {
	// Block is the channel block its kernel takes its maps in (kernels.ChannelsLast: NHWC), or
	// 0 where any block will do (an operation on each channel's map alone, or element by
	// element).
	Block int
	// In gives how each input may be laid out (NCHW past its end); Out, the output.
	In  []Layout
	Out Layout
	// Agnostic: it computes the same in any layout (element by element), so that it needs
	// no Relayout.
	Agnostic bool
}

// InLayout is how input j may be laid out.
func (b Blocking) InLayout(j int) Layout {
	if j < len(b.In) {
		return b.In[j]
	}
	return NCHW
}

// blockable is a kernel that can take maps in the channel-blocked layout.
type blockable interface {
	// blocking says how, for inputs of the given shapes.
	blocking(in []tensor.Shape) Blocking
	// relayout returns the kernel reading the inputs marked in in, and writing its output
	// with out, in the channel-blocked layout of block b (the others in NCHW).
	relayout(b int, in []bool, out bool) (kernel, error)
}

// BlockingOf says how o, on inputs of the given shapes, can take the channel-blocked layout;
// the zero Blocking: not at all.
func BlockingOf(o gorgonia.Op, in []tensor.Shape) Blocking {
	if op, ok := o.(op); ok {
		if k, ok := op.k.(blockable); ok {
			return k.blocking(in)
		}
	}
	return Blocking{}
}

// Relayout returns o reading the inputs marked in in, and writing its output with out, in the
// channel-blocked layout of block b, as its BlockingOf allows.
func Relayout(o gorgonia.Op, b int, in []bool, out bool) (gorgonia.Op, error) {
	op, ok := o.(op)
	var k blockable
	if ok {
		k, ok = op.k.(blockable)
	}
	if !ok {
		return nil, fmt.Errorf("%v: not an operation that takes a blocked layout", o)
	}
	r, err := k.relayout(b, in, out)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", o, err)
	}
	op.k = r
	return op, nil
}

// layouts returns n Layouts of l.
func layouts(n int, l Layout) []Layout {
	s := make([]Layout, n)
	for i := range s {
		s[i] = l
	}
	return s
}

// blockOf is the block b of a map marked blocked, else 0.
func blockOf(b int, blocked bool) int {
	if blocked {
		return b
	}
	return 0
}

// joined returns the channel block of the maps of a kernel whose maps are all Joined (in
// marks its inputs, at the indices maps, and out its output): b if they are blocked, 0 if
// not, and an error if they are not all alike.
func joined(b int, in []bool, out bool, maps ...int) (int, error) {
	for _, j := range maps {
		if j >= len(in) || in[j] != out {
			return 0, fmt.Errorf("its maps cannot be laid out apart (inputs %v, output %v)", in, out)
		}
	}
	return blockOf(b, out), nil
}

// blocksString describes the channel blocks of a kernel's maps, "" for NCHW.
func blocksString(what string, b int) string {
	if b == 0 {
		return ""
	}
	return fmt.Sprintf(" (channel blocks: %s %s)", what, blockName(b))
}

// blockName names the layout of block b: its number of channels, or "channels last".
func blockName(b int) string {
	if b == kernels.ChannelsLast {
		return "channels last"
	}
	return fmt.Sprint(b)
}

// elementwise is the Blocking of an element-wise kernel of n inputs.
func elementwise(n int) Blocking {
	return Blocking{In: layouts(n, Joined), Out: Joined, Agnostic: true}
}
