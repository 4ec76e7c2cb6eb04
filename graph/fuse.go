package graph

import "gorgonia.org/gorgonia"

// reluFuser is a kernel that can apply a following ReLU to each value as it writes it,
// saving the ReLU's pass over memory.
type reluFuser interface {
	kernel
	withReLU() kernel
}

func reluSuffix(relu bool) string {
	if relu {
		return "+ReLU"
	}
	return ""
}

// FuseReLU returns the operation that computes producer followed by consumer in one pass,
// when consumer is a ReLU and producer one of the operations that can apply it as they write
// their output (BatchNorm2D, the residual Add). The fused operation takes producer's inputs
// and computes consumer's output; producer's own output is never formed, so a compiler fuses
// only where the ReLU is its one reader.
func FuseReLU(producer, consumer gorgonia.Op) (gorgonia.Op, bool) {
	c, ok := consumer.(op)
	if !ok {
		return nil, false
	}
	if _, ok := c.k.(relu); !ok {
		return nil, false
	}
	p, ok := producer.(op)
	if !ok {
		return nil, false
	}
	f, ok := p.k.(reluFuser)
	if !ok {
		return nil, false
	}
	return op{f.withReLU()}, true
}
