package main

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/nndl/cnn/trainer"
)

// bestDigestKey is the checkpoint metadata key that records the digest of the best weights
// the run had saved (trainer.DigestKey of best.safetensors), so that a resumption can tell
// that the folder's best weights are its own.
const bestDigestKey = "best_sha256"

// resumeRun restores the checkpoint at path into r after checking that it was written by a
// run with the same configuration (meta) and that the best weights in the folder are the
// ones that run saved. It returns their digest.
func resumeRun(r *trainer.Runner, path, best string, meta map[string]string, total int) (string, error) {
	saved, err := trainer.CheckpointMeta(path)
	if err != nil {
		return "", err
	}
	bestDigest := saved[bestDigestKey]
	delete(saved, bestDigestKey)
	var diffs []string
	keys := slices.Sorted(maps.Keys(meta))
	for k := range saved {
		if _, ok := meta[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if saved[k] != meta[k] {
			diffs = append(diffs, fmt.Sprintf("%s %q (now %q)", k, saved[k], meta[k]))
		}
	}
	if len(diffs) > 0 {
		return "", fmt.Errorf("%s: written by a run with other settings: %s; resume with the first run's flags", path, strings.Join(diffs, ", "))
	}
	if _, err := r.LoadCheckpoint(path); err != nil {
		return "", err
	}
	if r.StepsDone > total {
		return "", fmt.Errorf("%s: %d steps done, more than the run's %d", path, r.StepsDone, total)
	}
	if err := ownBest(path, best, r.BestStep, bestDigest); err != nil {
		return "", err
	}
	return bestDigest, nil
}

// ownBest checks that the folder's best weights are the ones the checkpoint's run saved:
// none before its first best step, and after it a file with the digest the checkpoint
// recorded.
func ownBest(path, best string, bestStep int, digest string) error {
	_, statErr := os.Stat(best)
	if bestStep < 0 {
		if statErr == nil {
			return fmt.Errorf("%s: the run saved no best weights yet, but the folder holds %s: it mixes two runs; start afresh with --force", path, best)
		}
		return nil
	}
	if statErr != nil {
		return fmt.Errorf("%s: the checkpoint records the best dev accuracy at step %d, but its weights are gone: %v", path, bestStep, pathErr(statErr))
	}
	bm, err := trainer.ReadMeta(best)
	if err != nil {
		return err
	}
	if digest == "" || bm[trainer.DigestKey] != digest {
		return fmt.Errorf("%s: %s is not the best weights this run saved (its checksum is not the one the checkpoint records): the folder mixes two runs; start afresh with --force", path, best)
	}
	return nil
}
