package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
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

func cmdCompare(args []string, stdout io.Writer) error {
	fs := newFlags("compare", "DIR DIR [DIR ...] [-o compare.png] [--names a,b]")
	out := fs.String("o", "compare.png", "figure to write (.png, .svg or .pdf)")
	title := fs.String("title", "", "figure title")
	dirs, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) < 2 {
		return fmt.Errorf("want at least two run folders written by 'cnn train', got %d", len(dirs))
	}
	var loss, acc []viz.Series
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\tmodel\tlr\tbest dev acc\tbest step\ttest acc\ttest loss\ttrain s\t")
	for _, dir := range dirs {
		h, err := trainer.ReadCSV(filepath.Join(dir, "metrics.csv"))
		if err != nil {
			return err
		}
		var s trainSummary
		path := filepath.Join(dir, "summary.json")
		b, err := fileio.ReadFile(path, maxSummaryBytes)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		label := filepath.Base(filepath.Clean(dir))
		l, a := viz.HistoryCurves(h, label+" ")
		loss, acc = append(loss, l...), append(acc, a...)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.4f\t%d\t%.4f\t%.4f\t%.1f\t\n", label, describeRun(s), configValue(s, "lr"), s.BestDevAcc, s.BestStep, s.TestAcc, s.TestLoss, s.TrainSecs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if *title == "" {
		*title = "comparison"
	}
	if err := viz.PlotCurves(*out, *title, loss, acc); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
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
