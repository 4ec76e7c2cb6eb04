package chapter

import (
	"math"

	"github.com/nndl/cnn/graph"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Laplacian8 is section 5.1.7's 3x3 Laplacian kernel: 8 in the centre, -1 everywhere else.
var Laplacian8 = []float32{-1, -1, -1, -1, 8, -1, -1, -1, -1}

// Laplacian4 is the 4-neighbour form the chapter derives first: [[0,-1,0],[-1,4,-1],[0,-1,0]].
var Laplacian4 = []float32{0, -1, 0, -1, 4, -1, 0, -1, 0}

// Picture draws a grey h x w picture with values in 0..255, row-major: a background that
// brightens linearly from left to right, a disc, a rectangle and a triangle. Its edges are
// the shapes' outlines; the linear ramp has no second derivative, so a Laplacian leaves it
// at zero.
func Picture(h, w int) []float32 {
	img := make([]float32, h*w)
	fh, fw := float64(h), float64(w)
	for i := 0; i < h; i++ {
		for j := 0; j < w; j++ {
			y, x := (float64(i)+0.5)/fh, (float64(j)+0.5)/fw
			v := 30 + 60*x // the ramp
			switch {
			case math.Hypot(x-0.3, y-0.32) < 0.2: // disc
				v = 215
			case x > 0.55 && x < 0.9 && y > 0.12 && y < 0.45: // rectangle
				v = 130
			case y > 0.55 && y < 0.9 && math.Abs(x-0.62) < (y-0.55)*0.9: // triangle
				v = 250
			}
			img[i*w+j] = float32(v)
		}
	}
	return img
}

// Edges is the result of section 5.1.7's edge detection.
type Edges struct {
	H, W   int       // input size
	In     []float32 // the picture, h x w
	OH, OW int       // output size: (H-2) x (W-2), no padding as in the chapter
	Out    []float32 // the output feature map of the fast Conv2D
	Agree  bool      // whether the hand-written Conv2D gave bit-identical output
	Kernel []float32 // the 3x3 kernel used
}

// DetectEdges convolves an h x w grey picture with a 3x3 kernel (Laplacian8 in the chapter)
// through a one-channel Conv2D without bias and padding, evaluated by build.Evaluate on both
// implementations.
func DetectEdges(img []float32, h, w int, kernel []float32) (*Edges, error) {
	naive, fast, err := LayerOn(img, []int{1, 1, h, w}, map[string][]float32{"laplacian.weight": kernel},
		func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			return n.Conv2D("laplacian", x, graph.Conv{Out: 1, Kernel: 3, NoBias: true})
		})
	if err != nil {
		return nil, err
	}
	s := fast.Shape()
	return &Edges{H: h, W: w, In: img, OH: s[2], OW: s[3], Out: fast.Data().([]float32), Agree: agree(naive, fast), Kernel: kernel}, nil
}

// Range returns the smallest and largest value of v.
func Range(v []float32) (lo, hi float32) {
	if len(v) == 0 {
		return 0, 0
	}
	lo, hi = v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}

// Dense wraps a row-major h x w map as a tensor, for Matrices.
func Dense(v []float32, h, w int) *tensor.Dense {
	return tensor.New(tensor.WithShape(h, w), tensor.WithBacking(v))
}
