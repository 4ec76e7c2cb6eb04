package viz

import "github.com/nndl/cnn/trainer"

// HistoryCurves turns a training history into the series PlotCurves draws: the training loss
// of every step and the dev loss of every evaluation in the loss panel, the dev accuracy in
// the accuracy panel, their names prefixed by prefix (a run's name when several are compared).
func HistoryCurves(h *trainer.History, prefix string) (loss, acc []Series) {
	tr := Series{Name: prefix + "train loss"}
	for _, s := range h.Train {
		tr.X = append(tr.X, float64(s.Step))
		tr.Y = append(tr.Y, s.Loss)
	}
	dl := Series{Name: prefix + "dev loss"}
	da := Series{Name: prefix + "dev accuracy"}
	for _, e := range h.Dev {
		dl.X = append(dl.X, float64(e.Step))
		dl.Y = append(dl.Y, e.Loss)
		da.X = append(da.X, float64(e.Step))
		da.Y = append(da.Y, e.Acc)
	}
	return []Series{tr, dl}, []Series{da}
}
