package viz

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/nndl/cnn/trainer"
)

// history makes a run of steps training steps, with an evaluation every fifth step and after
// the last.
func history(steps int) *trainer.History {
	var h trainer.History
	for s := 0; s < steps; s++ {
		h.Train = append(h.Train, trainer.StepLoss{Step: s, Loss: 2.3 / float64(s+1)})
		if s%5 == 0 || s == steps-1 {
			h.Dev = append(h.Dev, trainer.Eval{Step: s, Loss: 2 / float64(s+1), Acc: 1 - 1/float64(s+2)})
		}
	}
	return &h
}

// compared is what cnn compare draws for the named runs.
func compared(runs ...string) (loss, acc []Series) {
	for _, r := range runs {
		l, a := HistoryCurves(history(30), r+" ")
		loss, acc = append(loss, l...), append(acc, a...)
	}
	return loss, acc
}

func hex(c color.Color) string {
	r, g, b, _ := c.RGBA()
	return fmt.Sprintf("#%02X%02X%02X", r>>8, g>>8, b>>8)
}

func TestSeriesStylesPerRun(t *testing.T) {
	runs := []string{"plain", "residual", "wide"}
	loss, acc := compared(runs...)
	styles := seriesStyles(loss, acc)
	runColor := map[string]string{}
	roleDash := map[string]int{}
	for _, s := range append(append([]Series(nil), loss...), acc...) {
		st, ok := styles[styleKey{s.Run, s.Name}]
		if !ok {
			t.Fatalf("series %q of run %q has no style", s.Name, s.Run)
		}
		if c, ok := runColor[s.Run]; !ok {
			runColor[s.Run] = hex(st.Color())
		} else if c != hex(st.Color()) {
			t.Errorf("run %q: %q is %s, its other series %s", s.Run, s.Name, hex(st.Color()), c)
		}
		role := strings.TrimPrefix(s.Name, s.Run+" ")
		if d, ok := roleDash[role]; !ok {
			roleDash[role] = st.dash
		} else if d != st.dash {
			t.Errorf("%q has dash %d, %q in another run %d", s.Name, st.dash, role, d)
		}
	}
	seen := map[string]string{}
	for _, r := range runs {
		if other, ok := seen[runColor[r]]; ok {
			t.Errorf("runs %q and %q share colour %s", r, other, runColor[r])
		}
		seen[runColor[r]] = r
	}
	dashes := map[int]string{}
	for role, d := range roleDash {
		if other, ok := dashes[d]; ok {
			t.Errorf("%q and %q share dash pattern %d within a run", role, other, d)
		}
		dashes[d] = role
	}
	if len(roleDash) != 3 {
		t.Errorf("roles %v, want train loss, dev loss and dev accuracy", roleDash)
	}

	// One run, no Run: every name its own colour, the same in both panels.
	l, a := HistoryCurves(history(30), "")
	one := seriesStyles(l, a, []Series{{Name: "dev loss"}})
	if len(one) != 3 {
		t.Errorf("%d styles for one run's three series", len(one))
	}
	colours := map[string]bool{}
	for _, st := range one {
		colours[hex(st.Color())] = true
	}
	if len(colours) != 3 {
		t.Errorf("one run's three series have %d colours, want 3", len(colours))
	}
}

// strokeColours lists the colours an SVG strokes with, leaving out the black axes and
// the grey grid.
func strokeColours(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, m := range regexp.MustCompile(`stroke:(#[0-9A-Fa-f]{6})`).FindAllStringSubmatch(string(b), -1) {
		if c := strings.ToUpper(m[1]); c != "#000000" && c != "#808080" {
			set[c] = true
		}
	}
	var got []string
	for c := range set {
		got = append(got, c)
	}
	sort.Strings(got)
	return got
}

// The figure cnn compare writes strokes in exactly one colour per run: lines, markers and
// legend entries of both panels.
func TestPlotCurvesOneColourPerRun(t *testing.T) {
	loss, acc := compared("plain", "residual")
	path := filepath.Join(t.TempDir(), "compare.svg")
	if err := PlotCurves(path, "comparison", loss, acc); err != nil {
		t.Fatal(err)
	}
	styles := seriesStyles(loss, acc)
	want := []string{
		hex(styles[styleKey{"plain", "plain train loss"}].Color()),
		hex(styles[styleKey{"residual", "residual train loss"}].Color()),
	}
	sort.Strings(want)
	if got := strokeColours(t, path); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the figure strokes in %v, want the two runs' colours %v", got, want)
	}
}

// line is a series through the points (i, y[i]).
func line(name string, y ...float64) Series {
	s := Series{Name: name, Y: y}
	for i := range y {
		s.X = append(s.X, float64(i))
	}
	return s
}

func TestLegendCorner(t *testing.T) {
	for _, tc := range []struct {
		name      string
		loss, acc []Series
		panel     int
		top, left bool
	}{
		{"falling loss: top right", []Series{line("train", 2.3, 1, 0.5, 0.3, 0.2, 0.1)}, nil, 0, true, false},
		{"rising loss: bottom right", []Series{line("train", 0.1, 0.2, 0.4, 0.8, 1.6, 2.3)}, nil, 0, false, false},
		{"rising accuracy: bottom right", nil, []Series{line("dev", 0.1, 0.5, 0.8, 0.9, 0.95, 0.97)}, 0, false, false},
		{"low accuracy, two runs: top right", nil, []Series{line("a dev", 0.1, 0.1, 0.1, 0.1, 0.1, 0.1), line("b dev", 0.09, 0.1, 0.11, 0.1, 0.1, 0.1)}, 0, true, false},
		{"every right corner taken: top left", []Series{line("a", 0, 0, 0, 0, 0, 3), line("b", 0, 0, 0, 0, 0, 0)}, nil, 0, true, true},
	} {
		row, err := curvePanels("", tc.loss, tc.acc)
		if err != nil {
			t.Fatal(err)
		}
		if l := row[tc.panel].Legend; l.Top != tc.top || l.Left != tc.left {
			t.Errorf("%s: legend top %v left %v, want %v %v", tc.name, l.Top, l.Left, tc.top, tc.left)
		}
	}
}
