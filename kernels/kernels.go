package kernels

import "fmt"

// Float is the element type of every kernel: the project computes in float32 (the default,
// as PyTorch does) or float64 (for finite-difference gradient checks).
type Float interface{ ~float32 | ~float64 }

// ConvGeom is the geometry of a 2-D convolution or pooling window over an NCHW input, as
// torch.nn.Conv2d and MaxPool2d take it: kernel size, stride, zero padding and dilation per
// axis, the convolution's groups and the pooling's ceil_mode.
//
// K, S and P are the square shorthand: a per-axis field left at 0 takes its value from them
// (KH and KW from K, and so on), and dilation and groups left at 0 mean 1. Norm fills them
// in; NewConvDims and NewPoolDims do, so a kernel reads the per-axis fields only.
type ConvGeom struct {
	K, S, P int // the square shorthand: kernel side, stride, padding on every side

	KH, KW int // kernel height and width
	SH, SW int // vertical and horizontal stride
	PH, PW int // zero padding above and below, left and right
	DH, DW int // dilation: the distance between neighbouring kernel taps (1: adjacent)
	// Groups splits a convolution's input and output channels into that many groups, each
	// output channel seeing only its group's inputs (Groups = input channels: depthwise).
	Groups int
	// Ceil rounds a pooling's output size up rather than down (PyTorch's ceil_mode), the
	// last window still starting inside the input or its left padding.
	Ceil bool
}

// Square returns the square geometry of kernel side k, stride s and padding p.
func Square(k, s, p int) ConvGeom { return ConvGeom{K: k, S: s, P: p}.Norm() }

// Norm returns g with every per-axis field set: from the square shorthand where it is 0,
// and dilation and groups 1 where they are 0.
func (g ConvGeom) Norm() ConvGeom {
	or := func(v, d int) int {
		if v == 0 {
			return d
		}
		return v
	}
	g.KH, g.KW = or(g.KH, g.K), or(g.KW, g.K)
	g.SH, g.SW = or(g.SH, g.S), or(g.SW, g.S)
	g.PH, g.PW = or(g.PH, g.P), or(g.PW, g.P)
	g.DH, g.DW, g.Groups = or(g.DH, 1), or(g.DW, 1), or(g.Groups, 1)
	return g
}

// EffH and EffW are the extent of the dilated kernel: (K-1)*D + 1.
func (g ConvGeom) EffH() int { return (g.KH-1)*g.DH + 1 }

// EffW is the width of the dilated kernel (see EffH).
func (g ConvGeom) EffW() int { return (g.KW-1)*g.DW + 1 }

// OutH returns the output height for an input height h (see Out).
func (g ConvGeom) OutH(h int) int { return outSize(h, g.EffH(), g.SH, g.PH, g.Ceil) }

// OutW returns the output width for an input width w (see Out).
func (g ConvGeom) OutW(w int) int { return outSize(w, g.EffW(), g.SW, g.PW, g.Ceil) }

// Out returns the output side of a square geometry for an input side m: (m + 2P - K)/S + 1,
// floored (or, with Ceil, PyTorch's rounded-up size).
func (g ConvGeom) Out(m int) int { return g.Norm().OutH(m) }

// outSize is PyTorch's rule (pooling_output_shape): (in + 2p - k)/s + 1, rounded down, or up
// with ceil as long as the last window starts inside the input or its left padding.
func outSize(in, k, s, p int, ceil bool) int {
	n := in + 2*p - k
	if !ceil {
		return n/s + 1
	}
	o := (n+s-1)/s + 1
	if (o-1)*s >= in+p {
		o--
	}
	return o
}

// IsSquare reports whether g is the chapter's form, which every implementation takes: a
// square kernel, stride and padding, no dilation, one group, sizes rounded down.
func (g ConvGeom) IsSquare() bool {
	g = g.Norm()
	return g.KH == g.KW && g.SH == g.SW && g.PH == g.PW && g.DH == 1 && g.DW == 1 && g.Groups == 1 && !g.Ceil
}

// String prints a square geometry as "k3 s1 p1" and any other per axis, height first:
// "k3x5 s1x2 p1x0 d2x1 g4 ceil".
func (g ConvGeom) String() string {
	g = g.Norm()
	if g.IsSquare() {
		return fmt.Sprintf("k%d s%d p%d", g.KH, g.SH, g.PH)
	}
	pair := func(a, b int) string {
		if a == b {
			return fmt.Sprint(a)
		}
		return fmt.Sprintf("%dx%d", a, b)
	}
	s := fmt.Sprintf("k%s s%s p%s", pair(g.KH, g.KW), pair(g.SH, g.SW), pair(g.PH, g.PW))
	if g.DH != 1 || g.DW != 1 {
		s += " d" + pair(g.DH, g.DW)
	}
	if g.Groups != 1 {
		s += fmt.Sprintf(" g%d", g.Groups)
	}
	if g.Ceil {
		s += " ceil"
	}
	return s
}

// ConvDims are the sizes of one convolution: input x [N,C,H,W], weights w [P,C/Groups,KH,KW],
// output y [N,P,OH,OW]. G is normalised (see ConvGeom.Norm).
type ConvDims struct {
	G             ConvGeom
	N, C, H, W, P int // batch, input channels, input height and width, output channels
	OH, OW        int // output height and width
	HW, OHW       int // input and output plane sizes
	K             int // the length of one filter: C/Groups*KH*KW
}

// NewConvDims returns the sizes of convolution g of an input of shape xs [N,C,H,W] with
// weights of shape ws [P,C/Groups,KH,KW].
func NewConvDims(g ConvGeom, xs, ws []int) ConvDims {
	g = g.Norm()
	d := ConvDims{G: g, N: xs[0], C: xs[1], H: xs[2], W: xs[3], P: ws[0], OH: g.OutH(xs[2]), OW: g.OutW(xs[3])}
	d.HW, d.OHW, d.K = d.H*d.W, d.OH*d.OW, d.C/g.Groups*g.KH*g.KW
	return d
}

// Rows is the number of rows of one image unrolled (im2col): C*KH*KW, Groups filters' lengths.
func (d ConvDims) Rows() int { return d.G.Groups * d.K }

// TinyOutput reports whether the output map is 2x2 or smaller, where most of a padded
// window reads padding: purego runs such maps on the taps that touch data, and the
// libraries' kernels leave them to it.
func (d ConvDims) TinyOutput() bool { return d.OHW <= 4 }

// FullWindow reports whether the window covers the whole unpadded input, as in LeNet-5's
// last convolution: then each image is one row of the unrolled input as it lies in memory,
// and the convolution is a plain matrix product.
func (d ConvDims) FullWindow() bool {
	g := d.G
	return g.Groups == 1 && g.DH == 1 && g.DW == 1 && g.PH == 0 && g.PW == 0 && g.KH == d.H && g.KW == d.W
}

// Epilogue is what a convolution applies to its output as it writes it: an inference-mode
// BatchNorm, y = (y - Mean)*A + Shift per channel (Mean nil: none), then a ReLU (ReLU).
type Epilogue struct {
	Mean, A, Shift []float64
	ReLU           bool
}

// PoolMode selects what a pooling window computes.
type PoolMode int

const (
	PoolMax          PoolMode = iota // the maximum; padding never wins
	PoolAvg                          // the mean over the window, padded zeros counted (PyTorch's default)
	PoolAvgExclusive                 // the mean over the window's pixels inside the image (Paddle's default)
	// PoolAdaptiveAvg is adaptive average pooling to OH x OW: output row i averages input
	// rows [floor(i*H/OH), ceil((i+1)*H/OH)), and columns alike (torch's AdaptiveAvgPool2d).
	// It has no window geometry.
	PoolAdaptiveAvg
)

func (m PoolMode) String() string {
	return [...]string{"max", "avg", "avg-exclusive", "adaptive-avg"}[m]
}

// PoolDims are the sizes of one pooling: x [N,C,H,W] in planes of H*W, y [N,C,OH,OW]. G is
// normalised (see ConvGeom.Norm), and zero for adaptive pooling.
type PoolDims struct {
	G      ConvGeom
	Mode   PoolMode
	Planes int // N*C
	H, W   int
	OH, OW int
}

// NewPoolDims returns the sizes of pooling g (no dilation, no groups) in mode m over an input of shape s [N,C,H,W].
func NewPoolDims(g ConvGeom, m PoolMode, s []int) PoolDims {
	g = g.Norm()
	return PoolDims{G: g, Mode: m, Planes: s[0] * s[1], H: s[2], W: s[3], OH: g.OutH(s[2]), OW: g.OutW(s[3])}
}

// NewAdaptivePoolDims returns the sizes of adaptive average pooling to oh x ow over an input
// of shape s [N,C,H,W].
func NewAdaptivePoolDims(oh, ow int, s []int) PoolDims {
	return PoolDims{Mode: PoolAdaptiveAvg, Planes: s[0] * s[1], H: s[2], W: s[3], OH: oh, OW: ow}
}

// Is2x2 reports whether the pooling is the chapter's 2x2 window of stride 2 without padding,
// every window inside the input.
func (d PoolDims) Is2x2() bool {
	g := d.G
	return d.Mode != PoolAdaptiveAvg && g.KH == 2 && g.KW == 2 && g.SH == 2 && g.SW == 2 &&
		g.PH == 0 && g.PW == 0 && g.DH == 1 && g.DW == 1 && d.OH == d.H/2 && d.OW == d.W/2
}

// AdaptiveBin returns the span [lo, hi) of n inputs that adaptive pooling to o outputs
// averages for output i, as PyTorch has it: from floor(i*n/o) to ceil((i+1)*n/o).
func AdaptiveBin(i, n, o int) (lo, hi int) { return i * n / o, ((i+1)*n + o - 1) / o }

// Window returns the rows [r0, r1) and columns [c0, c1) of output (i, j)'s window, clipped
// to the input, and the divisor of its average: the window's pixels inside the input (and,
// for PoolAvg, its padding, but never past it, as PyTorch counts in ceil mode).
func (d PoolDims) Window(i, j int) (r0, r1, c0, c1, area int) {
	if d.Mode == PoolAdaptiveAvg {
		r0, r1 = AdaptiveBin(i, d.H, d.OH)
		c0, c1 = AdaptiveBin(j, d.W, d.OW)
		return r0, r1, c0, c1, (r1 - r0) * (c1 - c0)
	}
	g := d.G
	hs, ws := i*g.SH-g.PH, j*g.SW-g.PW
	he, we := min(hs+g.KH, d.H+g.PH), min(ws+g.KW, d.W+g.PW)
	area = (he - hs) * (we - ws)
	r0, r1, c0, c1 = max(hs, 0), min(he, d.H), max(ws, 0), min(we, d.W)
	if d.Mode != PoolAvg {
		area = (r1 - r0) * (c1 - c0)
	}
	return r0, r1, c0, c1, area
}
