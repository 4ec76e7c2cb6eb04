package reproduce

import (
	"fmt"
	"strings"

	"github.com/nndl/cnn/chapter"
	"github.com/nndl/cnn/graph"
)

// BookRow is one number the book prints beside ours.
type BookRow struct {
	Section  string `json:"section"`
	Quantity string `json:"quantity"`
	Book     string `json:"book"`
	Ours     string `json:"ours"`
	Diff     string `json:"difference"`
	Band     string `json:"pytorch_band,omitempty"` // what the same recipe reaches in PyTorch over seeds
	Same     bool   `json:"same"`                   // exact match (counts and worked examples)
}

// The book's printed numbers (docs/reference.md sections 1, 2 and 5).
var (
	bookLeNetParams = []struct {
		layer string
		v     int64
	}{{"conv1", 156}, {"conv3", 2416}, {"conv5", 48120}, {"linear6", 10164}, {"linear7", 850}}
	bookLeNetFLOPs = []struct {
		layer string
		v     int64
	}{{"conv1", 122304}, {"pool2", 0}, {"conv3", 241600}, {"pool4", 400}, {"conv5", 48120}, {"linear6", 10080}, {"linear7", 840}}
)

const (
	bookLeNetTotalParams  = 61706
	bookLeNetTotalFLOPs   = 423344
	bookResNetTotalParams = 11185034
	bookResNetTrainable   = 11165834 // paddle.summary: BatchNorm scale and shift counted as non-trainable
	bookResNetNonTrain    = 19200
	bookResNetFLOPs       = 35529728
)

// bookRun is a training result the book prints, with the PyTorch band over seeds.
type bookRun struct {
	acc, loss, dev float64
	lo, hi         float64 // PyTorch test accuracy over seeds
}

var bookRuns = map[string]bookRun{
	"lenet":          {0.8700, 0.4423, 0.875, 0.745, 0.85},
	"resnet18-nores": {0.8100, 0.5841, 0.81, 0.82, 0.82},
	"resnet18":       {0.8800, 0.3523, 0.87, 0.85, 0.895},
}

func layerByName(s graph.Summary, name string) *graph.Layer {
	for _, l := range s.Layers {
		if l.Name == name {
			return l
		}
	}
	return nil
}

func countRow(section, q string, book, ours int64) BookRow {
	return BookRow{Section: section, Quantity: q, Book: graph.Comma(book), Ours: graph.Comma(ours), Diff: signed(ours - book), Same: ours == book}
}

func signed(d int64) string {
	if d > 0 {
		return "+" + graph.Comma(d)
	}
	return graph.Comma(d)
}

func band(b bookRun) string {
	if b.lo == b.hi {
		return fmt.Sprintf("%.3g", b.lo)
	}
	return fmt.Sprintf("%.3g-%.3g", b.lo, b.hi)
}

// where says whether v lies in the band [lo, hi].
func where(v, lo, hi float64) string {
	const tol = 1e-9 // accuracies are fractions of the 200 test images
	switch {
	case v < lo-tol:
		return "below"
	case v > hi+tol:
		return "above"
	}
	return "inside"
}

// bnTrainable counts the BatchNorm scale and shift values, which paddle.summary lists as
// non-trainable.
func bnTrainable(s graph.Summary) int {
	n := 0
	for _, l := range s.Layers {
		if l.Type == "BatchNorm2D" {
			n += l.Trainable
		}
	}
	return n
}

// bookRows lists every number the book prints beside ours.
func bookRows(res *Result) []BookRow {
	var rows []BookRow
	for _, w := range res.Worked {
		if w.Book == "" {
			continue
		}
		ours := chapter.Matrices(w.Fast)
		diff := "same"
		if !w.Matches() {
			diff = "differs"
		}
		rows = append(rows, BookRow{Section: w.Section, Quantity: w.Name + " worked example", Book: w.Book, Ours: ours, Diff: diff, Same: w.Matches()})
	}
	for _, s := range res.Shapes {
		if s.Book == "" {
			continue
		}
		diff := "same"
		if s.Book != s.Out() {
			diff = "differs"
		}
		rows = append(rows, BookRow{Section: "5.1.6", Quantity: fmt.Sprintf("output size, %dx%d input, kernel %d, padding %d, stride %d", s.Input, s.Input, s.Kernel, s.Padding, s.Stride),
			Book: s.Book, Ours: s.Out(), Diff: diff, Same: s.Book == s.Out()})
	}
	if res.LeNet != nil {
		ls := res.LeNet.Summary
		for _, b := range bookLeNetParams {
			if l := layerByName(ls, b.layer); l != nil {
				rows = append(rows, countRow("5.3.2", "LeNet-5 "+b.layer+" parameters", b.v, int64(l.Params())))
			}
		}
		rows = append(rows, countRow("5.3.2", "LeNet-5 total parameters", bookLeNetTotalParams, int64(ls.TotalParams)))
		for _, b := range bookLeNetFLOPs {
			if l := layerByName(ls, b.layer); l != nil {
				rows = append(rows, countRow("5.3.2", fmt.Sprintf("LeNet-5 %s FLOPs (%s)", b.layer, l.Type), b.v, l.PaddleFLOPs))
			}
		}
		rows = append(rows, countRow("5.3.2", "LeNet-5 total FLOPs (paddle.flops)", bookLeNetTotalFLOPs, ls.PaddleFLOPs))
	}
	if res.ResNet != nil {
		rs := res.ResNet.Summary
		bn := bnTrainable(rs)
		rows = append(rows,
			countRow("5.4.1", "ResNet18 total parameters", bookResNetTotalParams, int64(rs.TotalParams)),
			countRow("5.4.1", "ResNet18 trainable parameters (paddle.summary: BatchNorm scale and shift not counted)", bookResNetTrainable, int64(rs.TrainableParams-bn)),
			countRow("5.4.1", "ResNet18 non-trainable parameters (paddle.summary: BatchNorm scale, shift and running statistics)", bookResNetNonTrain, int64(rs.BufferParams+bn)),
			countRow("5.4.1", "ResNet18 FLOPs (paddle.flops)", bookResNetFLOPs, rs.PaddleFLOPs))
	}
	sections := map[string]string{"lenet": "5.3.4", "resnet18-nores": "5.4.3", "resnet18": "5.4.3"}
	for _, run := range res.Runs {
		b, ok := bookRuns[run.Name]
		if !ok {
			continue
		}
		note := ""
		if res.Quick {
			note = " (quick run)"
		}
		bandNote := band(b) + " (" + where(run.TestAcc, b.lo, b.hi) + ")"
		if res.Quick {
			bandNote = band(b) + " (not comparable: quick run)"
		}
		rows = append(rows,
			BookRow{Section: sections[run.Name], Quantity: run.Title + " test accuracy", Book: fmt.Sprintf("%.4f", b.acc), Ours: fmt.Sprintf("%.4f", run.TestAcc) + note,
				Diff: fmt.Sprintf("%+.4f", run.TestAcc-b.acc), Band: bandNote},
			BookRow{Section: sections[run.Name], Quantity: run.Title + " test loss", Book: fmt.Sprintf("%.4f", b.loss), Ours: fmt.Sprintf("%.4f", run.TestLoss) + note,
				Diff: fmt.Sprintf("%+.4f", run.TestLoss-b.loss)},
			BookRow{Section: sections[run.Name], Quantity: run.Title + " best dev accuracy", Book: strings.TrimRight(fmt.Sprintf("%.4f", b.dev), "0"), Ours: fmt.Sprintf("%.4f", run.BestDevAcc) + note,
				Diff: fmt.Sprintf("%+.4f", run.BestDevAcc-b.dev)})
	}
	return rows
}
