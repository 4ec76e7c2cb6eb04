package viz

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Series is one curve: Y[i] at step X[i], named in the legend ("train", "dev", "run B dev").
type Series struct {
	Name string
	// Run names the training run the series belongs to when several runs share a figure
	// ("plain" for "plain dev loss"); empty for a figure of one run.
	Run  string
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
// returned when both are empty. A series looks alike in both panels: when its Run is empty,
// every name has a colour and dash pattern of its own, in order of first appearance; the
// series of a Run all take the run's colour, in every panel and in the legend, and differ by
// dash pattern and marker, one for each name with the run's name taken off its front ("dev
// loss"), the same in every run. Sparse series (at most 60 points) are drawn with a marker at
// every point. Points whose X or Y is NaN or infinite are left out, and the legend says how
// many; it says so too of a series with no points (a run without a dev evaluation).
//
// Both panels share one step axis, from the first step to the last in whole steps, with
// whole-number ticks; the accuracy axis always spans 0 to 1. Each legend goes into the corner
// where it hides the fewest points, on the right unless the left is freer (for loss, the top
// first; for accuracy, the bottom). The file is written atomically.
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
	row, err := curvePanels(title, loss, acc)
	if err != nil {
		return fmt.Errorf("viz: plot %s: %w", path, err)
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

// curvePanels returns the panels PlotCurves draws, left to right: loss, then accuracy, each
// left out when it has no series.
func curvePanels(title string, loss, acc []Series) ([]*plot.Plot, error) {
	styles := seriesStyles(loss, acc)
	xlo, xhi, haveSteps := stepRange(loss, acc)
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
		p, err := panelPlot(title, panel.ylabel, panel.series, styles)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", panel.ylabel, err)
		}
		if haveSteps {
			p.X.Min, p.X.Max = xlo, xhi
		}
		if panel.ylabel == "accuracy" {
			p.Y.Min, p.Y.Max = 0, 1
		} else if p.Y.Min == p.Y.Max && p.Y.Min >= 0 {
			// One loss value: from 0 to twice it, not the default ±1 that goes below 0.
			p.Y.Min, p.Y.Max = 0, max(2*p.Y.Max, 1)
		}
		p.Legend.Top, p.Legend.Left = legendCorner(panel.series, p, panel.top)
		row = append(row, p)
	}
	return row, nil
}

// legendCorner picks the corner of the panel p whose legend covers the fewest points of the
// series: the right-hand one at the top (top) or the bottom first, then the other one on the
// right, then those on the left, the first of these on a tie. A legend takes about the
// outer 45% of the width and 8% of the height per series.
func legendCorner(series []Series, p *plot.Plot, top bool) (legendTop, legendLeft bool) {
	w, h := p.X.Max-p.X.Min, p.Y.Max-p.Y.Min
	if !finite(w) || !finite(h) || w <= 0 || h <= 0 {
		return top, false
	}
	height := min(0.9, 0.08*float64(len(series)))
	best, bestCount := 0, -1
	corners := [][2]bool{{top, false}, {!top, false}, {top, true}, {!top, true}}
	for k, c := range corners {
		n := 0
		for _, s := range series {
			for i := range min(len(s.X), len(s.Y)) {
				x, y := (s.X[i]-p.X.Min)/w, (s.Y[i]-p.Y.Min)/h
				if !finite(x) || !finite(y) {
					continue
				}
				inX := x >= 0.55 && !c[1] || x <= 0.45 && c[1]
				inY := y >= 1-height && c[0] || y <= height && !c[0]
				if inX && inY {
					n++
				}
			}
		}
		if bestCount < 0 || n < bestCount {
			best, bestCount = k, n
		}
	}
	return corners[best][0], corners[best][1]
}

// panelPlot is one panel: every series against step, in its style.
func panelPlot(title, ylabel string, series []Series, styles map[styleKey]lineStyle) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = ylabel
	if title != "" {
		p.Title.Text = title + ": " + ylabel
	}
	p.X.Label.Text = "step"
	p.Y.Label.Text = ylabel
	p.X.Tick.Marker = niceTicks{integer: true}
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
		} else if len(s.X) == 0 {
			name += " (no points)"
		}
		st := styles[styleKey{s.Run, s.Name}]
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("series %q: %w", s.Name, err)
		}
		line.Color = st.Color()
		line.Dashes = st.Dashes()
		line.Width = vg.Points(1.5)
		thumbs := []plot.Thumbnailer{line}
		p.Add(line)
		if len(xys) <= markEvery {
			pts, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, fmt.Errorf("series %q: %w", s.Name, err)
			}
			pts.Color = line.Color
			pts.Shape = st.Shape()
			pts.Radius = vg.Points(2.5)
			p.Add(pts)
			thumbs = append(thumbs, pts)
		}
		p.Legend.Add(name, thumbs...)
	}
	return p, nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
