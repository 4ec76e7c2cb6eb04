package trainer

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadCSV checks that no metrics file makes ReadCSV panic, that its errors are one line
// naming the file (a quoted field may hold a newline: the row is printed with %q), and that
// an accepted history written back with WriteCSV reads back the same.
func FuzzReadCSV(f *testing.F) {
	h := &History{
		Train: []StepLoss{{0, 0, 2.3}, {1, 0, 2.1}, {2, 1, math.Inf(1)}},
		Dev:   []Eval{{Step: 1, Epoch: 0, Loss: 2.0, Acc: 0.25}, {Step: 2, Epoch: 1, Loss: math.NaN(), Acc: 1}},
	}
	var b bytes.Buffer
	if err := h.WriteCSV(&b); err != nil {
		f.Fatal(err)
	}
	const head = "split,step,epoch,loss,accuracy\n"
	for _, s := range []string{b.String(), head, "", "split,step\n", head + "train,1,0,0.5\n", head + "dev,1,0,0.5,\n",
		head + "test,1,0,1,1\n", head + "\"train\",\"1\",\"0\",\"1e308\",\"\"\n", head + "train,9223372036854775808,0,1,\n",
		head + "dev,1,0,1,\"0.5\n\"\n", head + "train,1,0,1,\r\n", "\xef\xbb\xbf" + head, head + "\"unterminated\n"} {
		f.Add([]byte(s))
	}
	path := filepath.Join(f.TempDir(), "metrics.csv")
	f.Fuzz(func(t *testing.T, in []byte) {
		if err := os.WriteFile(path, in, 0o644); err != nil {
			t.Fatal(err)
		}
		h, err := ReadCSV(path)
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, path+": ") || strings.Contains(msg, "\n") {
				t.Fatalf("error %q does not name the file on one line", msg)
			}
			return
		}
		var out bytes.Buffer
		if err := h.WriteCSV(&out); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		back, err := ReadCSV(path)
		if err != nil {
			t.Fatalf("cannot read what WriteCSV wrote: %v\n%s", err, out.Bytes())
		}
		if !sameHistory(h, back) {
			t.Fatalf("round trip changed %+v into %+v", h, back)
		}
	})
}

// sameHistory compares two histories, floats bit for bit.
func sameHistory(a, b *History) bool {
	if len(a.Train) != len(b.Train) || len(a.Dev) != len(b.Dev) {
		return false
	}
	same := func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) }
	for i, s := range a.Train {
		r := b.Train[i]
		if s.Step != r.Step || s.Epoch != r.Epoch || !same(s.Loss, r.Loss) {
			return false
		}
	}
	for i, e := range a.Dev {
		r := b.Dev[i]
		if e.Step != r.Step || e.Epoch != r.Epoch || !same(e.Loss, r.Loss) || !same(e.Acc, r.Acc) {
			return false
		}
	}
	return true
}
