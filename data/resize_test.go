package data

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// fixtureDir holds the reference data made with PyTorch and PIL (see its README.md).
var fixtureDir = filepath.Join("..", "testdata", "mnist")

// fixture is testdata/mnist/fixture.json.
type fixture struct {
	First3 struct {
		Labels []int
		H, W   int
		X      []float32
	}
	Up struct {
		InH   int `json:"in_h"`
		InW   int `json:"in_w"`
		H, W  int
		Input []float32
		Out   []float32
	}
	Down struct {
		InH   int `json:"in_h"`
		InW   int `json:"in_w"`
		H, W  int
		Input []float32
		X     []float32
	}
	RGB struct {
		File string
		Grey []float32
		H, W int
		X    []float32
	}
	RGBA, GIF struct {
		File string
		Grey []float32
	}
}

func loadFixture(t *testing.T) *fixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, "fixture.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return &f
}

// maxDiff returns the largest absolute difference and its index; lengths must match.
func maxDiff(t *testing.T, got, want []float32) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d values, want %d", len(got), len(want))
	}
	var m float64
	for i := range got {
		m = max(m, math.Abs(float64(got[i])-float64(want[i])))
	}
	return m
}

func normalized(v []float32) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = Normalize(x)
	}
	return out
}

func TestResizeMatchesReference(t *testing.T) {
	f := loadFixture(t)
	s, err := ChapterSubset()
	if err != nil {
		t.Fatal(err)
	}
	first3 := (&Raw{H: 28, W: 28, Pix: s.Train.Pix[:3*28*28], Labels: s.Train.Labels[:3]}).Dataset(32, 32)

	up, err := Resize(f.Up.Input, f.Up.InH, f.Up.InW, f.Up.H, f.Up.W)
	if err != nil {
		t.Fatal(err)
	}
	down, err := Resize(f.Down.Input, f.Down.InH, f.Down.InW, f.Down.H, f.Down.W)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want []float32
		tol       float64
	}{
		// torch, normalised: 28x28 -> 32x32 of the first 3 training images
		{"first 3 train images (torch)", first3.X, f.First3.X, 1e-5},
		// torch, pixel units: 5x7 -> 9x16
		{"5x7 to 9x16 (torch)", up, f.Up.Out, 1e-5 * 127.5},
		// PIL BILINEAR on a float image, normalised: 40x37 -> 32x32
		{"40x37 to 32x32 (PIL)", normalized(down), f.Down.X, 1e-5},
	}
	for _, tt := range tests {
		if d := maxDiff(t, tt.got, tt.want); d > tt.tol {
			t.Errorf("%s: max difference %g, want at most %g", tt.name, d, tt.tol)
		}
	}
	if !equalInts(first3.Y, f.First3.Labels) {
		t.Errorf("labels %v, want %v", first3.Y, f.First3.Labels)
	}
}

func TestResizeProperties(t *testing.T) {
	src := make([]float32, 6*5)
	for i := range src {
		src[i] = float32(i * 7 % 255)
	}
	tests := []struct {
		name                 string
		inH, inW, outH, outW int
	}{
		{"same size", 6, 5, 6, 5},
		{"up", 6, 5, 13, 11},
		{"down", 6, 5, 3, 2},
		{"to one pixel", 6, 5, 1, 1},
		{"mixed", 6, 5, 2, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A constant image stays constant (the weights are normalised).
			c := make([]float32, tt.inH*tt.inW)
			for i := range c {
				c[i] = 42
			}
			out, err := Resize(c, tt.inH, tt.inW, tt.outH, tt.outW)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range out {
				if math.Abs(float64(v)-42) > 1e-4 {
					t.Fatalf("constant image: value %d is %g", i, v)
				}
			}
			// Values stay within the input's range (the weights are non-negative).
			out, _ = Resize(src, tt.inH, tt.inW, tt.outH, tt.outW)
			for i, v := range out {
				if v < 0 || v > 254.0001 {
					t.Fatalf("value %d is %g, outside [0, 254]", i, v)
				}
			}
			if tt.inH == tt.outH && tt.inW == tt.outW && maxDiff(t, out, src) != 0 {
				t.Errorf("resize to the same size changed the image")
			}
		})
	}
	if _, err := Resize(src, 6, 4, 3, 3); err == nil {
		t.Error("Resize with a wrong length: no error")
	}
	if _, err := Resize(src, 6, 5, 0, 3); err == nil {
		t.Error("Resize to 0 rows: no error")
	}
}
