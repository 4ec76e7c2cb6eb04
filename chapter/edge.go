package chapter

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/graph"
	"gorgonia.org/tensor"
)

// Kernel is a square convolution kernel with an odd side, so that zero padding of
// Padding() on every side keeps a picture's size.
type Kernel struct {
	Name string    // "laplace8", "laplace4", or "custom" for one read by ParseKernel
	Side int       // rows and columns
	W    []float32 // Side*Side weights, row-major
}

// The chapter's two Laplacians (section 5.1.7): Laplace8 weighs the centre 8 and its eight
// neighbours -1, as the chapter does; Laplace4 weighs the centre 4 and its four nearest
// neighbours -1.
var (
	Laplace8 = Kernel{"laplace8", 3, []float32{-1, -1, -1, -1, 8, -1, -1, -1, -1}}
	Laplace4 = Kernel{"laplace4", 3, []float32{0, -1, 0, -1, 4, -1, 0, -1, 0}}
)

// MaxEdgePixels bounds the pictures EdgeResponse takes: the convolution unrolls the picture
// into a matrix of Side*Side values a pixel (600 MB for a 3x3 kernel at this size).
const MaxEdgePixels = 1 << 24

// maxKernelSide is the largest side ParseKernel accepts.
const maxKernelSide = 15

// Padding returns the zero padding on every side that keeps a picture's size, (Side-1)/2.
func (k Kernel) Padding() int { return k.Side / 2 }

// String formats the weights as rows, e.g. "[[0, -1, 0], [-1, 4, -1], [0, -1, 0]]".
func (k Kernel) String() string {
	var b strings.Builder
	b.WriteString("[")
	for i := range k.Side {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("[")
		for j := range k.Side {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.FormatFloat(float64(k.W[i*k.Side+j]), 'g', -1, 32))
		}
		b.WriteString("]")
	}
	return b.String() + "]"
}

// ParseKernel reads a kernel written as laplace8 (or laplacian8, laplace), laplace4 (or
// laplacian4), in any case, or as rows separated by ";" of values separated by ",", such as
// "0,1,0;1,-4,1;0,1,0": a square kernel with an odd side of at most 15, named "custom".
// Its errors say what is wrong and what is wanted, but not s itself, so that the caller can
// name where s came from.
func ParseKernel(s string) (Kernel, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "laplace8", "laplacian8", "laplace":
		return Laplace8, nil
	case "laplace4", "laplacian4":
		return Laplace4, nil
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s; want laplace8, laplace4 or rows of numbers such as \"0,1,0;1,-4,1;0,1,0\"", fmt.Sprintf(format, a...))
	}
	rows := strings.Split(strings.TrimSpace(s), ";")
	if len(rows) > 0 && strings.TrimSpace(rows[len(rows)-1]) == "" {
		rows = rows[:len(rows)-1] // a trailing ";"
	}
	if len(rows) == 0 || len(rows) > maxKernelSide {
		return Kernel{}, bad("%d rows", len(rows))
	}
	k := Kernel{Name: "custom", Side: len(rows)}
	for i, row := range rows {
		vals := strings.Split(row, ",")
		if len(vals) != len(rows) {
			return Kernel{}, bad("row %d has %d values, but there are %d rows: the kernel must be square", i+1, len(vals), len(rows))
		}
		for j, v := range vals {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 32)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return Kernel{}, bad("row %d, value %d: %q is not a finite number", i+1, j+1, strings.TrimSpace(v))
			}
			k.W = append(k.W, float32(f))
		}
	}
	if k.Side%2 == 0 {
		return Kernel{}, bad("a %dx%d kernel: the side must be odd, so that padding keeps the picture's size", k.Side, k.Side)
	}
	return k, nil
}

// EdgeResponse convolves an h x w grey picture (row-major) with k through the project's
// Conv2D: a one-layer graph, one input and one output channel, no bias, zero padding
// k.Padding() so the feature map has the picture's size, run by build.Evaluate on the fast
// operators. It returns the feature map, h x w values row-major.
func EdgeResponse(grey []float32, h, w int, k Kernel) ([]float32, error) {
	if h <= 0 || w <= 0 || int64(h)*int64(w) > MaxEdgePixels {
		return nil, fmt.Errorf("a %dx%d picture: want 1 to %d pixels", w, h, MaxEdgePixels)
	}
	if len(grey) != h*w {
		return nil, fmt.Errorf("%d grey levels for a %dx%d picture", len(grey), w, h)
	}
	if k.Side <= 0 || k.Side%2 == 0 || len(k.W) != k.Side*k.Side {
		return nil, fmt.Errorf("kernel %q: side %d with %d weights; want an odd side and side*side weights", k.Name, k.Side, len(k.W))
	}
	params := graph.NewParams(tensor.Float32, 0)
	n := graph.New(params, graph.Fast)
	x := n.Input("image", 1, 1, h, w)
	copy(x.Value().Data().([]float32), grey)
	y := n.Conv2D("laplacian", x, graph.Conv{Out: 1, Kernel: k.Side, Padding: k.Padding(), NoBias: true, Init: graph.Zeros})
	if err := n.Err(); err != nil {
		return nil, err
	}
	copy(params.Get("laplacian.weight").Value.Data().([]float32), k.W)
	vals, err := build.Evaluate(n.Graph(), y)
	if err != nil {
		return nil, err
	}
	out := vals[0].Data().([]float32)
	if len(out) != h*w {
		return nil, fmt.Errorf("the feature map has %d values for a %dx%d picture", len(out), h, w)
	}
	return append([]float32(nil), out...), nil
}

// BuiltinPicture draws the picture edge detection uses when given none: 256x256 grey
// levels, row-major, a flat background (40), a bright rectangle (220), a mid-grey disc
// (150), a dark triangle (10) and a thin bright line (255), all with sharp edges.
func BuiltinPicture() (grey []float32, h, w int) {
	h, w = 256, 256
	grey = make([]float32, h*w)
	for y := range h {
		for x := range w {
			v := float32(40)
			fx, fy := float64(x), float64(y)
			switch {
			case y >= 200 && y < 204 && x >= 24 && x < 232:
				v = 255 // the line
			case x >= 30 && x < 120 && y >= 30 && y < 110:
				v = 220 // the rectangle
			case (fx-176)*(fx-176)+(fy-84)*(fy-84) <= 48*48:
				v = 150 // the disc
			case y >= 130 && y < 190 && fx >= 60-(fy-130) && fx <= 60+(fy-130):
				v = 10 // the triangle, apex up at (60, 130)
			}
			grey[y*w+x] = v
		}
	}
	return grey, h, w
}

// EdgeScale maps an edge response to grey levels 0..255; NewEdgeScale makes one.
type EdgeScale struct {
	Mode        string  // "minmax" or "abs"
	Lo, Hi      float32 // the range of the response
	Clip        float64 // with "abs": the |response| that is white
	Description string  // how the response becomes grey levels, e.g. "min-max: [-300, 500] -> [0, 255] (...)"
}

// NewEdgeScale returns the scale of the response resp in the given mode: "minmax" maps its
// [min, max] to [0, 255], as the chapter's plt.imshow does (clip is unused); "abs" maps
// |response| to [0, 255], clipped at clip, which must be positive and finite.
func NewEdgeScale(mode string, clip float64, resp []float32) (EdgeScale, error) {
	s := EdgeScale{Mode: mode, Clip: clip}
	s.Lo, s.Hi = float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range resp {
		s.Lo, s.Hi = min(s.Lo, v), max(s.Hi, v)
	}
	switch mode {
	case "minmax":
		if s.Hi > s.Lo {
			zero := 255 * float64(-s.Lo) / float64(s.Hi-s.Lo)
			s.Description = fmt.Sprintf("min-max: [%g, %g] -> [0, 255] (as the chapter's plt.imshow; a zero response is grey level %.0f)", s.Lo, s.Hi, zero)
		} else {
			s.Description = fmt.Sprintf("min-max: the response is %g everywhere, written as black", s.Lo)
		}
	case "abs":
		if !(clip > 0) || math.IsInf(clip, 0) {
			return s, fmt.Errorf("edge scale abs: clip %v: want a positive number", clip)
		}
		s.Description = fmt.Sprintf("|response| clipped at %g -> [0, 255] (a zero response is black)", clip)
	default:
		return s, fmt.Errorf("edge scale %q: want minmax or abs", mode)
	}
	return s, nil
}

// Pixel returns the grey level of the response v.
func (s EdgeScale) Pixel(v float32) uint8 {
	var f float64
	if s.Mode == "abs" {
		f = math.Min(math.Abs(float64(v)), s.Clip) / s.Clip * 255
	} else if s.Hi > s.Lo {
		f = float64(v-s.Lo) / float64(s.Hi-s.Lo) * 255
	}
	return GreyLevel(f)
}

// GreyLevel rounds f to the nearest grey level, 0 below 0 (and for NaN), 255 above 255.
func GreyLevel(f float64) uint8 {
	switch {
	case !(f > 0):
		return 0
	case f >= 255:
		return 255
	}
	return uint8(f + 0.5)
}
