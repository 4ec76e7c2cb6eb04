package viz

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run makes one run's curves: a training loss every step and an evaluation every tenth.
func run(prefix string, steps int, rate float64) (loss, acc []Series) {
	train := Series{Name: prefix + "train"}
	dev := Series{Name: prefix + "dev"}
	trainAcc := Series{Name: prefix + "train"}
	devAcc := Series{Name: prefix + "dev"}
	for s := 0; s < steps; s++ {
		x := float64(s)
		train.X = append(train.X, x)
		train.Y = append(train.Y, 2.3*math.Exp(-rate*x)+0.05*math.Sin(x))
		if s%10 == 0 {
			dev.X = append(dev.X, x)
			dev.Y = append(dev.Y, 2.3*math.Exp(-rate*x)+0.1)
			trainAcc.X = append(trainAcc.X, x)
			trainAcc.Y = append(trainAcc.Y, 1-0.9*math.Exp(-rate*x))
			devAcc.X = append(devAcc.X, x)
			devAcc.Y = append(devAcc.Y, 0.97-0.9*math.Exp(-rate*x))
		}
	}
	return []Series{train, dev}, []Series{trainAcc, devAcc}
}

func TestPlotCurves(t *testing.T) {
	loss, acc := run("", 300, 0.02)
	loss2, acc2 := run("B ", 300, 0.05)
	diverged := Series{Name: "diverged", X: []float64{0, 1, 2, 3}, Y: []float64{2.3, 5, math.Inf(1), math.NaN()}}
	for _, tc := range []struct {
		name      string
		title     string
		loss, acc []Series
	}{
		{"one run", "lenet", loss, acc},
		{"two runs", "fast vs naive", append(loss, loss2...), append(acc, acc2...)},
		{"loss only", "", loss, nil},
		{"accuracy only", "acc", nil, acc},
		{"non-finite and empty series", "diverged", []Series{diverged, {Name: "empty"}}, []Series{{Name: "flat", X: []float64{0, 10}, Y: []float64{0.5, 0.5}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			pngPath, svgPath := filepath.Join(dir, "curves.png"), filepath.Join(dir, "curves.svg")
			for _, p := range []string{pngPath, svgPath} {
				if err := PlotCurves(p, tc.title, tc.loss, tc.acc); err != nil {
					t.Fatal(err)
				}
			}
			onlyFile(t, dir, "curves.png", "curves.svg")

			b, err := os.ReadFile(pngPath)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("PNG does not decode: %v", err)
			}
			// 11 x 4.5 inches at 96 dpi.
			if s := img.Bounds().Size(); s.X != 1056 || s.Y != 432 {
				t.Errorf("PNG is %v, want 1056x432", s)
			}

			svg, err := os.ReadFile(svgPath)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(svg, []byte("<?xml")) && !bytes.HasPrefix(svg, []byte("<svg")) {
				t.Errorf("SVG starts %q", svg[:min(len(svg), 20)])
			}
			var want []string
			if len(tc.loss) > 0 {
				want = append(want, ">step<", ">loss<")
			}
			if len(tc.acc) > 0 {
				want = append(want, ">accuracy<")
			}
			for _, group := range [][]Series{tc.loss, tc.acc} {
				for _, s := range group {
					want = append(want, ">"+s.Name)
				}
			}
			if tc.title != "" {
				want = append(want, tc.title+": ")
			}
			for _, w := range want {
				if !bytes.Contains(svg, []byte(w)) {
					t.Errorf("SVG lacks text %q", w)
				}
			}
			if strings.HasPrefix(tc.name, "non-finite") && !bytes.Contains(svg, []byte("2 non-finite left out")) {
				t.Error("legend does not say that non-finite points were left out")
			}
			if strings.HasPrefix(tc.name, "non-finite") && !bytes.Contains(svg, []byte(">empty (no points)<")) {
				t.Error("legend does not say that a series has no points")
			}
		})
	}
}

func TestPlotCurvesErrors(t *testing.T) {
	loss, acc := run("", 20, 0.1)
	for _, tc := range []struct {
		name, file string
		loss, acc  []Series
		want       string
	}{
		{"extension", "c.jpg", loss, acc, "unknown extension"},
		{"no extension", "c", loss, acc, "unknown extension"},
		{"nothing to draw", "c.png", nil, nil, "no series"},
		{"lengths differ", "c.svg", []Series{{Name: "bad", X: []float64{1, 2}, Y: []float64{1}}}, acc, `"bad" has 2 steps and 1 values`},
		{"missing directory", filepath.Join("missing", "c.png"), loss, acc, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			err := PlotCurves(filepath.Join(dir, tc.file), "x", tc.loss, tc.acc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			onlyFile(t, dir)
		})
	}
}

func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   string // the labelled ticks
	}{
		{0, 300, "0 100 200 300"},
		{0.07, 0.99, "0.2 0.4 0.6 0.8"},
		{-0.5, 1.5, "-0.5 0.0 0.5 1.0 1.5"},
		{0, 1, "0.0 0.2 0.4 0.6 0.8 1.0"},
		{1200, 9800, "2000 4000 6000 8000"},
		{2, 2, "2"},
		{math.NaN(), 1, ""},
		{1, 0, ""},
	} {
		var labels []string
		for _, tk := range (niceTicks{}).Ticks(tc.lo, tc.hi) {
			if tk.Label != "" {
				labels = append(labels, tk.Label)
			}
		}
		if got := strings.Join(labels, " "); got != tc.want {
			t.Errorf("Ticks(%v, %v) labels %q, want %q", tc.lo, tc.hi, got, tc.want)
		}
	}
}
