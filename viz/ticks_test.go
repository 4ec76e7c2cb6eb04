package viz

import (
	"math"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// labels returns the labelled ticks an axis of the given range gets from nt.
func labels(nt niceTicks, lo, hi float64) string {
	var l []string
	for _, tk := range nt.Ticks(lo, hi) {
		if tk.Label != "" {
			l = append(l, tk.Label)
		}
	}
	return strings.Join(l, " ")
}

func TestIntegerTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   string
	}{
		{0, 1, "0 1"},
		{0, 2, "0 1 2"},
		{78, 80, "78 79 80"},
		{0, 7, "0 2 4 6"},
		{0, 79, "0 20 40 60"},
		{0, 2999, "0 1000 2000"},
		{3, 3, "3"},
		{0.5, 0.5, ""},
	} {
		nt := niceTicks{integer: true}
		if got := labels(nt, tc.lo, tc.hi); got != tc.want {
			t.Errorf("Ticks(%v, %v) labels %q, want %q", tc.lo, tc.hi, got, tc.want)
		}
		for _, tk := range nt.Ticks(tc.lo, tc.hi) {
			if tk.Value != math.Trunc(tk.Value) {
				t.Errorf("Ticks(%v, %v) has a tick at step %v", tc.lo, tc.hi, tk.Value)
			}
		}
	}
}

// The panels of a run of one, two and 3,000 steps: the step axis runs over whole steps from
// the first to the last, never below 0, labelled at whole steps; accuracy spans 0 to 1; a
// lone loss value sits in a range from 0.
func TestCurveAxes(t *testing.T) {
	for _, tc := range []struct {
		name           string
		steps          int
		xlo, xhi       float64
		xlabels        string
		lossLo, lossHi float64 // NaN: not checked
	}{
		{"one point", 1, 0, 1, "0 1", 0, 4.6},
		{"two points", 2, 0, 1, "0 1", math.NaN(), math.NaN()},
		{"long run", 3000, 0, 2999, "0 1000 2000", math.NaN(), math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loss, acc := HistoryCurves(history(tc.steps), "")
			if tc.steps == 1 {
				loss = loss[:1] // the training loss only: one value
			}
			row, err := curvePanels("lenet", loss, acc)
			if err != nil {
				t.Fatal(err)
			}
			if len(row) != 2 {
				t.Fatalf("%d panels, want 2", len(row))
			}
			for i, p := range row {
				p.Draw(draw.New(vgimg.New(CurvesWidth/2, CurvesHeight))) // drawing must keep the ranges
				if p.X.Min != tc.xlo || p.X.Max != tc.xhi {
					t.Errorf("panel %d: steps %v to %v, want %v to %v", i, p.X.Min, p.X.Max, tc.xlo, tc.xhi)
				}
				if got := labels(p.X.Tick.Marker.(niceTicks), p.X.Min, p.X.Max); got != tc.xlabels {
					t.Errorf("panel %d: step labels %q, want %q", i, got, tc.xlabels)
				}
			}
			if a := row[1]; a.Y.Min != 0 || a.Y.Max != 1 {
				t.Errorf("accuracy axis %v to %v, want 0 to 1", a.Y.Min, a.Y.Max)
			}
			if l := row[0]; !math.IsNaN(tc.lossLo) && (l.Y.Min != tc.lossLo || l.Y.Max != tc.lossHi) {
				t.Errorf("loss axis %v to %v, want %v to %v", l.Y.Min, l.Y.Max, tc.lossLo, tc.lossHi)
			}
		})
	}
}

func TestStepRange(t *testing.T) {
	for _, tc := range []struct {
		name   string
		series []Series
		lo, hi float64
		ok     bool
	}{
		{"lone step 0", []Series{{X: []float64{0}, Y: []float64{1}}}, 0, 1, true},
		{"lone step 79", []Series{{X: []float64{79}, Y: []float64{1}}}, 78, 80, true},
		{"fractional", []Series{{X: []float64{0.5, 2.5}, Y: []float64{1, 1}}}, 0, 3, true},
		{"across series", []Series{{X: []float64{15}, Y: []float64{1}}, {X: []float64{0, 3}, Y: []float64{1, 1}}}, 0, 15, true},
		{"non-finite left out", []Series{{X: []float64{0, 9, math.Inf(1)}, Y: []float64{1, math.NaN(), 1}}}, 0, 1, true},
		{"nothing", []Series{{Name: "empty"}}, 0, 0, false},
	} {
		lo, hi, ok := stepRange(tc.series)
		if lo != tc.lo || hi != tc.hi || ok != tc.ok {
			t.Errorf("%s: %v, %v, %v; want %v, %v, %v", tc.name, lo, hi, ok, tc.lo, tc.hi, tc.ok)
		}
	}
}
