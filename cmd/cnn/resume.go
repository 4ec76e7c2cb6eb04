package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/nndl/cnn/trainer"
)

// resumeRun restores the checkpoint of the recipe's folder into its runner after checking
// that it was written by a run with the same configuration (the recipe's Meta).
func resumeRun(rc *trainer.Recipe) error {
	path := rc.CheckpointPath()
	saved, err := trainer.CheckpointMeta(path)
	if err != nil {
		return err
	}
	delete(saved, trainer.BestDigestKey)
	var diffs []string
	keys := slices.Sorted(maps.Keys(rc.Meta))
	for k := range saved {
		if _, ok := rc.Meta[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if saved[k] != rc.Meta[k] {
			diffs = append(diffs, fmt.Sprintf("%s %q (now %q)", k, saved[k], rc.Meta[k]))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%s: written by a run with other settings: %s; resume with the first run's flags", path, strings.Join(diffs, ", "))
	}
	return rc.Restore()
}
