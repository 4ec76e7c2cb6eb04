package viz

import (
	"strings"

	"github.com/nndl/cnn/trainer"
)

// HistoryCurves turns a training history into the series PlotCurves draws: the training loss
// of every step and the dev loss of every evaluation in the loss panel, the dev accuracy in
// the accuracy panel, their names prefixed by prefix (a run's name and a space when several
// are compared, "plain "). The series' Run is the prefix without its spaces, so each run has
// one colour in every panel.
func HistoryCurves(h *trainer.History, prefix string) (loss, acc []Series) {
	run := strings.TrimSpace(prefix)
	tr := Series{Name: prefix + "train loss", Run: run}
	for _, s := range h.Train {
		tr.X = append(tr.X, float64(s.Step))
		tr.Y = append(tr.Y, s.Loss)
	}
	dl := Series{Name: prefix + "dev loss", Run: run}
	da := Series{Name: prefix + "dev accuracy", Run: run}
	for _, e := range h.Dev {
		dl.X = append(dl.X, float64(e.Step))
		dl.Y = append(dl.Y, e.Loss)
		da.X = append(da.X, float64(e.Step))
		da.Y = append(da.Y, e.Acc)
	}
	return []Series{tr, dl}, []Series{da}
}
