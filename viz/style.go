package viz

import (
	"image/color"
	"strings"

	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// lineStyle is how one series is drawn: the indexes of its colour, and of its dash pattern and
// marker shape, in plotutil's palettes.
type lineStyle struct{ color, dash int }

// Color is the series' line and marker colour.
func (s lineStyle) Color() color.Color { return plotutil.Color(s.color) }

// Dashes is the series' dash pattern.
func (s lineStyle) Dashes() []vg.Length { return plotutil.Dashes(s.dash) }

// Shape is the series' marker.
func (s lineStyle) Shape() draw.GlyphDrawer { return plotutil.Shape(s.dash) }

// styleKey identifies a series for styling: its run and its name.
type styleKey struct{ run, name string }

// seriesStyles gives every series of the panels its style, keyed by run and name, so that a
// series looks alike in every panel. A series without a Run has a colour and a dash pattern
// of its own, in order of first appearance. The series of one run share the run's colour, and
// differ by their role (the name without the run's name in front: "dev loss" of "plain dev
// loss"), each role having one dash pattern and marker across all runs.
func seriesStyles(panels ...[]Series) map[styleKey]lineStyle {
	styles := map[styleKey]lineStyle{}
	colors := map[styleKey]int{} // by run, or by name for a series without one
	roles := map[string]int{}
	index := func(m map[styleKey]int, k styleKey) int {
		if i, ok := m[k]; ok {
			return i
		}
		m[k] = len(m)
		return m[k]
	}
	for _, series := range panels {
		for _, s := range series {
			k := styleKey{s.Run, s.Name}
			if _, ok := styles[k]; ok {
				continue
			}
			if s.Run == "" {
				i := index(colors, k)
				styles[k] = lineStyle{color: i, dash: i}
				continue
			}
			role := strings.TrimSpace(strings.TrimPrefix(s.Name, s.Run))
			d, ok := roles[role]
			if !ok {
				d = len(roles)
				roles[role] = d
			}
			styles[k] = lineStyle{color: index(colors, styleKey{run: s.Run}), dash: d}
		}
	}
	return styles
}
