package trainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/nndl/cnn/graph"
)

// DropoutRunsKey is the metadata key of a training checkpoint that holds the run counts of
// the model's Dropout layers (graph.Params.DropoutRuns) as a JSON object of layer names and
// whole numbers, such as {"classifier.0":30,"classifier.3":30}. A checkpoint of a model
// without Dropout layers has none; so has a checkpoint of an earlier version, whose
// resumption starts the counts at 0.
const DropoutRunsKey = "dropout_runs"

// formatDropoutRuns is the value of DropoutRunsKey for runs: the names sorted.
func formatDropoutRuns(runs map[string]uint64) string {
	js, err := json.Marshal(runs)
	if err != nil {
		panic(err) // a map of strings to integers always marshals
	}
	return string(js)
}

// parseDropoutRuns reads a value of DropoutRunsKey: one JSON object whose every member is a
// layer name, once, and a count written as a whole number from 0 to 2^64-1.
func parseDropoutRuns(s string) (map[string]uint64, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("want a JSON object of layer names and run counts")
	}
	runs := map[string]uint64{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not JSON: %v", err)
		}
		name := tok.(string) // inside an object, Token returns the keys as strings
		if _, dup := runs[name]; dup {
			return nil, fmt.Errorf("layer %s named twice", short(name))
		}
		if tok, err = dec.Token(); err != nil {
			return nil, fmt.Errorf("layer %s: not JSON: %v", short(name), err)
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, fmt.Errorf("layer %s: run count %s, want a whole number", short(name), kindOf(tok))
		}
		n, err := strconv.ParseUint(string(num), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("layer %s: run count %s, want a whole number from 0 to 2^64-1", short(name), short(string(num)))
		}
		runs[name] = n
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more after the JSON object")
	}
	return runs, nil
}

// short quotes s, cut to 40 bytes, for an error message.
func short(s string) string {
	if len(s) > 40 {
		return strconv.Quote(s[:40]) + "..."
	}
	return strconv.Quote(s)
}

// kindOf names the kind of a JSON token that is not a number.
func kindOf(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		return map[json.Delim]string{'{': "an object", '[': "an array"}[v]
	case string:
		return "the string " + short(v)
	case bool:
		return "a boolean"
	default:
		return "null"
	}
}

// dropoutRunsFrom returns the run counts a checkpoint's metadata gives the Dropout layers
// of params: those of DropoutRunsKey, which must name every layer and no other, or 0 for
// every layer when the key is absent.
func dropoutRunsFrom(meta map[string]string, params *graph.Params) (map[string]uint64, error) {
	layers := params.DropoutRuns()
	v, ok := meta[DropoutRunsKey]
	if !ok {
		for name := range layers {
			layers[name] = 0
		}
		return layers, nil
	}
	runs, err := parseDropoutRuns(v)
	if err != nil {
		return nil, err
	}
	var unknown, missing []string
	for name := range runs {
		if _, ok := layers[name]; !ok {
			unknown = append(unknown, short(name))
		}
	}
	for name := range layers {
		if _, ok := runs[name]; !ok {
			missing = append(missing, short(name))
		}
	}
	slices.Sort(unknown)
	slices.Sort(missing)
	switch {
	case len(unknown) > 0:
		return nil, fmt.Errorf("names %s, no Dropout layer of the model", strings.Join(unknown, ", "))
	case len(missing) > 0:
		return nil, fmt.Errorf("has no run count for the model's Dropout layer %s", strings.Join(missing, ", "))
	}
	return runs, nil
}
