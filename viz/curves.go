package viz

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Series is one curve: Y[i] at step X[i], named in the legend ("train", "dev", "run B dev").
type Series struct {
	Name string
	X, Y []float64
}

// The size of the figure PlotCurves draws: two panels side by side.
const (
	CurvesWidth  = 11 * vg.Inch
	CurvesHeight = 4.5 * vg.Inch
)

// markEvery is the most points a series may have and still get a marker at every point
// (evaluations on the dev set, say, rather than one loss per training step).
const markEvery = 60

// PlotCurves draws training curves and writes them to path as PNG, SVG or PDF by its
// extension: loss against step in the left panel and accuracy against step in the right one,
// each with a legend and labelled axes. A panel with no series is left out, and an error is
// returned when both are empty. Every series name gets one colour and one dash pattern in
// both panels, in order of first appearance, so a "dev" curve looks alike in the two panels
// and several runs can be compared in one figure. Sparse series (at most 60 points) are drawn
// with a marker at every point. Points whose X or Y is NaN or infinite are left out, and the
// legend says how many. The file is written atomically.
func PlotCurves(path string, title string, loss []Series, acc []Series) error {
	ext := strings.ToLower(filepath.Ext(path))
	var c vg.CanvasWriterTo
	switch ext {
	case ".png":
		c = vgimg.PngCanvas{Canvas: vgimg.New(CurvesWidth, CurvesHeight)}
	case ".svg":
		c = vgsvg.New(CurvesWidth, CurvesHeight)
	case ".pdf":
		c = vgpdf.New(CurvesWidth, CurvesHeight)
	default:
		return fmt.Errorf("viz: plot %s: unknown extension %q: want .png, .svg or .pdf", path, ext)
	}
	if len(loss) == 0 && len(acc) == 0 {
		return fmt.Errorf("viz: plot %s: no series to draw", path)
	}
	style := map[string]int{}
	for _, group := range [][]Series{loss, acc} {
		for _, s := range group {
			if _, ok := style[s.Name]; !ok {
				style[s.Name] = len(style)
			}
		}
	}
	var row []*plot.Plot
	for _, panel := range []struct {
		ylabel string
		series []Series
		top    bool
	}{
		{"loss", loss, true},     // loss falls: the upper right is usually free
		{"accuracy", acc, false}, // accuracy rises: the lower right is usually free
	} {
		if len(panel.series) == 0 {
			continue
		}
		p, err := panelPlot(title, panel.ylabel, panel.series, style)
		if err != nil {
			return fmt.Errorf("viz: plot %s: %s: %w", path, panel.ylabel, err)
		}
		p.Legend.Top = panel.top
		row = append(row, p)
	}
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: 1, Cols: len(row), PadX: vg.Inch / 4, PadY: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 8, PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8}
	canvases := plot.Align([][]*plot.Plot{row}, tiles, dc)
	for j, p := range row {
		p.Draw(canvases[0][j])
	}
	return writeFile(path, func(w io.Writer) error {
		_, err := c.WriteTo(w)
		return err
	})
}

// panelPlot is one panel: every series against step, styled by its name's index in style.
func panelPlot(title, ylabel string, series []Series, style map[string]int) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = ylabel
	if title != "" {
		p.Title.Text = title + ": " + ylabel
	}
	p.X.Label.Text = "step"
	p.Y.Label.Text = ylabel
	p.X.Tick.Marker = niceTicks{}
	p.Y.Tick.Marker = niceTicks{}
	p.Add(plotter.NewGrid())
	for _, s := range series {
		if len(s.X) != len(s.Y) {
			return nil, fmt.Errorf("series %q has %d steps and %d values", s.Name, len(s.X), len(s.Y))
		}
		xys := make(plotter.XYs, 0, len(s.X))
		for i := range s.X {
			if finite(s.X[i]) && finite(s.Y[i]) {
				xys = append(xys, plotter.XY{X: s.X[i], Y: s.Y[i]})
			}
		}
		name := s.Name
		if dropped := len(s.X) - len(xys); dropped > 0 {
			name = fmt.Sprintf("%s (%d non-finite left out)", name, dropped)
		}
		k := style[s.Name]
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("series %q: %w", s.Name, err)
		}
		line.Color = plotutil.Color(k)
		line.Dashes = plotutil.Dashes(k)
		line.Width = vg.Points(1.5)
		thumbs := []plot.Thumbnailer{line}
		p.Add(line)
		if len(xys) <= markEvery {
			pts, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, fmt.Errorf("series %q: %w", s.Name, err)
			}
			pts.Color = line.Color
			pts.Shape = plotutil.Shape(k)
			pts.Radius = vg.Points(2.5)
			p.Add(pts)
			thumbs = append(thumbs, pts)
		}
		p.Legend.Add(name, thumbs...)
	}
	return p, nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// niceTicks labels an axis at 1, 2 or 5 times a power of ten, about five to ten labels in
// all, written with no more digits than the step needs ("250", "0.25"), and puts unlabelled
// minor ticks between them.
type niceTicks struct{}

// Ticks implements plot.Ticker.
func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !finite(lo) || !finite(hi) || hi < lo {
		return nil
	}
	if hi == lo {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 6, 64)}}
	}
	raw := (hi - lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step, minor := 10*mag, 5
	for _, m := range []struct {
		f     float64
		minor int
	}{{1, 5}, {2, 4}, {5, 5}} {
		if m.f*mag >= raw {
			step, minor = m.f*mag, m.minor
			break
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
