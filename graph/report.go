package graph

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"gorgonia.org/tensor"
)

// Summary is the accounting of a declared network: its layers and their totals. It is the one
// source of every report (the summary and FLOPs tables, JSON, DOT labels).
type Summary struct {
	Layers          []*Layer
	TotalParams     int   // trainable parameters plus buffers
	TrainableParams int   // weights, biases, BatchNorm scale and shift
	BufferParams    int   // BatchNorm running statistics
	MACs            int64 // multiply-accumulates
	PaddleFLOPs     int64 // paddle.flops' convention
	FLOPs           int64 // 2 per multiply-accumulate plus element-wise work
	ParamBytes      int64 // memory of the parameters and buffers
	ActivationBytes int64 // memory of every layer output for one forward pass
	Dtype           tensor.Dtype
}

// Summarize totals the layers' accounting; dt sizes the memory estimate.
func Summarize(layers []*Layer, dt tensor.Dtype) Summary {
	s := Summary{Layers: layers, Dtype: dt}
	size := int64(dt.Size())
	for _, l := range layers {
		s.TrainableParams += l.Trainable
		s.BufferParams += l.Buffers
		s.MACs += l.MACs
		s.PaddleFLOPs += l.PaddleFLOPs
		s.FLOPs += l.FLOPs
		s.ActivationBytes += int64(l.OutShape.TotalSize()) * size
	}
	s.TotalParams = s.TrainableParams + s.BufferParams
	s.ParamBytes = int64(s.TotalParams) * size
	return s
}

// Count returns the total operation count in the given unit.
func (s Summary) Count(u FLOPUnit) int64 {
	switch u {
	case UnitMACs:
		return s.MACs
	case UnitFLOPs:
		return s.FLOPs
	}
	return s.PaddleFLOPs
}

// ParseUnit reads a FLOPs unit name: paddle, macs or flops.
func ParseUnit(s string) (FLOPUnit, error) {
	switch u := FLOPUnit(strings.ToLower(s)); u {
	case UnitPaddle, UnitMACs, UnitFLOPs:
		return u, nil
	}
	return "", fmt.Errorf("unknown FLOPs unit %q: want paddle, macs or flops", s)
}

// UnitDescription explains a unit in one line, for report headers.
func UnitDescription(u FLOPUnit) string {
	switch u {
	case UnitMACs:
		return "MACs: multiply-accumulates of convolutions and linear layers (as torchinfo, ptflops, thop)"
	case UnitFLOPs:
		return "FLOPs: 2 per multiply-accumulate plus bias, activation, pooling, normalisation and add work"
	}
	return "paddle.flops: one multiply-add is one FLOP, conv bias +1 per output, avg pool 1 per output, BN 2 per input"
}

// Comma formats an integer with thousands separators.
func Comma(v int64) string {
	s := fmt.Sprint(v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func shapeString(s tensor.Shape) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// WriteTable prints the summary: one row per layer with its input and output shape,
// parameters, FLOPs in unit u and receptive field, then the totals and a memory estimate.
func (s Summary) WriteTable(w io.Writer, u FLOPUnit) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "Layer (type)\tInput shape\tOutput shape\tParams\tFLOPs (%s)\tRF\t\n", u)
	for _, l := range s.Layers {
		fmt.Fprintf(tw, "%s (%s)\t%s\t%s\t%s\t%s\t%s\t\n", l.Name, l.Type, shapeString(l.InShape), shapeString(l.OutShape), Comma(int64(l.Params())), Comma(l.Count(u)), l.RFString())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, `Total params: %s
Trainable params: %s
Non-trainable params: %s (BatchNorm running statistics)
Total FLOPs: %s (%s)
Params size: %.2f MiB; forward activations: %.2f MiB (%v)
`, Comma(int64(s.TotalParams)), Comma(int64(s.TrainableParams)), Comma(int64(s.BufferParams)),
		Comma(s.Count(u)), UnitDescription(u), mib(s.ParamBytes), mib(s.ActivationBytes), s.Dtype)
	return err
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// WriteFLOPs prints the per-layer operation counts in unit u, naming the unit in the header.
// Layers that count zero in every unit (ReLU and flatten under paddle's rules) are listed too.
func (s Summary) WriteFLOPs(w io.Writer, u FLOPUnit) error {
	if _, err := fmt.Fprintf(w, "Unit: %s\n", UnitDescription(u)); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "Layer (type)\tOutput shape\tParams\t%s\t\n", u)
	for _, l := range s.Layers {
		fmt.Fprintf(tw, "%s (%s)\t%s\t%s\t%s\t\n", l.Name, l.Type, shapeString(l.OutShape), Comma(int64(l.Params())), Comma(l.Count(u)))
	}
	fmt.Fprintf(tw, "Total\t\t%s\t%s\t\n", Comma(int64(s.TotalParams)), Comma(s.Count(u)))
	return tw.Flush()
}

// jsonLayer and jsonSummary are the JSON form of a summary.
type jsonLayer struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Block       string `json:"block,omitempty"`
	InputShape  []int  `json:"input_shape"`
	OutputShape []int  `json:"output_shape"`
	Params      int    `json:"params"`
	Trainable   int    `json:"trainable_params"`
	FLOPs       int64  `json:"flops"`
	MACs        int64  `json:"macs"`
	RF          int    `json:"receptive_field"`
	RFW         int    `json:"receptive_field_w,omitempty"` // along the width, where it differs
}

type jsonSummary struct {
	Layers          []jsonLayer `json:"layers"`
	TotalParams     int         `json:"total_params"`
	TrainableParams int         `json:"trainable_params"`
	BufferParams    int         `json:"non_trainable_params"`
	FLOPs           int64       `json:"flops"`
	Unit            FLOPUnit    `json:"flops_unit"`
	MACs            int64       `json:"macs"`
	ParamBytes      int64       `json:"param_bytes"`
	ActivationBytes int64       `json:"activation_bytes"`
	Dtype           string      `json:"dtype"`
}

// JSON returns the summary as indented JSON with FLOPs in unit u.
func (s Summary) JSON(u FLOPUnit) ([]byte, error) {
	js := jsonSummary{
		TotalParams: s.TotalParams, TrainableParams: s.TrainableParams, BufferParams: s.BufferParams,
		FLOPs: s.Count(u), Unit: u, MACs: s.MACs, ParamBytes: s.ParamBytes, ActivationBytes: s.ActivationBytes,
		Dtype: s.Dtype.String(), Layers: []jsonLayer{},
	}
	for _, l := range s.Layers {
		js.Layers = append(js.Layers, jsonLayer{
			Name: l.Name, Type: l.Type, Block: l.Block, InputShape: []int(l.InShape), OutputShape: []int(l.OutShape),
			Params: l.Params(), Trainable: l.Trainable, FLOPs: l.Count(u), MACs: l.MACs, RF: l.RF,
		})
		if l.RFW != l.RF {
			js.Layers[len(js.Layers)-1].RFW = l.RFW
		}
	}
	return json.MarshalIndent(js, "", "  ")
}
