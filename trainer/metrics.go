package trainer

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/nndl/cnn/internal/atomicfile"
	"github.com/nndl/cnn/internal/fileio"
)

// Accuracy counts correct predictions: the class with the largest logit against the label.
type Accuracy struct {
	Correct, Total int
}

// Add scores a batch of logits [n, classes] (row-major) against n labels.
func (a *Accuracy) Add(logits []float64, labels []int) {
	if len(labels) == 0 {
		return
	}
	k := len(logits) / len(labels)
	for i, y := range labels {
		if Argmax(logits[i*k:(i+1)*k]) == y {
			a.Correct++
		}
		a.Total++
	}
}

// Value returns the fraction correct, 0 when nothing was scored.
func (a *Accuracy) Value() float64 {
	if a.Total == 0 {
		return 0
	}
	return float64(a.Correct) / float64(a.Total)
}

// Argmax returns the index of the largest value (the first of equal ones).
func Argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// StepLoss is the training loss of one step.
type StepLoss struct {
	Step, Epoch int
	Loss        float64
}

// Eval is one evaluation on the dev set.
type Eval struct {
	Step, Epoch int
	Loss, Acc   float64
}

// History records a training run: the loss of every step and every dev evaluation.
type History struct {
	Train []StepLoss
	Dev   []Eval
}

// WriteCSV writes the history as CSV: split,step,epoch,loss,accuracy, one row per training
// step ("train", accuracy empty) and per evaluation ("dev").
func (h *History) WriteCSV(w io.Writer) error {
	var b bytes.Buffer
	b.WriteString("split,step,epoch,loss,accuracy\n")
	for _, s := range h.Train {
		fmt.Fprintf(&b, "train,%d,%d,%s,\n", s.Step, s.Epoch, strconv.FormatFloat(s.Loss, 'g', -1, 64))
	}
	for _, e := range h.Dev {
		fmt.Fprintf(&b, "dev,%d,%d,%s,%s\n", e.Step, e.Epoch, strconv.FormatFloat(e.Loss, 'g', -1, 64), strconv.FormatFloat(e.Acc, 'g', -1, 64))
	}
	_, err := w.Write(b.Bytes())
	return err
}

// SaveCSV writes the history to path atomically.
func (h *History) SaveCSV(path string) error {
	return atomicfile.Write(path, h.WriteCSV)
}

// MaxCSVBytes bounds the metrics files ReadCSV reads: 64 MiB is over two million steps.
const MaxCSVBytes = 64 << 20

// ReadCSV reads a history written by WriteCSV, from a regular file of at most MaxCSVBytes.
func ReadCSV(path string) (*History, error) {
	f, err := fileio.OpenLimited(path, MaxCSVBytes)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != "split,step,epoch,loss,accuracy" {
		return nil, fmt.Errorf("%s: not a metrics file (want the header split,step,epoch,loss,accuracy)", path)
	}
	h := &History{}
	for i, r := range rows[1:] {
		bad := func(what string) error {
			return fmt.Errorf("%s: line %d: bad %s %q", path, i+2, what, strings.Join(r, ","))
		}
		if len(r) != 5 {
			return nil, bad("row")
		}
		step, err1 := strconv.Atoi(r[1])
		epoch, err2 := strconv.Atoi(r[2])
		loss, err3 := strconv.ParseFloat(r[3], 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, bad("number in row")
		}
		switch r[0] {
		case "train":
			h.Train = append(h.Train, StepLoss{Step: step, Epoch: epoch, Loss: loss})
		case "dev":
			acc, err := strconv.ParseFloat(r[4], 64)
			if err != nil {
				return nil, bad("accuracy in row")
			}
			h.Dev = append(h.Dev, Eval{Step: step, Epoch: epoch, Loss: loss, Acc: acc})
		default:
			return nil, bad("split in row")
		}
	}
	return h, nil
}

// Softmax returns the class probabilities of one row of logits, computed stably.
func Softmax(logits []float64) []float64 {
	m := logits[0]
	for _, v := range logits {
		m = math.Max(m, v)
	}
	p := make([]float64, len(logits))
	var sum float64
	for i, v := range logits {
		p[i] = math.Exp(v - m)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}
