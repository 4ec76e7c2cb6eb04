package chapter

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// stepPicture is 6 rows of 8 pixels: columns 0-3 are 0, columns 4-7 are 100, a vertical
// step edge between columns 3 and 4.
func stepPicture() (grey []float32, h, w int) {
	h, w = 6, 8
	grey = make([]float32, h*w)
	for y := range h {
		for x := 4; x < w; x++ {
			grey[y*w+x] = 100
		}
	}
	return grey, h, w
}

// TestEdgeStepByHand checks the feature map of the step picture against values worked out
// by hand, for both Laplacians, with the zero padding of 1:
//
//   - Laplace8, r = 8*I - (sum of the 8 neighbours): 0 on the dark side (columns 0-2) and
//     inside the bright side (columns 5-6, rows 1-4); at the edge, column 3 (I = 0, three
//     bright neighbours; two in the first and last rows) -300 (-200), column 4 (I = 100, five
//     bright neighbours, three in the first and last rows) 800-500 = 300 (800-300 = 500).
//     The zero padding makes the picture's own border an edge of the bright side too: 300
//     along it (five bright neighbours), 500 in its corners (three).
//   - Laplace4, r = 4*I - (up + down + left + right): column 3 -100 everywhere; column 4
//     400-300 = 100 (400-200 = 200 in the first and last rows); the bright border 100, its
//     corners 200.
func TestEdgeStepByHand(t *testing.T) {
	grey, h, w := stepPicture()
	for _, c := range []struct {
		k    Kernel
		want [][]float32
	}{
		{Laplace8, [][]float32{
			{0, 0, 0, -200, 500, 300, 300, 500},
			{0, 0, 0, -300, 300, 0, 0, 300},
			{0, 0, 0, -300, 300, 0, 0, 300},
			{0, 0, 0, -300, 300, 0, 0, 300},
			{0, 0, 0, -300, 300, 0, 0, 300},
			{0, 0, 0, -200, 500, 300, 300, 500},
		}},
		{Laplace4, [][]float32{
			{0, 0, 0, -100, 200, 100, 100, 200},
			{0, 0, 0, -100, 100, 0, 0, 100},
			{0, 0, 0, -100, 100, 0, 0, 100},
			{0, 0, 0, -100, 100, 0, 0, 100},
			{0, 0, 0, -100, 100, 0, 0, 100},
			{0, 0, 0, -100, 200, 100, 100, 200},
		}},
	} {
		got, err := EdgeResponse(grey, h, w, c.k)
		if err != nil {
			t.Fatal(err)
		}
		for y := range h {
			if row := got[y*w : (y+1)*w]; !slices.Equal(row, c.want[y]) {
				t.Errorf("%s: row %d = %v, want %v", c.k.Name, y, row, c.want[y])
			}
		}
	}
	// A picture that does not match its size and a malformed kernel are errors.
	if _, err := EdgeResponse(grey, h, w+1, Laplace8); err == nil {
		t.Error("6x9 picture of 48 values: no error")
	}
	if _, err := EdgeResponse(grey, h, w, Kernel{Name: "short", Side: 3, W: []float32{1}}); err == nil {
		t.Error("3x3 kernel of 1 weight: no error")
	}
}

// TestParseKernel reads the Laplacians by name and as rows of numbers, and refuses kernels
// that are not square with an odd side of at most 15 or hold values that are not finite.
func TestParseKernel(t *testing.T) {
	for text, want := range map[string]Kernel{
		"-1,-1,-1;-1,8,-1;-1,-1,-1":         Laplace8,
		" 0, -1, 0 ; -1, 4, -1 ; 0, -1, 0;": Laplace4,
		"laplace4":                          Laplace4,
		"LAPLACE8":                          Laplace8,
	} {
		k, err := ParseKernel(text)
		if err != nil || k.Side != 3 || !slices.Equal(k.W, want.W) {
			t.Errorf("ParseKernel(%q) = %v, %v; want %v", text, k, err, want)
		}
	}
	if k, err := ParseKernel("2"); err != nil || k.Side != 1 || k.Padding() != 0 || k.Name != "custom" {
		t.Errorf("a 1x1 kernel: %+v, %v", k, err)
	}
	if got, want := Laplace4.String(), "[[0, -1, 0], [-1, 4, -1], [0, -1, 0]]"; got != want {
		t.Errorf("Laplace4.String() = %q, want %q", got, want)
	}
	for text, want := range map[string]string{
		"1,2;3":                  "row 2 has 1 values, but there are 2 rows: the kernel must be square",
		"1,2;3,4":                "a 2x2 kernel: the side must be odd",
		"0,1,0;1,x,1;0,1,0":      `row 2, value 2: "x" is not a finite number`,
		"1e40":                   `row 1, value 1: "1e40" is not a finite number`,
		"":                       "0 rows",
		"sobel":                  `row 1, value 1: "sobel" is not a finite number`,
		strings.Repeat("1;", 16): "16 rows",
	} {
		_, err := ParseKernel(text)
		if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), `; want laplace8, laplace4 or rows of numbers such as "0,1,0;1,-4,1;0,1,0"`) {
			t.Errorf("ParseKernel(%q): %v; want an error starting %q", text, err, want)
		}
	}
}

// TestEdgeScale maps the step picture's Laplace8 response, [-300, 500], to grey levels by
// hand: min-max sends -300 to 0, 0 to 95.6 -> 96, 300 to 191.25 -> 191 and 500 to 255; abs
// clipped at 300 sends 0 to 0, -200 to 170 and both 300 and 500 to 255.
func TestEdgeScale(t *testing.T) {
	resp := []float32{-300, -200, 0, 300, 500}
	for _, c := range []struct {
		mode string
		want []uint8
		desc string
	}{
		{"minmax", []uint8{0, 32, 96, 191, 255}, "min-max: [-300, 500] -> [0, 255] (as the chapter's plt.imshow; a zero response is grey level 96)"},
		{"abs", []uint8{255, 170, 0, 255, 255}, "|response| clipped at 300 -> [0, 255] (a zero response is black)"},
	} {
		s, err := NewEdgeScale(c.mode, 300, resp)
		if err != nil {
			t.Fatal(err)
		}
		var got []uint8
		for _, v := range resp {
			got = append(got, s.Pixel(v))
		}
		if !slices.Equal(got, c.want) || s.Lo != -300 || s.Hi != 500 || s.Description != c.desc {
			t.Errorf("%s: %v, [%g, %g], %q; want %v, [-300, 500], %q", c.mode, got, s.Lo, s.Hi, s.Description, c.want, c.desc)
		}
	}
	if s, err := NewEdgeScale("minmax", 0, []float32{7, 7}); err != nil || s.Pixel(7) != 0 || !strings.Contains(s.Description, "7 everywhere") {
		t.Errorf("a flat response: %+v, %v", s, err)
	}
	for _, c := range []struct {
		mode string
		clip float64
	}{{"log", 1}, {"abs", 0}, {"abs", math.Inf(1)}, {"abs", math.NaN()}} {
		if _, err := NewEdgeScale(c.mode, c.clip, resp); err == nil {
			t.Errorf("NewEdgeScale(%q, %v): no error", c.mode, c.clip)
		}
	}
	for f, want := range map[float64]uint8{math.NaN(): 0, -3: 0, 0.4: 0, 0.5: 1, 254.4: 254, 254.6: 255, 1e9: 255} {
		if got := GreyLevel(f); got != want {
			t.Errorf("GreyLevel(%v) = %d, want %d", f, got, want)
		}
	}
}

// TestBuiltinPicture checks the built-in drawing's size and a pixel of each shape.
func TestBuiltinPicture(t *testing.T) {
	grey, h, w := BuiltinPicture()
	if h != 256 || w != 256 || len(grey) != h*w {
		t.Fatalf("%dx%d picture of %d values", w, h, len(grey))
	}
	for _, c := range []struct {
		x, y int
		want float32
	}{{0, 0, 40}, {100, 201, 255}, {50, 50, 220}, {176, 84, 150}, {60, 160, 10}} {
		if got := grey[c.y*w+c.x]; got != c.want {
			t.Errorf("(%d, %d) = %g, want %g", c.x, c.y, got, c.want)
		}
	}
}
