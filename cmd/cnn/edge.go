package main

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/data"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/internal/atomicfile"
	"gorgonia.org/tensor"
)

func init() {
	register("edge", "edge detection with the Laplacian through the project's Conv2D (5.1.7)", cmdEdge)
}

// edgeKernel is a square convolution kernel with an odd side, row-major.
type edgeKernel struct {
	name string
	side int
	w    []float32
}

// The chapter's two Laplacians (section 5.1.7).
var (
	laplace8 = edgeKernel{"laplace8", 3, []float32{-1, -1, -1, -1, 8, -1, -1, -1, -1}}
	laplace4 = edgeKernel{"laplace4", 3, []float32{0, -1, 0, -1, 4, -1, 0, -1, 0}}
)

// edgeMaxPixels bounds the pictures cnn edge takes: the convolution unrolls the picture into
// a matrix of side*side values a pixel (600 MB for a 3x3 kernel at this size).
const edgeMaxPixels = 1 << 24

// edgeGap is the width of the white band between input and feature map.
const edgeGap = 8

func (k edgeKernel) String() string {
	var b strings.Builder
	b.WriteString("[")
	for i := range k.side {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("[")
		for j := range k.side {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.FormatFloat(float64(k.w[i*k.side+j]), 'g', -1, 32))
		}
		b.WriteString("]")
	}
	return b.String() + "]"
}

// parseKernel reads --kernel: laplace8, laplace4, or rows separated by ";" of values
// separated by ",", such as "0,1,0;1,-4,1;0,1,0": a square kernel with an odd side of at
// most 15, so that padding (side-1)/2 keeps the picture's size.
func parseKernel(s string) (edgeKernel, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "laplace8", "laplacian8", "laplace":
		return laplace8, nil
	case "laplace4", "laplacian4":
		return laplace4, nil
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("--kernel %q: %s; want laplace8, laplace4 or rows of numbers such as \"0,1,0;1,-4,1;0,1,0\"", s, fmt.Sprintf(format, a...))
	}
	rows := strings.Split(strings.TrimSpace(s), ";")
	if len(rows) > 0 && strings.TrimSpace(rows[len(rows)-1]) == "" {
		rows = rows[:len(rows)-1] // a trailing ";"
	}
	if len(rows) == 0 || len(rows) > 15 {
		return edgeKernel{}, bad("%d rows", len(rows))
	}
	k := edgeKernel{name: "custom", side: len(rows)}
	for i, row := range rows {
		vals := strings.Split(row, ",")
		if len(vals) != len(rows) {
			return edgeKernel{}, bad("row %d has %d values, but there are %d rows: the kernel must be square", i+1, len(vals), len(rows))
		}
		for j, v := range vals {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 32)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return edgeKernel{}, bad("row %d, value %d: %q is not a finite number", i+1, j+1, strings.TrimSpace(v))
			}
			k.w = append(k.w, float32(f))
		}
	}
	if k.side%2 == 0 {
		return edgeKernel{}, bad("a %dx%d kernel: the side must be odd, so that padding keeps the picture's size", k.side, k.side)
	}
	return k, nil
}

// edgeResponse convolves an h x w grey picture (row-major) with k through the project's
// Conv2D: a one-layer graph, one input and one output channel, no bias, zero padding
// (side-1)/2 so the feature map has the picture's size, run by build.Evaluate.
func edgeResponse(grey []float32, h, w int, k edgeKernel) ([]float32, error) {
	params := graph.NewParams(tensor.Float32, 0)
	n := graph.New(params, graph.Fast)
	x := n.Input("image", 1, 1, h, w)
	copy(x.Value().Data().([]float32), grey)
	y := n.Conv2D("laplacian", x, graph.Conv{Out: 1, Kernel: k.side, Padding: k.side / 2, NoBias: true, Init: graph.Zeros})
	if err := n.Err(); err != nil {
		return nil, err
	}
	copy(params.Get("laplacian.weight").Value.Data().([]float32), k.w)
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

// loadGrey reads a PNG, JPEG or GIF picture and converts it to grey levels 0..255 with
// data.Grey, refusing one that declares more than edgeMaxPixels pixels before decoding it.
func loadGrey(path string) (grey []float32, h, w int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, err // *PathError names the file
	}
	defer f.Close()
	var head bytes.Buffer
	cfg, format, err := image.DecodeConfig(io.TeeReader(f, &head))
	if errors.Is(err, image.ErrFormat) {
		return nil, 0, 0, fmt.Errorf("%s: not a PNG, JPEG or GIF image", path)
	}
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s: decoding %s: %s", path, format, oneLine(err.Error()))
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, 0, 0, fmt.Errorf("%s: empty %s image", path, format)
	}
	if int64(cfg.Width)*int64(cfg.Height) > edgeMaxPixels {
		return nil, 0, 0, fmt.Errorf("%s: %s image of %dx%d pixels: more than the %d pixels cnn edge takes; shrink it first", path, format, cfg.Width, cfg.Height, edgeMaxPixels)
	}
	img, format, err := image.Decode(io.MultiReader(&head, f))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s: decoding %s: %s", path, format, oneLine(err.Error()))
	}
	b := img.Bounds()
	if b.Empty() || b.Dx()*b.Dy() > edgeMaxPixels {
		return nil, 0, 0, fmt.Errorf("%s: %s image of %dx%d pixels: want 1 to %d pixels", path, format, b.Dx(), b.Dy(), edgeMaxPixels)
	}
	return data.Grey(img), b.Dy(), b.Dx(), nil
}

// builtinPicture draws the picture cnn edge uses without --image: 256x256 grey levels, a
// flat background (40), a bright rectangle (220), a mid-grey disc (150), a dark triangle
// (10) and a thin bright line (255), all with sharp edges.
func builtinPicture() (grey []float32, h, w int) {
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

// edgeScale maps the response to 0..255 and describes how.
type edgeScale struct {
	mode     string // "minmax" or "abs"
	lo, hi   float32
	clip     float64
	describe string
}

func newEdgeScale(mode string, clip float64, resp []float32) (edgeScale, error) {
	s := edgeScale{mode: mode, clip: clip}
	s.lo, s.hi = float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range resp {
		s.lo, s.hi = min(s.lo, v), max(s.hi, v)
	}
	switch mode {
	case "minmax":
		if s.hi > s.lo {
			zero := 255 * float64(-s.lo) / float64(s.hi-s.lo)
			s.describe = fmt.Sprintf("min-max: [%g, %g] -> [0, 255] (as the chapter's plt.imshow; a zero response is grey level %.0f)", s.lo, s.hi, zero)
		} else {
			s.describe = fmt.Sprintf("min-max: the response is %g everywhere, written as black", s.lo)
		}
	case "abs":
		s.describe = fmt.Sprintf("|response| clipped at %g -> [0, 255] (a zero response is black)", clip)
	default:
		return s, fmt.Errorf("--scale %q: want minmax or abs", mode)
	}
	return s, nil
}

func (s edgeScale) pixel(v float32) uint8 {
	var f float64
	if s.mode == "abs" {
		f = math.Min(math.Abs(float64(v)), s.clip) / s.clip * 255
	} else if s.hi > s.lo {
		f = float64(v-s.lo) / float64(s.hi-s.lo) * 255
	}
	return clampByte(f)
}

func clampByte(f float64) uint8 {
	switch {
	case !(f > 0):
		return 0
	case f >= 255:
		return 255
	}
	return uint8(f + 0.5)
}

func cmdEdge(args []string, stdout io.Writer) error {
	fs := newFlags("edge", "[--image PICTURE] [-o edges.png] [--kernel laplace8|laplace4|ROWS] [--raw] [--scale minmax|abs]")
	imagePath := fs.String("image", "", "PNG, JPEG or GIF picture of any size and colour, converted to grey as PIL's convert(\"L\") (default: a built-in drawing of shapes)")
	outPath := fs.String("o", "edges.png", "the PNG to write")
	kernelText := fs.String("kernel", "laplace8", "laplace8 (centre 8, the others -1: the chapter's), laplace4 ([[0,-1,0],[-1,4,-1],[0,-1,0]]), or rows such as \"0,1,0;1,-4,1;0,1,0\" (square, odd side)")
	raw := fs.Bool("raw", false, "write the feature map alone (default: the input and the feature map side by side, as the chapter's figure)")
	scaleMode := fs.String("scale", "minmax", "how the response becomes grey levels: minmax maps its [min, max] to [0, 255], as the chapter's plt.imshow does; abs maps |response| to [0, 255], clipped at --clip")
	clip := fs.Float64("clip", 255, "with --scale abs: the |response| that is white")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q (the picture is given with --image)", pos[0])
	}
	k, err := parseKernel(*kernelText)
	if err != nil {
		return err
	}
	if *scaleMode != "minmax" && *scaleMode != "abs" {
		return fmt.Errorf("--scale %q: want minmax or abs", *scaleMode)
	}
	if *scaleMode == "abs" && (!(*clip > 0) || math.IsInf(*clip, 0)) {
		return fmt.Errorf("--clip %v: want a positive number", *clip)
	}
	if *outPath == "" {
		return fmt.Errorf("-o: want a file name")
	}
	var grey []float32
	var h, w int
	source := "the built-in drawing"
	if *imagePath != "" {
		if grey, h, w, err = loadGrey(*imagePath); err != nil {
			return err
		}
		source = *imagePath
	} else {
		grey, h, w = builtinPicture()
	}
	resp, err := edgeResponse(grey, h, w, k)
	if err != nil {
		return err
	}
	sc, err := newEdgeScale(*scaleMode, *clip, resp)
	if err != nil {
		return err
	}
	ow := w
	if !*raw {
		ow = 2*w + edgeGap
	}
	img := image.NewGray(image.Rect(0, 0, ow, h))
	for y := range h {
		row := img.Pix[y*img.Stride : y*img.Stride+ow]
		off := 0
		if !*raw {
			for x := range w {
				row[x] = clampByte(float64(grey[y*w+x]))
			}
			for x := w; x < w+edgeGap; x++ {
				row[x] = 255
			}
			off = w + edgeGap
		}
		for x := range w {
			row[off+x] = sc.pixel(resp[y*w+x])
		}
	}
	if err := atomicfile.Write(*outPath, func(wr io.Writer) error { return png.Encode(wr, img) }); err != nil {
		return err
	}
	layout := "input | feature map"
	if *raw {
		layout = "feature map"
	}
	fmt.Fprintf(stdout, "%s: %dx%d grey, convolved with %s %v (padding %d, %s Conv2D)\n", source, w, h, k.name, k, k.side/2, graph.Fast)
	fmt.Fprintf(stdout, "response: min %g, max %g; scaled %s\n", sc.lo, sc.hi, sc.describe)
	fmt.Fprintf(stdout, "wrote %s (%s, %dx%d)\n", *outPath, layout, ow, h)
	return nil
}
