package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nndl/cnn/bench"
	"github.com/nndl/cnn/kernels"
)

func init() {
	register("bench", "time training steps and inference; the chapter's hand-written vs fast operators", cmdBench)
}

func cmdBench(args []string, stdout io.Writer) error {
	fs := newFlags("bench", "[MODEL ...] [--batch 64] [--json]")
	mf := addModelFlags(fs, true)
	batch := fs.Int("batch", 64, "batch size of the training step and of batched inference")
	minTime := fs.Duration("min-time", 2*time.Second, "measure each number for at least this long")
	minRuns := fs.Int("min-runs", 10, "and at least this many runs")
	asJSON := fs.Bool("json", false, "print JSON")
	ops := fs.Bool("ops", false, "instead, print where a training step spends its time, per kind of operation")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		pos = []string{"lenet", "lenet-naive"}
		if _, ok := models["resnet18"]; ok {
			pos = append(pos, "resnet18")
		}
	}
	if *batch < 1 {
		return fmt.Errorf("--batch %d: want at least 1", *batch)
	}
	if *ops {
		return benchOps(pos, mf, bench.Options{Batch: *batch, Warmup: 3, MinRuns: *minRuns, MinTime: *minTime}, stdout)
	}
	var results []bench.Result
	for _, name := range pos {
		m, impl, err := mf.model(name)
		if err != nil {
			return err
		}
		o := bench.Options{Batch: *batch, Warmup: 3, MinRuns: *minRuns, MinTime: *minTime}
		if impl.String() == "naive" {
			// The chapter's speed test: 10 warm-up runs, then 50 timed forward passes.
			o = bench.Options{Batch: *batch, Warmup: 10, MinRuns: 50, MinTime: 0, SkipTrain: true}
		}
		r, err := bench.Run(bench.Case{Name: name, Model: m, Impl: impl}, o)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		results = append(results, r)
		if !*asJSON {
			fmt.Fprintf(stdout, "measured %s\n", name)
		}
	}
	if *asJSON {
		b, err := json.MarshalIndent(results, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	fmt.Fprintf(stdout, "BLAS: %s, %d threads, batch %d, medians\n", results[0].BLAS, results[0].Threads, *batch)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tkernels\ttrain step ms\ttrain img/s\ttrain GFLOP/s\tB/step\tallocs/step\tinfer b1 ms\tinfer b64 ms\tinfer img/s\tcompile ms\tpeak RSS MiB\t")
	for _, r := range results {
		train := []any{"-", "-", "-", "-", "-"}
		if r.TrainMs > 0 {
			train = []any{fmt.Sprintf("%.2f", r.TrainMs), fmt.Sprintf("%.0f", r.TrainImgS), fmt.Sprintf("%.1f", r.TrainGFLOPs), r.TrainBytes, r.TrainAllocs}
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%v\t%v\t%v\t%v\t%.3f\t%.3f\t%.0f\t%.1f\t%.0f\t\n", r.Name, r.Impl, train[0], train[1], train[2], train[3], train[4],
			r.Infer1Ms, r.InferBatchMs, r.InferImgS, r.CompileMs, r.PeakRSSMiB)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "kernels that ran: %s; SIMD instruction sets up to %s (CNN_MAX_CPU_ISA caps them)\n", strings.Join(kernels.Used(), ", "), kernels.MaxISA())
	var fast, naive *bench.Result
	for i := range results {
		if results[i].Name == "lenet" {
			fast = &results[i]
		}
		if results[i].Name == "lenet-naive" {
			naive = &results[i]
		}
	}
	if fast != nil && naive != nil {
		fmt.Fprintf(stdout, "\nThe chapter's speed test (5.3.2), LeNet-5 forward on one 1x32x32 image: hand-written operators %.3f ms, fast operators %.3f ms: %.1fx faster\n",
			naive.Infer1Ms, fast.Infer1Ms, naive.Infer1Ms/fast.Infer1Ms)
	}
	return nil
}

// benchOps prints the per-operation profile of each model's training step.
func benchOps(names []string, mf *modelFlags, o bench.Options, stdout io.Writer) error {
	for _, name := range names {
		m, impl, err := mf.model(name)
		if err != nil {
			return err
		}
		ops, err := bench.Profile(bench.Case{Name: name, Model: m, Impl: impl}, o)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		var total time.Duration
		for _, o := range ops {
			total += o.Time
		}
		fmt.Fprintf(stdout, "%s training step, batch %d: %.2f ms in operations; kernels that ran: %s (SIMD up to %s)\n", name, o.Batch, total.Seconds()*1e3, strings.Join(kernels.Used(), ", "), kernels.MaxISA())
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "operation\tcalls\tms/step\tshare\t")
		for _, o := range ops {
			fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.1f%%\t\n", o.Op, o.Calls, o.Time.Seconds()*1e3, 100*o.Time.Seconds()/total.Seconds())
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}
