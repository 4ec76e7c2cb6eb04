package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/nndl/cnn/internal/fileio"
	"github.com/nndl/cnn/trainer"
	"github.com/nndl/cnn/viz"
)

// maxSummaryBytes bounds the summary.json files compare reads.
const maxSummaryBytes = 1 << 20

func init() {
	register("compare", "draw several training runs' curves in one figure and compare their test numbers", cmdCompare)
}

// compareRow is one run of 'cnn compare --json'.
type compareRow struct {
	Label      string  `json:"label"`
	Dir        string  `json:"dir"`
	Model      string  `json:"model"`
	LR         string  `json:"lr"`
	BestDevAcc float64 `json:"best_dev_accuracy"`
	BestStep   int     `json:"best_step"`
	TestAcc    float64 `json:"test_accuracy"`
	TestLoss   float64 `json:"test_loss"`
	TrainSecs  float64 `json:"train_seconds"`
}

func cmdCompare(args []string, stdout io.Writer) error {
	fs := newFlags("compare", "DIR DIR [DIR ...] [-o compare.png] [--names a,b,...] [--json]")
	out := fs.String("o", "compare.png", "figure to write (.png, .svg or .pdf)")
	title := fs.String("title", "", "figure title")
	names := fs.String("names", "", "comma-separated labels of the runs, in order (default: each folder's name)")
	asJSON := fs.Bool("json", false, "print the table as JSON (the figure is written all the same)")
	dirs, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) < 2 {
		return fmt.Errorf("want at least two run folders written by 'cnn train', got %d", len(dirs))
	}
	labels := runLabels(dirs)
	if *names != "" {
		given := strings.Split(*names, ",")
		if len(given) != len(dirs) {
			return fmt.Errorf("--names %q: %d labels for %d run folders", *names, len(given), len(dirs))
		}
		for i, n := range given {
			if labels[i] = strings.TrimSpace(n); labels[i] == "" {
				return fmt.Errorf("--names %q: label %d is empty", *names, i+1)
			}
		}
	}
	var loss, acc []viz.Series
	var rows []compareRow
	for i, dir := range dirs {
		h, s, err := readRun(dir)
		if err != nil {
			return err
		}
		l, a := viz.HistoryCurves(h, labels[i]+" ")
		loss, acc = append(loss, l...), append(acc, a...)
		rows = append(rows, compareRow{Label: labels[i], Dir: dir, Model: describeRun(s), LR: configValue(s, "lr"), BestDevAcc: s.BestDevAcc,
			BestStep: s.BestStep, TestAcc: s.TestAcc, TestLoss: s.TestLoss, TrainSecs: s.TrainSecs})
	}
	if *title == "" {
		*title = "comparison"
	}
	if err := viz.PlotCurves(*out, *title, loss, acc); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, true, struct {
			Runs   []compareRow `json:"runs"`
			Figure string       `json:"figure"`
		}{rows, *out})
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\tmodel\tlr\tbest dev acc\tbest step\ttest acc\ttest loss\ttrain s\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.4f\t%d\t%.4f\t%.4f\t%.1f\t\n", r.Label, r.Model, r.LR, r.BestDevAcc, r.BestStep, r.TestAcc, r.TestLoss, r.TrainSecs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}

// readRun reads a run folder's metrics.csv and summary.json.
func readRun(dir string) (*trainer.History, trainSummary, error) {
	var s trainSummary
	h, err := trainer.ReadCSV(filepath.Join(dir, "metrics.csv"))
	if err != nil {
		return nil, s, err
	}
	path := filepath.Join(dir, "summary.json")
	b, err := fileio.ReadFile(path, maxSummaryBytes)
	if err != nil {
		return nil, s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, s, fmt.Errorf("%s: %w", path, err)
	}
	return h, s, nil
}

// describeRun names a run's model with the switches that distinguish it.
func describeRun(s trainSummary) string {
	d := s.Model
	if v := configValue(s, "use_residual"); v == "False" || v == "false" {
		d += " (no residual)"
	}
	return d
}

// configValue is a setting of a run's configuration as text ("" when absent): summaries
// hold numbers and booleans as such, those of earlier versions as strings.
func configValue(s trainSummary, key string) string {
	v, ok := s.Config[key]
	if !ok {
		return ""
	}
	return fmt.Sprint(v)
}

// runLabels names each run folder in the table and the figure by its last element, or by its
// whole path when another folder has the same last element, so that no two runs share a name
// (and with it a colour).
func runLabels(dirs []string) []string {
	labels := make([]string, len(dirs))
	count := map[string]int{}
	for i, d := range dirs {
		labels[i] = filepath.Base(filepath.Clean(d))
		count[labels[i]]++
	}
	for i, d := range dirs {
		if count[labels[i]] > 1 {
			labels[i] = filepath.Clean(d)
		}
	}
	return labels
}
