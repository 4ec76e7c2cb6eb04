package cli

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/nndl/cnn/reproduce"
)

func init() {
	register("reproduce", "run every experiment of the chapter in order and write a report (index.html, README.md, figures)", cmdReproduce)
}

func cmdReproduce(args []string, stdout io.Writer) error {
	fs := newFlags("reproduce", "[-o DIR] [--quick]")
	out := fs.String("o", "report", "output folder: index.html, README.md, report.json, figures, runs/*/metrics.csv")
	quick := fs.Bool("quick", false, "a short run (1 epoch of LeNet-5, ResNet18 at width 8 on 256 images, fewer timing runs): checks the whole pipeline in seconds; its accuracies are not the chapter's")
	seed := fs.Uint64("seed", 100, "seed of every training run's initial weights and shuffling (the chapter's paddle.seed(100))")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q (the output folder is -o DIR)", pos[0])
	}
	res, err := reproduce.Generate(reproduce.Options{Dir: *out, Quick: *quick, Seed: *seed, Log: stdout})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote %s and %s in %.1fs; open the first in a browser\n", filepath.Join(*out, "index.html"), filepath.Join(*out, "README.md"), res.WallSecs)
	return nil
}
