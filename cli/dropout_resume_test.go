package cli

import (
	"bytes"
	"path/filepath"
	"testing"

	"gorgonia.org/gorgonia"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/tensorio/safetensors"
	"github.com/nndl/cnn/trainer"
)

// registerDropNet registers dropnet, a small CNN with a Dropout layer of p 0.5 before its
// head, for the duration of the test.
func registerDropNet(t *testing.T) {
	t.Helper()
	Register("dropnet", Model{Doc: "a convolution, pooling, dropout 0.5, a linear head", Build: func(cfg Config) (graph.Model, error) {
		return graph.Model{Input: cfg.Input, Classes: cfg.Classes, Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			x = n.ReLU(n.Conv2D("conv", x, graph.Conv{Out: 8, Kernel: 3, Padding: 1}))
			x = n.Flatten("flatten", n.MaxPool2D("pool", x, graph.Pool{Kernel: 4}))
			return n.Linear("fc", n.Dropout("drop", x, 0.5), cfg.Classes)
		}}, nil
	}})
	t.Cleanup(func() {
		delete(registered, "dropnet")
		delete(modelDefaults, "dropnet")
	})
}

// metadataValue reads one value of a safetensors file's metadata.
func metadataValue(t *testing.T, path, key string) string {
	t.Helper()
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return f.Metadata[key]
}

// TestTrainResumeDropout: a model with dropout trained for 2 epochs in one go, and for 1
// epoch then "cnn train --resume DIR --epochs 2", draws the same masks: the same losses and
// evaluations (metrics.csv), the same final and best weights, bit for bit; a checkpoint
// whose dropout run counts are malformed is refused with one line naming the file and the
// key, and the folder is left as it was.
func TestTrainResumeDropout(t *testing.T) {
	registerDropNet(t)
	root := t.TempDir()
	first, whole := filepath.Join(root, "first"), filepath.Join(root, "whole")
	flags := []string{"--eval-steps", "5", "--lr", "0.01"}
	if stdout, stderr, st := cnn(append([]string{"train", "dropnet", "--epochs", "1", "--out", first}, flags...)...); st != 0 {
		t.Fatalf("first run: status %d: %s\n%s", st, stderr, stdout)
	}
	ckpt := filepath.Join(first, checkpointName)
	if runs := metadataValue(t, ckpt, trainer.DropoutRunsKey); runs != `{"drop":16}` {
		t.Errorf("the 1-epoch run's checkpoint records %s %q, want drop's 16 runs", trainer.DropoutRunsKey, runs)
	}
	if stdout, stderr, st := cnn("train", "--resume", first, "--epochs", "2"); st != 0 {
		t.Fatalf("resume --epochs 2: status %d: %s\n%s", st, stderr, stdout)
	}
	if stdout, stderr, st := cnn(append([]string{"train", "dropnet", "--epochs", "2", "--out", whole}, flags...)...); st != 0 {
		t.Fatalf("2-epoch run: status %d: %s\n%s", st, stderr, stdout)
	}
	if a, b := mustRead(t, filepath.Join(first, "metrics.csv")), mustRead(t, filepath.Join(whole, "metrics.csv")); !bytes.Equal(a, b) {
		t.Errorf("the resumed run's metrics differ from the 2-epoch run's:\n%s\n%s", a, b)
	}
	for _, name := range []string{checkpointName, "best.safetensors"} {
		if !bytes.Equal(mustRead(t, filepath.Join(first, name)), mustRead(t, filepath.Join(whole, name))) {
			t.Errorf("the resumed run's %s differs from the 2-epoch run's", name)
		}
	}

	f, err := safetensors.ReadFile(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	f.Metadata[trainer.DropoutRunsKey] = `{"drop":-3}`
	f.Metadata[trainer.DigestKey] = trainer.Digest(f) // written so, not damaged afterwards
	if err := safetensors.WriteFile(ckpt, f); err != nil {
		t.Fatal(err)
	}
	before := sums(t, first)
	args := []string{"train", "--resume", first, "--epochs", "3"}
	stdout, stderr, st := cnn(args...)
	oneLineError(t, args, stdout, stderr, st, ckpt+": metadata "+trainer.DropoutRunsKey+": ", `"-3", want a whole number`)
	sameSums(t, "a refused resumption", first, before)
}
