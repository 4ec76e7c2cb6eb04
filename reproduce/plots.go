package reproduce

import (
	"fmt"
	"image"
	"image/color"
	"io"
	"path/filepath"
	"strings"

	"github.com/nndl/cnn/internal/atomicfile"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// savePlots draws plots side by side on a w x h canvas and writes it to path as PNG or SVG,
// by its extension, atomically.
func savePlots(path string, w, h vg.Length, row []*plot.Plot) error {
	var c vg.CanvasWriterTo
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".png":
		c = vgimg.PngCanvas{Canvas: vgimg.New(w, h)}
	case ".svg":
		c = vgsvg.New(w, h)
	default:
		return fmt.Errorf("%s: unknown figure extension %q: want .png or .svg", path, ext)
	}
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: 1, Cols: len(row), PadX: vg.Inch / 4, PadY: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 8, PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8}
	canvases := plot.Align([][]*plot.Plot{row}, tiles, dc)
	for j, p := range row {
		p.Draw(canvases[0][j])
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := c.WriteTo(w)
		return err
	})
}

// RFPoint is one layer on a receptive-field plot.
type RFPoint struct {
	Label string // shown next to the point; "" for none
	RF    int
}

// rfPanel plots the receptive field against depth for one network, with the input side as a
// dashed line.
func rfPanel(title string, pts []RFPoint, input int) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "conv / pool layer (depth along the main path)"
	p.Y.Label.Text = "receptive field (input pixels, one side)"
	p.Add(plotter.NewGrid())
	xys := make(plotter.XYs, len(pts))
	var labels plotter.XYLabels
	for i, pt := range pts {
		xys[i] = plotter.XY{X: float64(i + 1), Y: float64(pt.RF)}
		if pt.Label != "" {
			labels.XYs = append(labels.XYs, xys[i])
			labels.Labels = append(labels.Labels, fmt.Sprintf(" %s (%d)", pt.Label, pt.RF))
		}
	}
	line, pts2, err := plotter.NewLinePoints(xys)
	if err != nil {
		return nil, err
	}
	line.Color = plotutil.Color(0)
	line.Width = vg.Points(1.5)
	pts2.Color = plotutil.Color(0)
	pts2.Shape = plotutil.Shape(0)
	p.Add(line, pts2)
	p.Legend.Add("receptive field", line, pts2)
	in, err := plotter.NewLine(plotter.XYs{{X: 1, Y: float64(input)}, {X: float64(len(pts)), Y: float64(input)}})
	if err != nil {
		return nil, err
	}
	in.Color = plotutil.Color(1)
	in.Dashes = plotutil.Dashes(1)
	p.Add(in)
	p.Legend.Add(fmt.Sprintf("input side (%d)", input), in)
	// The curve rises from the lower left to the upper right: the lower right is free.
	p.Legend.Top = false
	p.Legend.Left = false
	p.Legend.XOffs = -vg.Points(8)
	p.Legend.YOffs = vg.Points(8)
	if len(labels.XYs) > 0 {
		l, err := plotter.NewLabels(labels)
		if err != nil {
			return nil, err
		}
		p.Add(l)
	}
	p.X.Max = float64(len(pts)) * 1.18 // room for the last label
	p.Y.Min = 0
	return p, nil
}

// plotRF writes the receptive-field figure: one panel per network.
func plotRF(path string, input int, nets []string, points [][]RFPoint) error {
	var row []*plot.Plot
	for i, name := range nets {
		p, err := rfPanel(name, points[i], input)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", path, name, err)
		}
		row = append(row, p)
	}
	return savePlots(path, 11*vg.Inch, 4.5*vg.Inch, row)
}

// imagePanel shows an image with a title and no axes.
func imagePanel(title string, img image.Image) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(14)
	b := img.Bounds()
	p.Add(plotter.NewImage(img, 0, 0, float64(b.Dx()), float64(b.Dy())))
	p.HideAxes()
	p.BackgroundColor = color.White
	return p
}

// plotEdges writes section 5.1.7's figure: the input picture and the output feature map side
// by side.
func plotEdges(path string, in, out image.Image) error {
	return savePlots(path, 8*vg.Inch, 4.3*vg.Inch, []*plot.Plot{imagePanel("input image", in), imagePanel("output feature map", out)})
}
