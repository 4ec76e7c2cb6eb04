package tensorio

import (
	"bytes"
	"math"
	"slices"
	"testing"
)

func TestCount(t *testing.T) {
	for _, tt := range []struct {
		shape []int
		size  int
		n     int
		ok    bool
	}{
		{nil, 1, 1, true},
		{[]int{2, 3}, 8, 6, true},
		{[]int{0, 5}, 4, 0, true},
		{[]int{-1}, 1, 0, false},
		{[]int{math.MaxInt, 2}, 1, 0, false},
		{[]int{math.MaxInt, 2, 0}, 1, 0, false},
		{[]int{math.MaxInt / 4}, 8, 0, false},
		{[]int{math.MaxInt / 8}, 8, math.MaxInt / 8, true},
	} {
		if n, ok := Count(tt.shape, tt.size); n != tt.n || ok != tt.ok {
			t.Errorf("Count(%v, %d) = %d, %v, want %d, %v", tt.shape, tt.size, n, ok, tt.n, tt.ok)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	big := make([]float64, 20000) // more than one chunk each way
	for i := range big {
		big[i] = float64(i) - 0.5
	}
	for _, d := range []Tensor{
		{DType: F32, F32: []float32{1.5, -2, float32(math.Inf(1))}},
		{DType: F64, F64: big},
		{DType: I64, I64: []int64{math.MinInt64, 0, math.MaxInt64}},
		{DType: I32, I32: []int32{math.MinInt32, 7}},
		{DType: U8, U8: []uint8{0, 255}},
		{DType: U8, U8: []uint8{}},
	} {
		var buf bytes.Buffer
		if err := Write(&buf, d, make([]byte, 0, 1<<10)); err != nil {
			t.Fatal(err)
		}
		if got, want := buf.Len(), d.DataLen()*Size(d.DType); got != want {
			t.Fatalf("%s: wrote %d bytes, want %d", d.DType, got, want)
		}
		dec := Decode(d.DType, nil, buf.Bytes())
		rd, err := ReadAt(bytes.NewReader(buf.Bytes()), 0, d.DType, d.DataLen())
		if err != nil {
			t.Fatal(err)
		}
		for _, got := range []Tensor{dec, rd} {
			if got.DataLen() != d.DataLen() || !slices.Equal(got.Float64(), d.Float64()) {
				t.Errorf("%s: got %v, want %v", d.DType, got.Float64(), d.Float64())
			}
		}
	}
}

func TestConvert(t *testing.T) {
	d := Tensor{DType: I32, I32: []int32{-3, 4}}
	if got := d.Float32(); !slices.Equal(got, []float32{-3, 4}) {
		t.Errorf("Float32 = %v", got)
	}
	f := NewFloat32([]int{1}, []float32{1})
	if &f.Float32()[0] != &f.F32[0] {
		t.Error("Float32 of F32 data is a copy")
	}
	if (Tensor{}).Float32() != nil || (Tensor{}).Float64() != nil || (Tensor{}).DataLen() != -1 {
		t.Error("a tensor of no dtype is not empty")
	}
}
