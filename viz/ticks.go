package viz

import (
	"math"
	"strconv"

	"gonum.org/v1/plot"
)

// niceTicks labels an axis at 1, 2 or 5 times a power of ten, about five to ten labels in
// all, written with no more digits than the step needs ("250", "0.25"), and puts unlabelled
// minor ticks between them. With integer set, every tick, minor ones too, is a whole number
// (a step axis: no step 0.5).
type niceTicks struct{ integer bool }

// Ticks implements plot.Ticker.
func (nt niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !finite(lo) || !finite(hi) || hi < lo {
		return nil
	}
	if hi == lo {
		if nt.integer && lo != math.Round(lo) {
			return nil
		}
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 6, 64)}}
	}
	step, minor := niceStep((hi - lo) / 5)
	if nt.integer {
		if step < 1 {
			step, minor = 1, 1
		}
		for minor > 1 && step/float64(minor) != math.Trunc(step/float64(minor)) {
			minor /= 2
		}
	}
	decimals := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	var ticks []plot.Tick
	sub := step / float64(minor)
	for i := math.Ceil(lo / sub); i*sub <= hi+sub*1e-9 && len(ticks) < 100; i++ {
		v := i * sub
		if math.Abs(v) < sub*1e-9 {
			v = 0
		}
		t := plot.Tick{Value: v}
		if int64(i)%int64(minor) == 0 {
			t.Label = strconv.FormatFloat(v, 'f', decimals, 64)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// niceStep returns the smallest of 1, 2 or 5 times a power of ten that is at least raw, and
// how many minor intervals divide it.
func niceStep(raw float64) (step float64, minor int) {
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []struct {
		f     float64
		minor int
	}{{1, 5}, {2, 4}, {5, 5}} {
		if m.f*mag >= raw {
			return m.f * mag, m.minor
		}
	}
	return 10 * mag, 5
}

// stepRange is the range of a step axis holding the finite steps of the series: from the
// first step to the last, widened to whole steps, and at least one step wide (a lone step s
// gets s-1 to s+1, and 0 to 1 when s is 0: never a negative step). ok is false
// when no series has a finite point.
func stepRange(panels ...[]Series) (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, series := range panels {
		for _, s := range series {
			for i, x := range s.X {
				if i < len(s.Y) && finite(x) && finite(s.Y[i]) {
					lo, hi = math.Min(lo, x), math.Max(hi, x)
				}
			}
		}
	}
	if lo > hi {
		return 0, 0, false
	}
	lo, hi = math.Floor(lo), math.Ceil(hi)
	if lo == hi {
		if lo >= 1 {
			lo--
		}
		hi++
	}
	return lo, hi, true
}
